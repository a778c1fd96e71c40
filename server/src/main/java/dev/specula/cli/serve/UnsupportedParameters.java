package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * OpenAI request parameters this server does not implement. Each is accepted only with a value that changes
 * nothing (its default, or an empty list of tools); any other value is a 400 naming the parameter, so that a
 * client never gets a response that silently ignored what it asked for. A field that is neither OpenAI's nor the
 * server's is a 400 too, as OpenAI answers "Unrecognized request argument".
 */
final class UnsupportedParameters {
    private record Rule(Predicate<JsonNode> noOp, String accepted) {
    }

    /** Parameters of both endpoints, with the values that leave the result as this server makes it. */
    private static final Map<String, Rule> COMMON = Map.ofEntries(
            Map.entry("n", new Rule(v -> v.isIntegralNumber() && v.asLong() == 1, "1: one choice per request")),
            Map.entry("presence_penalty", new Rule(UnsupportedParameters::isZero, "0")),
            Map.entry("frequency_penalty", new Rule(UnsupportedParameters::isZero, "0")),
            Map.entry("logit_bias", new Rule(v -> v.isObject() && v.isEmpty(), "{}")),
            Map.entry("safety_identifier", new Rule(JsonNode::isTextual, "a string")),
            Map.entry("prompt_cache_key", new Rule(JsonNode::isTextual, "a string")),
            Map.entry("service_tier", new Rule(v -> v.isTextual() && Set.of("auto", "default").contains(v.asText()),
                    "\"auto\" or \"default\"")));

    private static final Map<String, Rule> COMPLETION = Map.ofEntries(
            Map.entry("best_of", new Rule(v -> v.isIntegralNumber() && v.asLong() == 1, "1")),
            Map.entry("echo", new Rule(v -> v.isBoolean() && !v.asBoolean(), "false")),
            Map.entry("logprobs", new Rule(v -> false, "null: log probabilities are not returned")),
            Map.entry("suffix", new Rule(v -> v.isTextual() && v.asText().isEmpty(), "\"\": no insertion")));

    private static final Map<String, Rule> CHAT = Map.ofEntries(
            Map.entry("logprobs", new Rule(v -> v.isBoolean() && !v.asBoolean(),
                    "false: log probabilities are not returned")),
            Map.entry("top_logprobs", new Rule(UnsupportedParameters::isZero, "0")),
            Map.entry("tools", new Rule(v -> v.isArray() && v.isEmpty(), "[]: this server does not call tools")),
            Map.entry("functions", new Rule(v -> v.isArray() && v.isEmpty(), "[]: this server does not call"
                    + " functions")),
            Map.entry("tool_choice", new Rule(v -> v.isTextual() && Set.of("none", "auto").contains(v.asText()),
                    "\"none\" or \"auto\" (without tools)")),
            Map.entry("function_call", new Rule(v -> v.isTextual() && Set.of("none", "auto").contains(v.asText()),
                    "\"none\" or \"auto\" (without functions)")),
            Map.entry("parallel_tool_calls", new Rule(JsonNode::isBoolean, "true or false (without tools)")),
            Map.entry("response_format", new Rule(v -> v.isObject() && v.size() == 1
                    && "text".equals(v.path("type").asText()), "{\"type\": \"text\"}")),
            Map.entry("modalities", new Rule(v -> v.isArray() && v.size() == 1 && "text".equals(v.get(0).asText()),
                    "[\"text\"]")),
            Map.entry("store", new Rule(v -> v.isBoolean() && !v.asBoolean(), "false")),
            Map.entry("metadata", new Rule(v -> v.isObject() && v.isEmpty(), "{} (nothing is stored)")),
            Map.entry("reasoning_effort", new Rule(v -> false, "null")),
            Map.entry("verbosity", new Rule(v -> false, "null")),
            Map.entry("audio", new Rule(v -> false, "null: text only")),
            Map.entry("prediction", new Rule(v -> false, "null")),
            Map.entry("web_search_options", new Rule(v -> false, "null")));

    private UnsupportedParameters() {
    }

    private static boolean isZero(JsonNode v) {
        return v.isNumber() && v.asDouble() == 0;
    }

    /**
     * Checks every field of a request.
     *
     * @param chat     whether it is a chat completion (else a text completion)
     * @param common   the fields both endpoints read
     * @param endpoint the fields this endpoint reads
     * @throws ApiException 400 naming the first field that is unknown or set to a value this server cannot honour
     */
    static void check(JsonFields f, boolean chat, Set<String> common, Set<String> endpoint) {
        Map<String, Rule> own = chat ? CHAT : COMPLETION;
        for (String name : f.names()) {
            JsonNode value = f.get(name);
            Rule rule = own.containsKey(name) ? own.get(name) : COMMON.get(name);
            if (rule != null) {
                if (value != null && !rule.noOp().test(value)) {
                    throw ApiException.unsupported(name, name + " is not supported: this server accepts only "
                            + rule.accepted() + ", got " + JsonFields.shown(value));
                }
            } else if (!common.contains(name) && !endpoint.contains(name)) {
                throw ApiException.unsupported(name, "unrecognized request argument: " + name + " (this endpoint"
                        + " reads " + String.join(", ", new java.util.TreeSet<>(union(common, endpoint))) + ")");
            }
        }
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> all = new java.util.HashSet<>(a);
        all.addAll(b);
        return all;
    }
}
