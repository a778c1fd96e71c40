package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.specula.Completion;
import dev.specula.core.decode.FinishReason;
import dev.specula.core.decode.GenerationMetrics;

import java.util.UUID;
import java.util.function.Function;

/**
 * The JSON of one completion response in OpenAI's shape: the whole object, or the chunks of its stream, all
 * sharing one id and creation time. Besides {@code usage}, the last part carries the generation's metrics under
 * {@code specula} ({@code "timed_out": true} there when the server's request time limit ended it).
 */
final class CompletionJson {
    private final ObjectMapper mapper;
    private final Function<GenerationMetrics, ? extends JsonNode> metrics;
    private final CompletionFormat format;
    private final String model;
    private final String id;
    private final long created = System.currentTimeMillis() / 1000;

    CompletionJson(ObjectMapper mapper, Function<GenerationMetrics, ? extends JsonNode> metrics,
                   CompletionFormat format, String model) {
        this.mapper = mapper;
        this.metrics = metrics;
        this.format = format;
        this.model = model;
        this.id = format.idPrefix() + UUID.randomUUID().toString().replace("-", "");
    }

    /**
     * OpenAI's finish reason: "length" when cut by a limit, the request's time limit included (as llama.cpp's
     * server reports its {@code t_max_predict_ms}), else "stop".
     */
    static String finishReason(FinishReason reason, boolean timedOut) {
        if (timedOut) {
            return "length";
        }
        return switch (reason) {
            case MAX_TOKENS, CONTEXT_FULL -> "length";
            case END_OF_SEQUENCE, STOP_TOKEN, CANCELLED -> "stop";
        };
    }

    /** The complete response of a non-streamed request. */
    ObjectNode full(Completion c, boolean timedOut) {
        ObjectNode root = envelope(false);
        choice(root, c.text(), false).put("finish_reason", finishReason(c.finishReason(), timedOut));
        return withUsage(root, c, timedOut);
    }

    /** The chunk a chat stream starts with: the assistant's role, no text yet. */
    ObjectNode roleChunk() {
        ObjectNode root = envelope(true);
        ObjectNode choice = choice(root, "", true);
        choice.withObjectProperty("delta").put("role", "assistant");
        choice.putNull("finish_reason");
        return root;
    }

    /** A chunk of generated text. */
    ObjectNode textChunk(String text) {
        ObjectNode root = envelope(true);
        choice(root, text, true).putNull("finish_reason");
        return root;
    }

    /** The last chunk: no text, the finish reason, usage and metrics. */
    ObjectNode lastChunk(Completion c, boolean timedOut) {
        ObjectNode root = envelope(true);
        choice(root, format == CompletionFormat.TEXT ? "" : null, true)
                .put("finish_reason", finishReason(c.finishReason(), timedOut));
        return withUsage(root, c, timedOut);
    }

    private ObjectNode envelope(boolean chunk) {
        ObjectNode root = mapper.createObjectNode();
        root.put("id", id);
        root.put("object", format.object(chunk));
        root.put("created", created);
        root.put("model", model);
        return root;
    }

    private ObjectNode choice(ObjectNode root, String text, boolean chunk) {
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        format.putText(choice, text, chunk);
        choice.putNull("logprobs");
        return choice;
    }

    /** The response id, shared by every chunk. */
    String id() {
        return id;
    }

    private ObjectNode withUsage(ObjectNode root, Completion c, boolean timedOut) {
        int completionTokens = c.tokenIds().length;
        ObjectNode usage = root.putObject("usage");
        usage.put("prompt_tokens", c.promptTokens());
        usage.put("completion_tokens", completionTokens);
        usage.put("total_tokens", c.promptTokens() + completionTokens);
        JsonNode specula = metrics.apply(c.metrics());
        if (timedOut && specula instanceof ObjectNode o) {
            o.put("timed_out", true); // the request's time limit, not max_tokens, made finish_reason "length"
        }
        root.set("specula", specula);
        return root;
    }
}
