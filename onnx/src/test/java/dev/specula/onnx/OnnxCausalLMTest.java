package dev.specula.onnx;

import dev.specula.core.SpeculaException;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.models.EmbeddedModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The ONNX runner on the embedded pair: one call over k+1 tokens, rollback, concurrency, lifetime, bad models. */
class OnnxCausalLMTest {
    static OnnxCausalLM target;
    static OnnxCausalLM draft;

    @BeforeAll
    static void load() {
        target = OnnxCausalLM.load(EmbeddedModels.target(), OnnxModelOptions.cpu(2));
        draft = OnnxCausalLM.load(EmbeddedModels.draft(), OnnxModelOptions.cpu(1));
    }

    @AfterAll
    static void close() {
        target.close();
        draft.close();
    }

    static int[] tokens(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = r.nextInt(4000);
        }
        return t;
    }

    static float[] row(Logits logits, int row) {
        float[] out = new float[logits.vocabSize()];
        logits.copyRow(row, out);
        return out;
    }

    static void assertClose(float[] expected, float[] actual, double tolerance, String what) {
        double max = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(max <= tolerance, what + ": max |difference| " + max + " > " + tolerance);
    }

    @Test
    void discoversTheSignatureFromTheSession() {
        ModelSignature sig = target.signature();
        assertEquals(target.config().numHiddenLayers(), sig.layers());
        assertTrue(sig.kvHeads() < 6, "grouped-query attention: fewer KV heads than query heads");
        assertTrue(sig.hasAttentionMask() && !sig.hasUseCacheBranch());
        assertTrue(target.fusedAttention(), target.description());
        assertFalse(sig.hasPositionIds(), "the fused kernel takes positions from the attention mask");
        assertEquals(4096, target.vocabSize());
        assertEquals(target.vocabSize(), draft.vocabSize());
    }

    @Test
    void verifyShapedCallEqualsSequentialCalls() {
        for (OnnxCausalLM model : List.of(target, draft)) {
            int[] prompt = tokens(40, 1);
            int[] next = tokens(9, 2);
            try (ModelSequence a = model.newSequence(); ModelSequence b = model.newSequence()) {
                a.append(prompt);
                b.append(prompt);
                Logits verify = a.append(next);
                float[][] parallel = new float[next.length][];
                for (int i = 0; i < next.length; i++) {
                    parallel[i] = row(verify, i);
                }
                for (int i = 0; i < next.length; i++) {
                    Logits one = b.append(next[i]);
                    assertClose(row(one, 0), parallel[i], 1e-4, model.name() + " position " + i);
                }
                assertEquals(a.length(), b.length());
            }
        }
    }

    @Test
    void aPrefillWithoutLogitsLeavesTheSameCacheAsAnAppend() {
        for (OnnxCausalLM model : List.of(target, draft)) {
            int[] prompt = tokens(40, 5); // more rows than the pinned logits buffer holds
            try (ModelSequence a = model.newSequence(); ModelSequence b = model.newSequence()) {
                a.prefill(prompt, 0, prompt.length - 1);
                Logits last = a.append(prompt[prompt.length - 1]);
                Logits all = b.append(prompt);
                assertClose(row(last, 0), row(all, prompt.length - 1), 1e-4, model.name());
                assertEquals(b.length(), a.length());
            }
        }
    }

    @Test
    void afterRejectionsAndRollbackTheNextLogitsEqualAFreshRun() {
        int[] prompt = tokens(30, 3);
        SplittableRandom r = new SplittableRandom(4);
        try (ModelSequence seq = target.newSequence()) {
            seq.append(prompt);
            List<Integer> accepted = new ArrayList<>();
            for (int i : prompt) {
                accepted.add(i);
            }
            // Many verify-and-reject steps: enough masked slots to force several compactions.
            for (int step = 0; step < 60; step++) {
                int[] draftTokens = tokens(5, 100 + step);
                seq.append(draftTokens);
                int keep = r.nextInt(6);
                seq.rollback(accepted.size() + keep);
                for (int i = 0; i < keep; i++) {
                    accepted.add(draftTokens[i]);
                }
                assertEquals(accepted.size(), seq.length());
            }
            assertTrue(((OnnxSequence) seq).physicalLength() < seq.length() + 100, "masked slots were compacted");
            int[] last = tokens(3, 999);
            Logits continued = seq.append(last);
            int[] all = new int[accepted.size() + last.length];
            for (int i = 0; i < accepted.size(); i++) {
                all[i] = accepted.get(i);
            }
            System.arraycopy(last, 0, all, accepted.size(), last.length);
            try (ModelSequence fresh = target.newSequence()) {
                Logits expected = fresh.append(all);
                for (int i = 0; i < last.length; i++) {
                    assertClose(row(expected, accepted.size() + i), row(continued, i), 1e-4, "row " + i);
                }
            }
        }
    }

    @Test
    void rollbackToZeroStartsOver() {
        try (ModelSequence seq = target.newSequence(); ModelSequence fresh = target.newSequence()) {
            seq.append(tokens(20, 5));
            seq.rollback(0);
            assertEquals(0, seq.length());
            int[] p = tokens(7, 6);
            assertClose(row(fresh.append(p), 6), row(seq.append(p), 6), 1e-5, "after reset");
        }
    }

    @Test
    void oneSessionServesConcurrentSequences() throws Exception {
        int[] prompt = tokens(16, 7);
        int[] expected = greedy(prompt, 12);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<int[]>> results = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                results.add(pool.submit(() -> greedy(prompt, 12)));
            }
            for (Future<int[]> f : results) {
                assertArrayEquals(expected, f.get());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static int[] greedy(int[] prompt, int n) {
        try (ModelSequence seq = target.newSequence()) {
            Logits l = seq.append(prompt);
            int[] out = new int[n];
            int next = l.argmax(l.rows() - 1);
            for (int i = 0; i < n; i++) {
                out[i] = next;
                next = seq.append(next).argmax(0);
            }
            return out;
        }
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseFailsClearly() {
        int open = target.openSequences();
        ModelSequence seq = target.newSequence();
        seq.append(1, 2, 3);
        seq.close();
        seq.close();
        assertEquals(open, target.openSequences());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> seq.append(4));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IllegalStateException.class, seq::length);

        OnnxCausalLM own = OnnxCausalLM.load(EmbeddedModels.draft(), OnnxModelOptions.cpu(1));
        ModelSequence orphan = own.newSequence();
        orphan.append(1, 2);
        own.close();
        own.close();
        IllegalStateException closedModel = assertThrows(IllegalStateException.class, () -> orphan.append(3));
        assertTrue(closedModel.getMessage().contains("model"), closedModel.getMessage());
        orphan.close();
        assertThrows(IllegalStateException.class, own::newSequence);
    }

    @Test
    void rejectsTokensOutsideTheVocabularyAndOverlongSequences() {
        try (ModelSequence seq = target.newSequence()) {
            assertThrows(IllegalArgumentException.class, () -> seq.append(4096));
            assertThrows(IllegalArgumentException.class, () -> seq.append(-1));
            assertThrows(IllegalArgumentException.class, () -> seq.rollback(1));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> seq.append(new int[target.maxSequenceLength() + 1]));
            assertTrue(e.getMessage().contains("context"), e.getMessage());
        }
    }

    private static Path copyOf(Path dir, Path into) throws IOException {
        Files.createDirectories(into);
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.copy(f, into.resolve(f.getFileName()));
            }
        }
        return into;
    }

    private static String loadError(Path dir) {
        return assertThrows(SpeculaException.class, () -> OnnxCausalLM.load(dir, OnnxModelOptions.cpu(1))).getMessage();
    }

    @Test
    void badModelDirectoriesFailWithMessagesThatSayWhy(@TempDir Path tmp) throws IOException {
        assertTrue(loadError(tmp.resolve("nowhere")).contains("does not exist"));
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertTrue(loadError(empty).contains("no model.onnx"));

        Path noConfig = copyOf(EmbeddedModels.draft(), tmp.resolve("no-config"));
        Files.delete(noConfig.resolve("config.json"));
        assertTrue(loadError(noConfig).contains("no config.json"));

        Path random = copyOf(EmbeddedModels.draft(), tmp.resolve("random"));
        byte[] noise = new byte[4096];
        new SplittableRandom(1).nextBytes(noise);
        Files.write(random.resolve("model.onnx"), noise);
        assertTrue(loadError(random).startsWith("cannot load"), loadError(random));

        Path truncated = copyOf(EmbeddedModels.draft(), tmp.resolve("truncated"));
        byte[] model = Files.readAllBytes(truncated.resolve("model.onnx"));
        Files.write(truncated.resolve("model.onnx"), Arrays.copyOf(model, model.length / 3));
        assertTrue(loadError(truncated).startsWith("cannot load"), loadError(truncated));

        Path noKv = Path.of("src/test/resources/fixtures/no-kv");
        String msg = loadError(noKv);
        assertTrue(msg.contains("no past_key_values") && msg.contains("text-generation-with-past"), msg);

        Path wrongVocab = copyOf(EmbeddedModels.draft(), tmp.resolve("wrong-vocab"));
        String config = Files.readString(wrongVocab.resolve("config.json")).replace("\"vocab_size\": 4096", "\"vocab_size\": 5000");
        Files.writeString(wrongVocab.resolve("config.json"), config);
        String vocabMsg = loadError(wrongVocab);
        assertTrue(vocabMsg.contains("4096") && vocabMsg.contains("5000"), vocabMsg);

        Path badJson = copyOf(EmbeddedModels.draft(), tmp.resolve("bad-json"));
        Files.writeString(badJson.resolve("config.json"), "{ not json");
        assertTrue(loadError(badJson).contains("config.json"));
    }

    @Test
    void cudaWithoutTheGpuRuntimeFailsClearly() {
        SpeculaException e = assertThrows(SpeculaException.class,
                () -> OnnxCausalLM.load(EmbeddedModels.draft(), OnnxModelOptions.cuda(0)));
        assertTrue(e.getMessage().contains("onnxruntime_gpu"), e.getMessage());
    }
}
