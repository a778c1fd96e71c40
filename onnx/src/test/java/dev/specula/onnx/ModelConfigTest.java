package dev.specula.onnx;

import dev.specula.core.SpeculaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelConfigTest {
    @Test
    void readsHuggingFaceNamesAndPrefersGenerationConfigEndIds(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"qwen2\", \"vocab_size\": 151936,"
                + " \"num_hidden_layers\": 24, \"max_position_embeddings\": 32768, \"eos_token_id\": 151643,"
                + " \"bos_token_id\": 151643}");
        ModelConfig c = ModelConfig.read(dir);
        assertEquals("qwen2", c.modelType());
        assertEquals(151936, c.vocabSize());
        assertEquals(24, c.numHiddenLayers());
        assertEquals(32768, c.maxPositionEmbeddings());
        assertEquals(Set.of(151643), c.eosTokenIds());
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": [151645, 151643]}");
        assertEquals(Set.of(151645, 151643), ModelConfig.read(dir).eosTokenIds());
    }

    @Test
    void gpt2StyleNamesAndDefaults(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"vocab_size\": 50257, \"n_layer\": 12, \"n_positions\": 1024}");
        ModelConfig c = ModelConfig.read(dir);
        assertEquals(12, c.numHiddenLayers());
        assertEquals(1024, c.maxPositionEmbeddings());
        assertTrue(c.eosTokenIds().isEmpty());
        assertEquals(-1, c.bosTokenId());
        Files.writeString(dir.resolve("config.json"), "{\"vocab_size\": 50257}");
        assertEquals(ModelConfig.DEFAULT_CONTEXT, ModelConfig.read(dir).maxPositionEmbeddings());
    }

    @Test
    void slidingWindowCountsOnlyWhenSwitchedOn(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"vocab_size\": 151936, \"sliding_window\": 131072,"
                + " \"use_sliding_window\": false}");
        assertEquals(0, ModelConfig.read(dir).slidingWindow());
        Files.writeString(dir.resolve("config.json"), "{\"vocab_size\": 32000, \"sliding_window\": 4096}");
        assertEquals(4096, ModelConfig.read(dir).slidingWindow());
        Files.writeString(dir.resolve("config.json"), "{\"vocab_size\": 32000, \"sliding_window\": null}");
        assertEquals(0, ModelConfig.read(dir).slidingWindow());
        Files.writeString(dir.resolve("config.json"), "{\"vocab_size\": 32000, \"text_config\": 3}");
        assertTrue(assertThrows(SpeculaException.class, () -> ModelConfig.read(dir)).getMessage().contains("text_config"));
    }

    @Test
    void missingOrInvalidVocabularySizeFailsNamingTheField(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": 8}");
        assertTrue(assertThrows(SpeculaException.class, () -> ModelConfig.read(dir)).getMessage().contains("vocab_size"));
        Files.writeString(dir.resolve("config.json"), "[1, 2]");
        assertTrue(assertThrows(SpeculaException.class, () -> ModelConfig.read(dir)).getMessage().contains("JSON object"));
    }
}
