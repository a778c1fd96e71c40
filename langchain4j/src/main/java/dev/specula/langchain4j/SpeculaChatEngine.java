package dev.specula.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.ModelNotFoundException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import dev.specula.Completion;
import dev.specula.GenerationRequest;
import dev.specula.Specula;
import dev.specula.TextListener;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.onnx.text.ChatMessage;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * What {@link SpeculaChatModel} and {@link SpeculaStreamingChatModel} share: the {@link Specula} instance (owned or
 * borrowed), the default parameters, and the mapping between LangChain4j's chat types and Specula's.
 */
final class SpeculaChatEngine implements AutoCloseable {
    private final Specula specula;
    private final boolean owned;
    private final String modelName;
    private final SpeculaChatRequestParameters defaults;
    private final List<ChatModelListener> listeners;
    private final String ownerName;
    private final AtomicBoolean closed = new AtomicBoolean();

    SpeculaChatEngine(Specula specula, boolean owned, String modelName, SpeculaChatRequestParameters defaults,
                      List<ChatModelListener> listeners, String ownerName) {
        this.specula = Objects.requireNonNull(specula, "specula");
        this.owned = owned;
        this.modelName = Objects.requireNonNull(modelName, "modelName");
        this.defaults = Objects.requireNonNull(defaults, "defaults");
        this.listeners = List.copyOf(listeners);
        this.ownerName = ownerName;
        generationRequest(List.of(ChatMessage.user("")), defaults, modelName, specula.contextLength())
                .build(); // fails now, not at the first request, on defaults that no request could use
    }

    SpeculaChatRequestParameters defaults() {
        return defaults;
    }

    List<ChatModelListener> listeners() {
        return listeners;
    }

    String modelName() {
        return modelName;
    }

    Specula specula() {
        return specula;
    }

    /**
     * Runs {@code request} (its parameters over the model's defaults) to the end, streaming text to
     * {@code listener}.
     *
     * @throws UnsupportedFeatureException for tools, non-text content, penalties or a JSON response format
     * @throws InvalidRequestException     for a value out of range or a prompt that does not fit the context
     * @throws ModelNotFoundException      for a model name other than this model's
     */
    ChatResponse chat(ChatRequest request, TextListener listener, BooleanSupplier cancelled) {
        if (closed.get()) {
            throw new IllegalStateException("this " + ownerName + " is closed");
        }
        SpeculaChatRequestParameters parameters = request.parameters() == null ? defaults
                : defaults.overrideWith(request.parameters());
        GenerationRequest generation;
        try {
            generation = generationRequest(messages(request.messages()), parameters, modelName,
                    specula.contextLength()).listener(listener).cancelled(cancelled).build();
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(e.getMessage(), e);
        }
        Completion completion;
        try {
            completion = specula.generate(generation);
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(e.getMessage(), e); // the prompt does not fit, or the template refused it
        }
        return response(completion, generation.speculative(), modelName);
    }

