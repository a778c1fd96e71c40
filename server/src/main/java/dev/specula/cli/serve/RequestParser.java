package dev.specula.cli.serve;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.specula.Prompt;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.onnx.text.ChatMessage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Reads the JSON of {@code /v1/completions} and {@code /v1/chat/completions} requests into a
 * {@link CompletionSpec}, with OpenAI's field names and defaults. Every invalid request is an {@link ApiException}
 * naming the field: 404 {@code model_not_found} for a model this server does not serve, 400 for a bad value (the
 * ranges of sampling values are those {@link SamplingParams} enforces), and 400 {@code unsupported_parameter} for
 * a parameter it does not implement ({@link UnsupportedParameters}).
 */
final class RequestParser {
    /** OpenAI's default {@code max_tokens} of a text completion. */
    static final int DEFAULT_MAX_TOKENS = 16;
    /** OpenAI's limit on {@code stop} sequences. */
    static final int MAX_STOP_SEQUENCES = 4;

    /**
     * SamplingParams' parameter names (which start its validation messages) to the request's field names;
     * {@code maxNewTokens} is {@code max_tokens} or {@code max_completion_tokens}, whichever the request used.
     */
    private static final Map<String, String> SAMPLING_FIELDS = Map.of("temperature", "temperature", "topK", "top_k",
            "topP", "top_p", "minP", "min_p");

    /**
     * The roles a chat request may use, and the role each reaches the chat template as: OpenAI's {@code developer}
     * messages are the {@code system} messages of models without that role, as OpenAI maps them for such models.
     */
    private static final Map<String, String> ROLES = Map.of("system", "system", "developer", "system", "user", "user",
            "assistant", "assistant", "tool", "tool");

    /** Fields of both endpoints that this server reads. */
    private static final Set<String> COMMON_FIELDS = Set.of("model", "max_tokens", "temperature", "top_p", "seed",
            "stop", "stream", "stream_options", "n", "user", "top_k", "min_p", "speculative", "skip_special_tokens");
    private static final Set<String> COMPLETION_FIELDS = Set.of("prompt", "add_special_tokens");
    private static final Set<String> CHAT_FIELDS = Set.of("messages", "max_completion_tokens");

    private final ObjectMapper mapper;
    private final List<String> servedModels;

    /**
     * @param servedModels the names this server answers to; the first is the one responses carry
     */
    RequestParser(ObjectMapper mapper, List<String> servedModels) {
        if (servedModels.isEmpty()) {
            throw new IllegalArgumentException("at least one served model name is needed");
        }
        this.mapper = mapper;
        this.servedModels = List.copyOf(servedModels);
    }

    /** The top-level fields of a JSON object body. */
    JsonFields read(byte[] body) {
        try {
            return JsonFields.of(mapper.readTree(body));
        } catch (JacksonException e) {
            throw ApiException.badRequest(null, "the request body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e); // not thrown when reading from memory
        }
    }

    /**
     * A text completion: {@code prompt} is a string (encoded with the tokenizer's special tokens, as transformers
     * does), an array of one string, or an array of token ids.
     */
    CompletionSpec completion(JsonFields f) {
        UnsupportedParameters.check(f, false, COMMON_FIELDS, COMPLETION_FIELDS);
        return spec(f, prompt(f), "max_tokens", DEFAULT_MAX_TOKENS);
    }

    /**
     * A chat completion: {@code messages}, which the model's chat template renders. As with OpenAI and vLLM, the
     * reply runs to the end of the turn or of the context unless {@code max_tokens} (or
     * {@code max_completion_tokens}) limits it.
     */
    CompletionSpec chat(JsonFields f) {
        UnsupportedParameters.check(f, true, COMMON_FIELDS, CHAT_FIELDS);
        Prompt prompt = Prompt.chat(messages(f));
        String maxField = f.get("max_completion_tokens") != null ? "max_completion_tokens" : "max_tokens";
        return spec(f, prompt, maxField, SamplingParams.MAX_NEW_TOKENS_LIMIT);
    }

    private CompletionSpec spec(JsonFields f, Prompt prompt, String maxField, int defaultMaxTokens) {
        String model = model(f);
        int maxTokens = f.integer(maxField, defaultMaxTokens);
        SamplingParams.Builder b = SamplingParams.builder().maxNewTokens(maxTokens)
                .temperature(f.number("temperature", 1.0)).topP(f.number("top_p", 1.0))
                .topK(f.integer("top_k", 0)).minP(f.number("min_p", 0));
        if (f.get("seed") != null) { // none: a fresh seed per request, reported in the response's metrics
            b.seed(f.longInteger("seed", 0));
        }
        Set<String> stops = new LinkedHashSet<>(stop(f));
        boolean stream = f.bool("stream", false);
        boolean speculative = f.bool("speculative", true);
        boolean skipSpecial = f.bool("skip_special_tokens", true);
        return new CompletionSpec(model, prompt, build(b, maxField), new ArrayList<>(stops), stream, speculative,
                skipSpecial);
    }

    /** The model the request names, if this server serves it; none names the first served name. */
    private String model(JsonFields f) {
        String model = f.string("model", servedModels.get(0));
        if (!servedModels.contains(model)) {
            throw ApiException.modelNotFound(model, servedModels.size() == 1 ? "'" + servedModels.get(0) + "'"
                    : "one of " + servedModels.stream().map(m -> "'" + m + "'").collect(Collectors.joining(", ")));
        }
        return servedModels.get(0);
    }

    /** Builds the parameters, naming the request field of a value SamplingParams rejects. */
    private static SamplingParams build(SamplingParams.Builder b, String maxField) {
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            String message = e.getMessage();
            String name = message.substring(0, Math.max(0, message.indexOf(' ')));
            String field = "maxNewTokens".equals(name) ? maxField : SAMPLING_FIELDS.get(name);
            if (field == null) {
                throw ApiException.badRequest(null, message);
            }
            throw ApiException.badRequest(field, field + message.substring(name.length()));
        }
    }

