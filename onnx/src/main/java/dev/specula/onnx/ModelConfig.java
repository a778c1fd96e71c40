package dev.specula.onnx;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.specula.core.SpeculaException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The fields Specula reads from a Hugging Face {@code config.json} (and {@code generation_config.json}, whose
 * end-of-sequence ids take precedence when present). Multimodal and Gemma3-style configs nest the language model's
 * fields in {@code text_config}: each field is read from there first, then from the top level.
 *
 * @param modelType             {@code model_type}, e.g. "llama"
 * @param vocabSize             {@code vocab_size}
 * @param numHiddenLayers       {@code num_hidden_layers} (or {@code n_layer}), 0 when absent
 * @param maxPositionEmbeddings {@code max_position_embeddings} (or {@code n_positions}), the context length
 * @param eosTokenIds           end-of-sequence ids, possibly empty
 * @param bosTokenId            {@code bos_token_id}, or -1
 * @param slidingWindow         the attention window ({@code sliding_window}) when the model uses one, else 0; Qwen2
 *                              configs name a window but switch it off with {@code use_sliding_window: false}
 */
public record ModelConfig(String modelType, int vocabSize, int numHiddenLayers, int maxPositionEmbeddings,
                          Set<Integer> eosTokenIds, int bosTokenId, int slidingWindow) {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Context length assumed when config.json names none. */
    public static final int DEFAULT_CONTEXT = 2048;

    public ModelConfig {
        eosTokenIds = Set.copyOf(eosTokenIds);
        if (slidingWindow < 0) {
            throw new IllegalArgumentException("slidingWindow must be >= 0 (0: none), got " + slidingWindow);
        }
    }

    /** Reads {@code dir/config.json} and, if present, {@code dir/generation_config.json}. */
    public static ModelConfig read(Path dir) {
        Path configFile = dir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new SpeculaException("model directory " + dir + " has no config.json (expected a Hugging Face"
                    + " export: model.onnx, config.json, tokenizer.json)");
        }
        JsonNode config = readJson(configFile);
        if (!config.isObject()) {
            throw new SpeculaException(configFile + " must hold a JSON object, found " + config.getNodeType());
        }
        JsonNode text = config.get("text_config");
        if (text != null && !text.isNull() && !text.isObject()) {
            throw new SpeculaException(configFile + " has a text_config that is not a JSON object: " + text.getNodeType());
        }
        Fields fields = new Fields(text != null && text.isObject() ? text : null, config);
        JsonNode vocab = fields.get("vocab_size");
        if (vocab == null || !vocab.canConvertToInt() || vocab.asInt() <= 0) {
            throw new SpeculaException(configFile + " has no valid vocab_size (a positive integer, at the top level"
                    + " or in text_config), found " + vocab);
        }
        int layers = fields.firstInt(0, "num_hidden_layers", "n_layer", "num_layers");
        int context = fields.firstInt(DEFAULT_CONTEXT, "max_position_embeddings", "n_positions", "max_sequence_length");
        Set<Integer> eos = ids(fields.get("eos_token_id"));
        Path generation = dir.resolve("generation_config.json");
        if (Files.isRegularFile(generation)) {
            Set<Integer> fromGeneration = ids(readJson(generation).get("eos_token_id"));
            if (!fromGeneration.isEmpty()) {
                eos = fromGeneration;
            }
        }
        JsonNode bos = fields.get("bos_token_id");
        JsonNode type = fields.get("model_type");
        JsonNode useWindow = fields.get("use_sliding_window");
        int window = useWindow != null && useWindow.isBoolean() && !useWindow.asBoolean()
                ? 0 : fields.firstInt(0, "sliding_window");
        return new ModelConfig(type != null ? type.asText() : "unknown", vocab.asInt(), layers, context, eos,
                bos != null && bos.canConvertToInt() ? bos.asInt() : -1, window);
    }

    /** Looks a field up in {@code text_config} (when there is one), then at the top level. */
    private record Fields(JsonNode text, JsonNode top) {
        JsonNode get(String name) {
            JsonNode v = text != null ? text.get(name) : null;
            return v != null && !v.isNull() ? v : top.get(name);
        }

        int firstInt(int fallback, String... names) {
            for (String name : names) {
                JsonNode v = get(name);
                if (v != null && v.canConvertToInt() && v.asInt() > 0) {
                    return v.asInt();
                }
            }
            return fallback;
        }
    }

    private static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new SpeculaException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static Set<Integer> ids(JsonNode node) {
        Set<Integer> out = new LinkedHashSet<>();
        if (node == null || node.isNull()) {
            return out;
        }
        if (node.isArray()) {
            node.forEach(n -> {
                if (n.canConvertToInt()) {
                    out.add(n.asInt());
                }
            });
        } else if (node.canConvertToInt()) {
            out.add(node.asInt());
        }
        return out;
    }
}
