package dev.specula.langchain4j;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.specula.TextListener;

import java.util.List;

/**
 * LangChain4j's {@link ChatModel} on Specula: the conversation is rendered with the model's chat template and
 * decoded speculatively (same output as plain decoding, fewer target calls). Each response's metadata is a
 * {@link SpeculaChatResponseMetadata} carrying the speculation metrics.
 *
 * <pre>{@code
 * try (SpeculaChatModel model = SpeculaChatModel.builder()
 *         .target(Path.of("models/qwen2.5-1.5b-instruct"))
 *         .draftModel(Path.of("models/qwen2.5-0.5b-instruct"))
 *         .maxOutputTokens(256)
 *         .build()) {
 *     Assistant assistant = AiServices.create(Assistant.class, model);
 *     System.out.println(assistant.chat("Write a haiku about the sea"));
 * }
 * }</pre>
 *
 * <p>Ownership: built with {@link Builder#specula(dev.specula.Specula)}, the model borrows that instance and the
 * caller closes it; built with {@link Builder#target(java.nio.file.Path)}, the model loads and owns it, and
 * {@link #close()} closes it. {@code close()} is idempotent; a request after it throws
 * {@link IllegalStateException}.
 *
 * <p>Supported: system, user and AI text messages; temperature, topP, topK, maxOutputTokens, stopSequences, and
 * through {@link SpeculaChatRequestParameters} the seed and plain decoding. Tools, non-text content, penalties and
 * JSON response formats are rejected with {@link dev.langchain4j.exception.UnsupportedFeatureException}, never
 * ignored. Thread-safe: concurrent requests share the loaded models. A request runs on the calling thread;
 * interrupting it ends the reply with finish reason {@code OTHER}.
 */
public final class SpeculaChatModel implements ChatModel, AutoCloseable {
    private final SpeculaChatEngine engine;

    private SpeculaChatModel(Builder builder) {
        this.engine = builder.engine(SpeculaChatModel.class.getSimpleName());
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        return engine.chat(request, TextListener.NONE, () -> false);
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return engine.defaults();
    }

    @Override
    public List<ChatModelListener> listeners() {
        return engine.listeners();
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    /** The name responses report. */
    public String modelName() {
        return engine.modelName();
    }

    /** Closes the {@link dev.specula.Specula} instance if this model loaded it; idempotent. */
    @Override
    public void close() {
        engine.close();
    }

    /** Builder of {@link SpeculaChatModel}: {@code specula} or {@code target} is required. */
    public static final class Builder extends SpeculaModelBuilder<Builder> {
        private Builder() {
        }

        /** Loads the models if directories were given. */
        public SpeculaChatModel build() {
            return new SpeculaChatModel(this);
        }
    }
}
