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
 * end-of-sequence ids take precedence when present).
 *
 * @param modelType             {@code model_type}, e.g. "llama"
 * @param vocabSize             {@code vocab_size}
 * @param numHiddenLayers       {@code num_hidden_layers} (or {@code n_layer}), 0 when absent
 * @param maxPositionEmbeddings {@code max_position_embeddings} (or {@code n_positions}), the context length
 * @param eosTokenIds           end-of-sequence ids, possibly empty
 * @param bosTokenId            {@code bos_token_id}, or -1
 */
public record ModelConfig(String modelType, int vocabSize, int numHiddenLayers, int maxPositionEmbeddings,
                          Set<Integer> eosTokenIds, int bosTokenId) {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Context length assumed when config.json names none. */
    public static final int DEFAULT_CONTEXT = 2048;

    public ModelConfig {
        eosTokenIds = Set.copyOf(eosTokenIds);
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
        JsonNode vocab = config.get("vocab_size");
        if (vocab == null || !vocab.canConvertToInt() || vocab.asInt() <= 0) {
            throw new SpeculaException(configFile + " has no valid vocab_size (a positive integer), found " + vocab);
        }
        int layers = firstInt(config, 0, "num_hidden_layers", "n_layer", "num_layers");
        int context = firstInt(config, DEFAULT_CONTEXT, "max_position_embeddings", "n_positions", "max_sequence_length");
        Set<Integer> eos = ids(config.get("eos_token_id"));
        Path generation = dir.resolve("generation_config.json");
        if (Files.isRegularFile(generation)) {
            Set<Integer> fromGeneration = ids(readJson(generation).get("eos_token_id"));
            if (!fromGeneration.isEmpty()) {
                eos = fromGeneration;
            }
        }
        JsonNode bos = config.get("bos_token_id");
        String type = config.has("model_type") ? config.get("model_type").asText() : "unknown";
        return new ModelConfig(type, vocab.asInt(), layers, context, eos,
                bos != null && bos.canConvertToInt() ? bos.asInt() : -1);
    }

    private static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new SpeculaException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static int firstInt(JsonNode node, int fallback, String... names) {
        for (String name : names) {
            JsonNode v = node.get(name);
            if (v != null && v.canConvertToInt() && v.asInt() > 0) {
                return v.asInt();
            }
        }
        return fallback;
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