    private static Prompt prompt(JsonFields f) {
        Prompt p = promptField(f);
        boolean addSpecial = f.bool("add_special_tokens", true);
        return p instanceof Prompt.Text t ? Prompt.text(t.text(), addSpecial) : p;
    }

    private static Prompt promptField(JsonFields f) {
        JsonNode p = f.get("prompt");
        String expected = "a string, an array of one string, or an array of token ids (batches are not supported)";
        if (p == null) {
            throw ApiException.badRequest("prompt", "prompt is required: the text to complete, or its token ids");
        }
        if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
            p = p.get(0);
        }
        if (p.isTextual()) {
            if (p.asText().isEmpty()) {
                throw ApiException.badRequest("prompt", "prompt must not be empty");
            }
            return Prompt.text(p.asText());
        }
        if (!p.isArray() || p.isEmpty() || p.get(0).isTextual()) {
            throw JsonFields.wrongType("prompt", expected, p);
        }
        int[] ids = new int[p.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode id = p.get(i);
            if (!id.canConvertToInt() || !id.isIntegralNumber() || id.asInt() < 0) {
                throw JsonFields.wrongType("prompt[" + i + "]", "a token id (an integer >= 0); " + expected, id);
            }
            ids[i] = id.asInt();
        }
        return Prompt.tokens(ids);
    }

    private static List<String> stop(JsonFields f) {
        JsonNode stop = f.get("stop");
        if (stop == null) {
            return List.of();
        }
        if (stop.isTextual()) {
            return List.of(nonEmptyStop(stop));
        }
        if (!stop.isArray() || stop.size() > MAX_STOP_SEQUENCES) {
            throw JsonFields.wrongType("stop", "a string or an array of up to " + MAX_STOP_SEQUENCES + " strings", stop);
        }
        List<String> stops = new ArrayList<>();
        for (JsonNode s : stop) {
            if (!s.isTextual()) {
                throw JsonFields.wrongType("stop", "a string or an array of up to " + MAX_STOP_SEQUENCES + " strings",
                        stop);
            }
            stops.add(nonEmptyStop(s));
        }
        return stops;
    }

    private static String nonEmptyStop(JsonNode s) {
        if (s.asText().isEmpty()) {
            throw ApiException.badRequest("stop", "stop sequences must not be empty strings");
        }
        return s.asText();
    }

    private static List<ChatMessage> messages(JsonFields f) {
        JsonNode messages = f.get("messages");
        if (messages == null) {
            throw ApiException.badRequest("messages", "messages is required: the conversation, an array of"
                    + " {\"role\": \"system\"|\"developer\"|\"user\"|\"assistant\"|\"tool\", \"content\": \"...\"}");
        }
        if (!messages.isArray() || messages.isEmpty()) {
            throw JsonFields.wrongType("messages", "a non-empty array of {role, content} objects", messages);
        }
        List<ChatMessage> result = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            result.add(message(messages.get(i), "messages[" + i + "]"));
        }
        return result;
    }

    private static ChatMessage message(JsonNode m, String at) {
        if (!m.isObject()) {
            throw JsonFields.wrongType(at, "an object with role and content", m);
        }
        JsonNode role = m.path("role");
        if (!role.isTextual() || !ROLES.containsKey(role.asText())) {
            throw JsonFields.wrongType(at + ".role", "one of \"system\", \"developer\", \"user\", \"assistant\","
                    + " \"tool\"", role);
        }
        for (String field : List.of("tool_calls", "function_call", "audio")) {
            JsonNode v = m.get(field);
            if (v != null && !v.isNull() && !(v.isArray() && v.isEmpty())) {
                throw ApiException.unsupported(at + "." + field, at + "." + field + " is not supported: this server"
                        + " does not call tools or functions");
            }
        }
        JsonNode name = m.get("name");
        if (name != null && !name.isNull()) {
            throw ApiException.unsupported(at + ".name", at + ".name is not supported: the chat template gets role"
                    + " and content only");
        }
        return new ChatMessage(ROLES.get(role.asText()), content(m.path("content"), at + ".content"));
    }

    /** A message's text: a string, or an array of text parts joined without a separator (as OpenAI does). */
    private static String content(JsonNode content, String at) {
        String expected = "a string or an array of {\"type\": \"text\", \"text\": \"...\"} parts";
        if (content.isTextual()) {
            return content.asText();
        }
        if (!content.isArray() || content.isEmpty()) {
            throw JsonFields.wrongType(at, expected, content);
        }
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < content.size(); i++) {
            JsonNode part = content.get(i);
            String partAt = at + "[" + i + "]";
            if (!part.isObject()) {
                throw JsonFields.wrongType(partAt, "a {\"type\": \"text\", \"text\": \"...\"} part", part);
            }
            JsonNode type = part.path("type");
            if (!type.isTextual()) {
                throw JsonFields.wrongType(partAt + ".type", "\"text\"", type);
            }
            if (!type.asText().equals("text")) {
                throw ApiException.unsupported(partAt + ".type", partAt + ".type " + JsonFields.shown(type)
                        + " is not supported: this server takes text parts only");
            }
            JsonNode partText = part.path("text");
            if (!partText.isTextual()) {
                throw JsonFields.wrongType(partAt + ".text", "a string", partText);
            }
            text.append(partText.asText());
        }
        return text.toString();
    }
}
