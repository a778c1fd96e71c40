package dev.specula.langchain4j;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * LangChain4j's {@link StreamingChatModel} on Specula: text reaches {@code onPartialResponse} as drafts are
 * accepted (often several tokens at once), then {@code onCompleteResponse} gets the whole reply, whose metadata is
 * a {@link SpeculaChatResponseMetadata} with the speculation metrics. The partial responses joined equal the
 * final text.
 *
 * <pre>{@code
 * try (SpeculaStreamingChatModel model = SpeculaStreamingChatModel.builder()
 *         .target(Path.of("models/target")).draftModel(Path.of("models/draft")).build()) {
 *     model.chat("Tell me a story", new StreamingChatResponseHandler() {
 *         public void onPartialResponse(String text) { System.out.print(text); }
 *         public void onCompleteResponse(ChatResponse response) { System.out.println(response.metadata()); }
 *         public void onError(Throwable error) { error.printStackTrace(); }
 *     });
 * }
 * }</pre>
 *
 * <p>The generation runs on the calling thread: {@code chat} returns after {@code onCompleteResponse} or
 * {@code onError}. Any failure, an invalid request included, goes to {@code onError}. The
 * {@link StreamingHandle} of {@code onPartialResponse(PartialResponse, PartialResponseContext)} cancels the
 * generation; after {@code cancel()} the handler gets no further call.
 *
 * <p>Ownership and supported parameters as {@link SpeculaChatModel}.
 */
public final class SpeculaStreamingChatModel implements StreamingChatModel, AutoCloseable {
    private final SpeculaChatEngine engine;

    private SpeculaStreamingChatModel(Builder builder) {
        this.engine = builder.engine(SpeculaStreamingChatModel.class.getSimpleName());
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        Handle handle = new Handle();
        PartialResponseContext context = new PartialResponseContext(handle);
        ChatResponse response;
        try {
            response = engine.chat(request, (text, fromDraft) -> {
                if (!handle.isCancelled()) {
                    handler.onPartialResponse(new PartialResponse(text), context);
                }
            }, handle::isCancelled);
        } catch (RuntimeException e) {
            if (!handle.isCancelled()) {
                handler.onError(e);
            }
            return;
        }
        if (!handle.isCancelled()) {
            handler.onCompleteResponse(response);
        }
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

    /** Cancels one generation: Specula polls it every decoding step. */
    private static final class Handle implements StreamingHandle {
        private final AtomicBoolean cancelled = new AtomicBoolean();

        @Override
        public void cancel() {
            cancelled.set(true);
        }

        @Override
        public boolean isCancelled() {
            return cancelled.get();
        }
    }

    /** Builder of {@link SpeculaStreamingChatModel}: {@code specula} or {@code target} is required. */
    public static final class Builder extends SpeculaModelBuilder<Builder> {
        private Builder() {
        }

        /** Loads the models if directories were given. */
        public SpeculaStreamingChatModel build() {
            return new SpeculaStreamingChatModel(this);
        }
    }
}
