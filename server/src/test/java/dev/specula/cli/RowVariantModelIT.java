package dev.specula.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A target quantized like ONNX Runtime's {@code quantize_dynamic} (per-call activation scale) is row-variant: the
 * commands say so and why, and {@code bench} reports a greedy difference with that reason instead of failing.
 */
class RowVariantModelIT {
    private static final String DYNQ8 = Path.of("../onnx/src/test/resources/hf/tiny-qwen2-dynq8").toString();

    @Test
    void generateCompareNamesTheCaveatAndVerboseShowsRowInvariance() throws Exception {
        GenerateCommandIT.Run r = GenerateCommandIT.specula("generate", "--json", "--compare", "--no-warm-up",
                "--verbose", "--target", DYNQ8, "--draft-model", DYNQ8, "--draft-length", "4", "--threads", "1",
                "--max-new-tokens", "24", "--prompt", "hello world");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().contains("rowInvariant=false (the graph quantizes activations per call"), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertTrue(j.has("identical"), r.out());
        assertTrue(j.get("identical_caveat").asText().contains("row_invariant_quant.py rewrite"), r.out());
    }

    @Test
    void benchReportsAGreedyDifferenceWithTheReasonInsteadOfFailing(@TempDir Path tmp) throws Exception {
        Path json = tmp.resolve("bench.json");
        GenerateCommandIT.Run r = GenerateCommandIT.specula("bench", "--quick", "--workloads", "code",
                "--max-new-tokens", "32", "--target", DYNQ8, "--draft-model", DYNQ8, "--threads", "1",
                "--json", json.toString());
        assertEquals(0, r.exit(), r.err());
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertTrue(root.toString().contains("row-variant (the graph quantizes activations per call"), root.toString());
        boolean differed = false;
        for (JsonNode c : root.get("workloads").get(0).get("configs")) {
            differed |= c.has("identical") && c.get("identical").isBoolean() && !c.get("identical").asBoolean();
        }
        assertEquals(differed, r.err().contains("warning: a greedy configuration's output differed from plain"
                + " decoding, as the target's row-variance allows"), r.err());
    }
}
