package dev.specula.onnx;

import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.models.EmbeddedModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Chunked prefill against one-shot prefill; float16/bfloat16 graphs against float32; the optimized-graph cache. */
class PrefillAndPrecisionTest {
    static final Path FIXTURES = ModelFilesTest.FIXTURES;

    @Test
    void chunkedPrefillEqualsOneShotPrefill() {
        int[] prompt = RollbackProbeTest.ids(4096, 300, 11); // 300 tokens: 18 chunks of 17, or 4 of 80
        for (Path dir : new Path[]{EmbeddedModels.target(), EmbeddedModels.draft()}) {
            try (OnnxCausalLM oneShot = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(2).withPrefillChunkTokens(1024))) {
                float[] expected = nextRow(oneShot, prompt);
                int[] expectedGreedy = greedy(oneShot, prompt, 12);
                for (int chunk : new int[]{17, 80, 299}) {
                    try (OnnxCausalLM chunked = OnnxCausalLM.load(dir,
                            OnnxModelOptions.cpu(2).withPrefillChunkTokens(chunk))) {
                        float[] actual = nextRow(chunked, prompt);
                        double max = 0;
                        for (int t = 0; t < expected.length; t++) {
                            max = Math.max(max, Math.abs(expected[t] - actual[t]));
                        }
                        assertTrue(max <= 1e-5, dir.getFileName() + " chunk " + chunk + ": max |difference| " + max);
                        assertArrayEquals(expectedGreedy, greedy(chunked, prompt, 12), "chunk " + chunk);
                        assertTrue(chunked.description().contains("prefill chunks of " + chunk), chunked.description());
                    }
                }
            }
        }
    }

    @Test
    void appendLastReturnsTheLastRowOfAnAppendInFewCalls() {
        try (OnnxCausalLM model = OnnxCausalLM.load(EmbeddedModels.draft(), OnnxModelOptions.cpu(1).withPrefillChunkTokens(32))) {
            for (int count : new int[]{1, 5, 17, 18, 32, 33, 50, 64, 100}) {
                int[] tokens = RollbackProbeTest.ids(4096, count + 5, count);
                try (ModelSequence a = model.newSequence(); ModelSequence b = model.newSequence()) {
                    a.prefill(tokens, 0, 3); // an existing cache, and an offset into the array
                    b.prefill(tokens, 0, 3);
                    long calls = model.runs();
                    Logits last = a.appendLast(tokens, 3, count);
                    long used = model.runs() - calls;
                    Logits all = b.append(tokens, 3, count);
                    assertEquals(1, last.rows());
                    float[] x = new float[4096];
                    float[] y = new float[4096];
                    last.copyRow(0, x);
                    all.copyRow(count - 1, y);
                    for (int t = 0; t < x.length; t++) {
                        assertEquals(y[t], x[t], 1e-4, "count " + count + " token " + t);
                    }
                    int chunks = (count + 31) / 32;
                    int lastChunk = (count - 1) % 32 + 1;
                    assertEquals(lastChunk <= SequenceBuffers.PINNED_ROWS ? chunks : chunks + 1, used, "calls for " + count);
                    assertEquals(a.length(), b.length());
                }
            }
        }
    }

    @Test
    void halfPrecisionKvCacheAndLogitsAreConvertedByOnnxRuntime() {
        int[] prompt = RollbackProbeTest.ids(64, 40, 5);
        try (OnnxCausalLM fp32 = OnnxCausalLM.load(FIXTURES.resolve("mask-honouring"), OnnxModelOptions.cpu(1))) {
            float[][] reference = rows(fp32, prompt);
            for (String half : new String[]{"fp16-io", "bf16-io"}) {
                try (OnnxCausalLM model = OnnxCausalLM.load(FIXTURES.resolve(half), OnnxModelOptions.cpu(1))) {
                    ModelSignature sig = model.signature();
                    assertEquals(half.startsWith("fp16") ? ai.onnxruntime.OnnxJavaType.FLOAT16
                            : ai.onnxruntime.OnnxJavaType.BFLOAT16, sig.kvType());
                    assertEquals(sig.kvType(), sig.logitsType());
                    assertTrue(model.rollbackDecision().masked(), model.rollbackDecision().toString());
                    float[][] actual = rows(model, prompt);
                    // bfloat16 keeps 8 mantissa bits (relative 2^-8), float16 11; the cache is rounded each step.
                    double tolerance = half.startsWith("fp16") ? 0.02 : 0.15;
                    for (int r = 0; r < actual.length; r++) {
                        for (int t = 0; t < 64; t++) {
                            assertEquals(reference[r][t], actual[r][t], tolerance + 0.01 * Math.abs(reference[r][t]),
                                    half + " row " + r + " token " + t);
                        }
                    }
                    RollbackProbeTest.assertRollbackEqualsFresh(model, tolerance); // a fresh call attends to unrounded keys
                }
                // Compaction gathers half-precision caches with the graph for their type.
                try (OnnxCausalLM model = OnnxCausalLM.load(FIXTURES.resolve(half),
                        OnnxModelOptions.cpu(1).withRollback(OnnxModelOptions.RollbackMode.COMPACT))) {
                    RollbackProbeTest.assertRollbackEqualsFresh(model, half.startsWith("fp16") ? 0.02 : 0.15);
                }
            }
        }
    }

    @Test
    void aSecondLoadUsesTheCachedOptimizedGraph(@TempDir Path tmp) throws IOException {
        Path cache = tmp.resolve("ort-cache");
        OnnxModelOptions options = OnnxModelOptions.cpu(1).withOptimizedModelCache(cache);
        int[] prompt = RollbackProbeTest.ids(4096, 30, 9);
        float[] first;
        try (OnnxCausalLM model = OnnxCausalLM.load(EmbeddedModels.draft(), options)) {
            assertTrue(model.description().contains("optimized graph written to"), model.description());
            assertTrue(model.fusedAttention(), model.description());
            first = nextRow(model, prompt);
        }
        try (var entries = Files.list(cache)) {
            Path entry = entries.filter(p -> !p.getFileName().toString().startsWith(".")).findFirst().orElseThrow();
            assertTrue(Files.isRegularFile(entry.resolve(OptimizedModelCache.GRAPH)), entry.toString());
        }
        try (OnnxCausalLM model = OnnxCausalLM.load(EmbeddedModels.draft(), options)) {
            assertTrue(model.description().contains("loaded the optimized graph"), model.description());
            assertTrue(model.fusedAttention(), "the cached graph is the fused one: " + model.description());
            assertTrue(model.rollbackDecision().masked(), model.rollbackDecision().toString());
            float[] second = nextRow(model, prompt);
            for (int t = 0; t < first.length; t++) {
                assertEquals(first[t], second[t], 1e-4, "token " + t);
            }
        }
    }

    static float[] nextRow(OnnxCausalLM model, int[] prompt) {
        try (ModelSequence seq = model.newSequence()) {
            seq.prefill(prompt, 0, prompt.length - 1);
            float[] row = new float[model.vocabSize()];
            seq.append(prompt, prompt.length - 1, 1).copyRow(0, row);
            return row;
        }
    }

    static int[] greedy(OnnxCausalLM model, int[] prompt, int n) {
        int[] out = new int[n];
        try (ModelSequence seq = model.newSequence()) {
            Logits logits = seq.appendLast(prompt, 0, prompt.length);
            for (int i = 0; i < n; i++) {
                out[i] = logits.argmax(logits.rows() - 1);
                logits = seq.append(out[i]);
            }
        }
        return out;
    }

    static float[][] rows(OnnxCausalLM model, int[] prompt) {
        try (ModelSequence seq = model.newSequence()) {
            Logits logits = seq.append(prompt); // 40 rows: the copied (not pinned) path
            float[][] out = new float[prompt.length + 3][model.vocabSize()];
            for (int r = 0; r < prompt.length; r++) {
                logits.copyRow(r, out[r]);
            }
            Logits more = seq.append(1, 2, 3); // pinned path
            for (int r = 0; r < 3; r++) {
                more.copyRow(r, out[prompt.length + r]);
            }
            return Arrays.copyOf(out, out.length);
        }
    }
}
