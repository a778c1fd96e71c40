package dev.specula.onnx;

import dev.specula.core.SpeculaException;
import dev.specula.core.model.ModelSequence;
import dev.specula.models.EmbeddedModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Discovery of the graph, external data and config in model directories laid out as users have them. */
class ModelFilesTest {
    static final Path FIXTURES = Path.of("src/test/resources/fixtures");

    /** A directory holding the embedded draft's graph under each of {@code graphNames}, and its config. */
    static Path layout(Path root, String name, String... graphNames) throws IOException {
        Path dir = Files.createDirectories(root.resolve(name));
        Path draft = EmbeddedModels.draft();
        for (String graph : graphNames) {
            Path to = dir.resolve(graph);
            Files.createDirectories(to.getParent());
            Files.copy(draft.resolve("model.onnx"), to);
        }
        for (String f : List.of("config.json", "generation_config.json", "tokenizer.json")) {
            Files.copy(draft.resolve(f), dir.resolve(f));
        }
        return dir;
    }

    static String error(Path dir, String variant) {
        return assertThrows(SpeculaException.class, () -> ModelFiles.locate(dir, variant)).getMessage();
    }

    @Test
    void findsEachSingleGraphLayout(@TempDir Path tmp) throws IOException {
        for (String graph : List.of("model.onnx", "decoder_model_merged.onnx", "onnx/model.onnx",
                "onnx/decoder_model_merged.onnx")) {
            Path dir = layout(tmp, graph.replace('/', '-'), graph);
            ModelFiles files = ModelFiles.locate(dir, "");
            assertEquals(dir.resolve(graph), files.graph(), graph);
            assertEquals(dir, files.configDirectory(), graph);
            assertTrue(files.externalData().isEmpty(), graph);
        }
    }

    @Test
    void transformersJsVariantsAreChosenByOptionAndListedWhenNoneIsChosen(@TempDir Path tmp) throws IOException {
        Path dir = layout(tmp, "tjs", "onnx/model_fp16.onnx", "onnx/model_q4.onnx", "onnx/model_quantized.onnx",
                "onnx/decoder_model_merged_bnb4.onnx");
        assertEquals(dir.resolve("onnx/model_q4.onnx"), ModelFiles.locate(dir, "q4").graph());
        assertEquals(dir.resolve("onnx/model_quantized.onnx"), ModelFiles.locate(dir, "quantized").graph());
        assertEquals(dir.resolve("onnx/decoder_model_merged_bnb4.onnx"), ModelFiles.locate(dir, "bnb4").graph());
        String none = error(dir, "");
        assertTrue(none.contains("no model.onnx") && none.contains("onnx/model_q4.onnx")
                && none.contains("[bnb4, fp16, q4, quantized]") && none.contains("withVariant"), none);
        String missing = error(dir, "int8");
        assertTrue(missing.contains("model_int8.onnx") && missing.contains("onnx/model_fp16.onnx"), missing);

        try (OnnxCausalLM model = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(1).withVariant("q4"))) {
            assertEquals(dir.resolve("onnx/model_q4.onnx"), model.files().graph());
            assertTrue(model.description().contains("model_q4.onnx"), model.description());
        }
        // A path to one graph picks it; config.json is found above the onnx/ folder.
        try (OnnxCausalLM model = OnnxCausalLM.load(dir.resolve("onnx/model_fp16.onnx"), OnnxModelOptions.cpu(1))) {
            assertEquals(dir, model.files().configDirectory());
            assertEquals(4096, model.vocabSize());
        }
    }

    @Test
    void severalMatchingGraphsOrNoneFailListingWhatWasFound(@TempDir Path tmp) throws IOException {
        Path both = layout(tmp, "both", "model.onnx", "decoder_model_merged.onnx");
        String several = error(both, "");
        assertTrue(several.contains("several decoders") && several.contains("model.onnx")
                && several.contains("decoder_model_merged.onnx"), several);
        Path unrelated = layout(tmp, "unrelated", "decoder_model.onnx", "decoder_with_past_model.onnx");
        String msg = error(unrelated, "");
        assertTrue(msg.contains("decoder_model.onnx") && msg.contains("decoder_with_past_model.onnx"), msg);
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertTrue(error(empty, "").contains("expected a Hugging Face export"), error(empty, ""));
        assertThrows(IllegalArgumentException.class, () -> ModelFiles.locate(empty, "../x"));
        assertThrows(IllegalArgumentException.class, () -> OnnxModelOptions.cpu(1).withVariant("q 4"));
    }

    @Test
    void externalDataIsReadFromTheGraphAndCoveredByTheHash(@TempDir Path tmp) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("ext"));
        Path source = FIXTURES.resolve("mask-honouring");
        for (String f : List.of("model.onnx", "model.onnx_data", "config.json")) {
            Files.copy(source.resolve(f), dir.resolve(f));
        }
        ModelFiles files = ModelFiles.locate(dir, "");
        assertEquals(List.of(dir.resolve("model.onnx_data")), files.externalData());
        String before = files.sha256();
        assertEquals(before, ModelFiles.locate(dir, "").sha256(), "the hash is deterministic");
        byte[] data = Files.readAllBytes(dir.resolve("model.onnx_data"));
        data[data.length / 2] ^= 1;
        Files.write(dir.resolve("model.onnx_data"), data);
        assertNotEquals(before, ModelFiles.locate(dir, "").sha256(), "a changed external data file changes the hash");

        try (OnnxCausalLM model = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(1))) {
            assertEquals(model.files().sha256(), model.modelSha256());
            assertTrue(model.description().contains("1 external data file"), model.description());
        }
        Files.delete(dir.resolve("model.onnx_data"));
        String missing = error(dir, "");
        assertTrue(missing.contains("model.onnx_data") && missing.contains("missing"), missing);
        // Graphs without external data have none.
        assertTrue(ModelFiles.locate(FIXTURES.resolve("mask-ignoring"), "").externalData().isEmpty());
    }

    @Test
    void nestedTextConfigIsRead(@TempDir Path tmp) throws IOException {
        Path dir = layout(tmp, "gemma-like", "model.onnx");
        Files.delete(dir.resolve("generation_config.json"));
        Files.writeString(dir.resolve("config.json"), """
                {"model_type": "gemma3", "architectures": ["Gemma3ForConditionalGeneration"],
                 "eos_token_id": [4095, 7],
                 "text_config": {"model_type": "gemma3_text", "vocab_size": 4096, "num_hidden_layers": 2,
                                 "max_position_embeddings": 1024, "sliding_window": 512},
                 "vision_config": {"vocab_size": 17, "num_hidden_layers": 27}}
                """);
        ModelConfig config = ModelConfig.read(dir);
        assertEquals(4096, config.vocabSize());
        assertEquals(2, config.numHiddenLayers());
        assertEquals(1024, config.maxPositionEmbeddings());
        assertEquals(java.util.Set.of(4095, 7), config.eosTokenIds());
        assertEquals("gemma3_text", config.modelType());
        assertEquals(512, config.slidingWindow());
        try (OnnxCausalLM model = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(1));
             ModelSequence seq = model.newSequence()) {
            assertEquals(4096, seq.append(1, 2, 3).vocabSize());
            // A window shorter than the context: masked slots would shift it, so the cache is compacted.
            assertTrue(!model.rollbackDecision().masked() && model.rollbackDecision().reason().contains("sliding_window 512"),
                    model.rollbackDecision().toString());
        }
    }
}