    /** LangChain4j's messages as Specula's chat messages: system, user and assistant text only. */
    static List<ChatMessage> messages(List<dev.langchain4j.data.message.ChatMessage> messages) {
        List<ChatMessage> out = new ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            dev.langchain4j.data.message.ChatMessage m = messages.get(i);
            if (m instanceof SystemMessage s) {
                out.add(ChatMessage.system(s.text()));
            } else if (m instanceof UserMessage u) {
                out.add(ChatMessage.user(userText(u, i)));
            } else if (m instanceof AiMessage a) {
                if (a.hasToolExecutionRequests()) {
                    throw new UnsupportedFeatureException("message " + i + " is an AI message with "
                            + a.toolExecutionRequests().size() + " tool execution request(s); Specula chat models do"
                            + " not call tools: expected AI messages with text only");
                }
                if (a.text() == null) {
                    throw new UnsupportedFeatureException("message " + i + " is an AI message without text;"
                            + " expected AI messages with text");
                }
                out.add(ChatMessage.assistant(a.text()));
            } else {
                throw new UnsupportedFeatureException("message " + i + " is a " + m.type() + " message ("
                        + m.getClass().getSimpleName() + "); Specula chat models take SYSTEM, USER and AI text"
                        + " messages only");
            }
        }
        return out;
    }

    /** A user message's text parts, joined by a newline (as vLLM joins OpenAI content parts). */
    private static String userText(UserMessage message, int index) {
        List<String> parts = new ArrayList<>();
        List<Content> contents = message.contents();
        for (int j = 0; j < contents.size(); j++) {
            if (!(contents.get(j) instanceof TextContent text)) {
                throw new UnsupportedFeatureException("message " + index + " (USER) part " + j + " is "
                        + contents.get(j).type() + " content; Specula chat models take TEXT content only");
            }
            parts.add(text.text());
        }
        return String.join("\n", parts);
    }

    /**
     * The Specula request for {@code messages} under {@code parameters}. Without {@code maxOutputTokens} the reply
     * may run to the end of the context; without a temperature it is greedy; without a seed each request draws a
     * fresh one (reported in the generation's metrics).
     */
    static GenerationRequest.Builder generationRequest(List<ChatMessage> messages, ChatRequestParameters parameters,
                                                       String modelName, int contextLength) {
        checkSupported(parameters, modelName);
        SamplingParams.Builder sampling = SamplingParams.builder();
        if (parameters.temperature() != null) {
            sampling.temperature(parameters.temperature());
        }
        if (parameters.topP() != null) {
            sampling.topP(parameters.topP());
        }
        if (parameters.topK() != null) {
            sampling.topK(parameters.topK());
        }
        Integer maxOutputTokens = parameters.maxOutputTokens();
        if (maxOutputTokens != null && maxOutputTokens < 1) {
            throw new IllegalArgumentException("maxOutputTokens must be >= 1, got " + maxOutputTokens);
        }
        sampling.maxNewTokens(maxOutputTokens != null ? maxOutputTokens
                : Math.min(contextLength, SamplingParams.MAX_NEW_TOKENS_LIMIT)); // Specula clamps to the room left
        boolean speculative = true;
        if (parameters instanceof SpeculaChatRequestParameters specula) {
            if (specula.seed() != null) {
                sampling.seed(specula.seed());
            }
            if (specula.speculative() != null) {
                speculative = specula.speculative();
            }
        }
        return GenerationRequest.chat(messages).params(sampling.build()).speculative(speculative)
                .stopSequences(parameters.stopSequences() == null ? List.of() : parameters.stopSequences());
    }

    /** Rejects, naming it, every parameter Specula cannot honour rather than ignoring it. */
    private static void checkSupported(ChatRequestParameters parameters, String modelName) {
        if (parameters.modelName() != null && !parameters.modelName().equals(modelName)) {
            throw new ModelNotFoundException("model '" + parameters.modelName() + "' is not served here; this model"
                    + " is '" + modelName + "' (leave modelName unset or set it to that)");
        }
        if (parameters.toolSpecifications() != null && !parameters.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("Specula chat models do not call tools; the request has "
                    + parameters.toolSpecifications().size() + " tool specification(s), expected none");
        }
        if (parameters.toolChoice() == ToolChoice.REQUIRED) {
            throw new UnsupportedFeatureException("toolChoice REQUIRED is not supported: Specula chat models do not"
                    + " call tools (expected AUTO, NONE or unset)");
        }
        if (parameters.responseFormat() != null && parameters.responseFormat().type() != ResponseFormatType.TEXT) {
            throw new UnsupportedFeatureException("response format " + parameters.responseFormat().type()
                    + " is not supported; Specula chat models answer in TEXT");
        }
        if (parameters.frequencyPenalty() != null && parameters.frequencyPenalty() != 0) {
            throw new UnsupportedFeatureException("frequencyPenalty is not supported (got "
                    + parameters.frequencyPenalty() + ", expected 0 or unset)");
        }
        if (parameters.presencePenalty() != null && parameters.presencePenalty() != 0) {
            throw new UnsupportedFeatureException("presencePenalty is not supported (got "
                    + parameters.presencePenalty() + ", expected 0 or unset)");
        }
    }

    static ChatResponse response(Completion completion, boolean speculative, String modelName) {
        int outputTokens = completion.tokenIds().length;
        return ChatResponse.builder()
                .aiMessage(AiMessage.from(completion.text()))
                .metadata(SpeculaChatResponseMetadata.builder()
                        .modelName(modelName)
                        .tokenUsage(new TokenUsage(completion.promptTokens(), outputTokens,
                                completion.promptTokens() + outputTokens))
                        .finishReason(finishReason(completion.finishReason()))
                        .metrics(completion.metrics())
                        .speculative(speculative)
                        .build())
                .build();
    }

    /** End of sequence or a stop is LangChain4j's STOP; the token limit or a full context LENGTH; cancelled OTHER. */
    static FinishReason finishReason(dev.specula.core.decode.FinishReason reason) {
        return switch (reason) {
            case END_OF_SEQUENCE, STOP_TOKEN -> FinishReason.STOP;
            case MAX_TOKENS, CONTEXT_FULL -> FinishReason.LENGTH;
            case CANCELLED -> FinishReason.OTHER;
        };
    }

    /** Closes the {@link Specula} instance if this engine loaded it; idempotent. */
    @Override
    public void close() {
        if (closed.getAndSet(true)) {
            return;
        }
        if (owned) {
            specula.close();
        }
    }
}
