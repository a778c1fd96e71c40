package dev.specula.onnx;

import dev.specula.models.EmbeddedModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The load-time row-invariance probe flags a graph quantized like ONNX Runtime's {@code quantize_dynamic} (per-call
 * activation scale), and passes floating-point graphs and the same quantized graph rewritten to per-row scales.
 */
class RowInvarianceProbeTest {
    static final Path HF = Path.of("src/test/resources/hf");
    static final Path FIXTURES = ModelFilesTest.FIXTURES;

    @Test
    void floatingPointGraphsAreRowInvariant() {
        for (Path dir : new Path[]{HF.resolve("tiny-qwen2"), HF.resolve("tiny-gpt2"), FIXTURES.resolve("fp16-io"),
                FIXTURES.resolve("bf16-io"), EmbeddedModels.draft(), EmbeddedModels.target()}) {
            try (OnnxCausalLM model = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(1))) {
                RowInvarianceProbe.Decision d = model.rowInvariance();
                System.out.println("row probe " + dir + ": " + d);
                assertTrue(d.rowInvariant(), dir + ": " + d);
                assertTrue(d.reason().startsWith("row probe: max difference"), d.reason());
                assertTrue(model.description().contains("rowInvariant=true (row probe"), model.description());
            }
        }
    }

    @Test
    void perCallActivationQuantizationIsFlaggedWithItsCauseAndTheRewriteCommand() {
        try (OnnxCausalLM model = OnnxCausalLM.load(HF.resolve("tiny-qwen2-dynq8"), OnnxModelOptions.cpu(1))) {
            RowInvarianceProbe.Decision d = model.rowInvariance();
            System.out.println("row probe dynq8: " + d);
            assertFalse(d.rowInvariant(), d.toString());
            // the probe measures the difference itself, not only the static match
            assertTrue(d.maxDifference() > 10 * RowInvarianceProbe.FLOAT_TOLERANCE, d.toString());
            assertTrue(d.reason().contains("quantizes activations per call (DynamicQuantizeLinear)"), d.reason());
            assertTrue(d.reason().contains(RowInvarianceProbe.REWRITE_COMMAND + " model.onnx model-rowwise.onnx"),
                    d.reason());
            assertTrue(model.description().contains("rowInvariant=false"), model.description());
        }
    }

    @Test
    void theGraphRewrittenToPerRowQuantizationIsRowInvariant() {
        try (OnnxCausalLM model = OnnxCausalLM.load(HF.resolve("tiny-qwen2-dynq8-rowwise"), OnnxModelOptions.cpu(1))) {
            RowInvarianceProbe.Decision d = model.rowInvariance();
            System.out.println("row probe dynq8-rowwise: " + d);
            assertTrue(d.rowInvariant(), d.toString());
            assertEquals(List.of(), RowInvarianceProbe.perCallQuantization(model.files().graph()));
        }
    }

    @Test
    void theStaticCheckFindsOperatorNamesAcrossReadBoundaries(@TempDir Path dir) throws IOException {
        byte[] name = "DynamicQuantizeMatMul".getBytes(StandardCharsets.US_ASCII);
        byte[] file = new byte[(1 << 20) + 64];
        int at = (1 << 20) - 7; // split between the first and the second 1 MiB read
        System.arraycopy(name, 0, file, at, name.length);
        Path graph = dir.resolve("model.onnx");
        Files.write(graph, file);
        assertEquals(List.of("DynamicQuantizeMatMul"), RowInvarianceProbe.perCallQuantization(graph));
        Files.write(graph, new byte[100]);
        assertEquals(List.of(), RowInvarianceProbe.perCallQuantization(graph));
    }
}
