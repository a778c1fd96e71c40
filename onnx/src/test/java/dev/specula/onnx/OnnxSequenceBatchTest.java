package dev.specula.onnx;

import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.model.SequenceBatch;
import dev.specula.core.model.SequentialBatch;
import dev.specula.models.EmbeddedModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.IntFunction;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The native batch against each sequence decoded alone: greedy speculative-style steps (rows joining late, leaving
 * early, skipped, getting different token counts per call, rolled back by different lengths) must emit exactly the
 * tokens plain greedy decoding of each prompt alone emits, and the same scenario run on {@link SequentialBatch}
 * (the contract without batching) must emit the same tokens.
 *
 * <p>Logit tolerance: {@link RollbackProbe#FLOAT_TOLERANCE} of the largest logit, the tolerance the runner already
 * accepts between a masked-rollback sequence and a fresh one. Batching changes floating-point sums in the same two
 * ways masking does (softmax sums over masked slots, which add exact zeros but may regroup the additions, and matrix
 * products of other shapes, whose kernels may block the reduction differently); it changes no value that is summed.
 */
class OnnxSequenceBatchTest {
    static final Path HF = Path.of("src/test/resources/hf");
    static final Path FIXTURES = Path.of("src/test/resources/fixtures");
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

    /** The scripted multi-row run, and what it measured against each prompt decoded alone. */
    record Outcome(List<int[]> emitted, double maxDifference, double maxLogit, int comparedRows, int calls) {
    }

    /**
     * Six prompts (one of a single token, so its row joins empty) joining at steps 0-8 and leaving after 6-24 new
     * tokens. Each step, every active row but a rotating skipped one gets its pending token plus 0-4 draft tokens
     * (the true greedy continuation with one position spoiled at random, or not), ONE call appends them all, each
     * row keeps the drafts greedy agrees with and rolls back the rest, and now and then rolls back 1-3 tokens it
     * had emitted (regenerated on later steps).
     */
    static Outcome run(OnnxCausalLM model, SequenceBatch batch, long seed) {
        int vocab = model.vocabSize();
        int tokenRange = Math.min(vocab, 4000);
        int[] promptLengths = {5, 23, 1, 40, 2, 17};
        int[] joinAt = {0, 0, 2, 5, 3, 8};
        int[] newTokens = {20, 9, 16, 24, 6, 14};
        int rowsTotal = promptLengths.length;
        int[][] prompts = new int[rowsTotal][];
        Reference[] refs = new Reference[rowsTotal];
        for (int i = 0; i < rowsTotal; i++) {
            prompts[i] = new SplittableRandom(seed * 31 + i).ints(promptLengths[i], 0, tokenRange).toArray();
            refs[i] = Reference.of(model, prompts[i], newTokens[i] + 6);
        }
        SplittableRandom r = new SplittableRandom(seed);
        int[] handle = new int[rowsTotal];
        Arrays.fill(handle, -1);
        boolean[] done = new boolean[rowsTotal];
        List<List<Integer>> hist = new ArrayList<>();
        for (int[] p : prompts) {
            List<Integer> h = new ArrayList<>();
            for (int t : p) {
                h.add(t);
            }
            hist.add(h);
        }
        int[][] emitted = new int[rowsTotal][];
        double maxDiff = 0;
        double maxLogit = 0;
        int compared = 0;
        int calls = 0;
        for (int step = 0; !allDone(done); step++) {
            for (int i = 0; i < rowsTotal; i++) {
                if (joinAt[i] == step) {
                    ModelSequence s = model.newSequence();
                    if (prompts[i].length > 1) {
                        s.prefill(prompts[i], 0, prompts[i].length - 1);
                    }
                    handle[i] = batch.adopt(s);
                }
            }
            List<Integer> listed = new ArrayList<>();
            List<int[]> fed = new ArrayList<>();
            for (int i = 0; i < rowsTotal; i++) {
                if (handle[i] < 0 || done[i] || (step + i) % 5 == 4) {
                    continue; // not joined yet, finished, or skipped this step
                }
                List<Integer> h = hist.get(i);
                int length = batch.length(handle[i]);
                assertEquals(h.size() - 1, length, "row " + i + " length");
                int next = h.size() - prompts[i].length; // emitted index the pending token's logits predict
                int k = Math.min(r.nextInt(5), refs[i].tokens.length - next - 1);
                int spoil = r.nextInt(k + 2);
                int[] tokens = new int[k + 1];
                tokens[0] = h.get(h.size() - 1);
                for (int d = 1; d <= k; d++) {
                    int truth = refs[i].tokens[next + d - 1];
                    tokens[d] = d == spoil ? (truth + 1 + r.nextInt(tokenRange - 1)) % tokenRange : truth;
                }
                listed.add(i);
                fed.add(tokens);
            }
            if (listed.isEmpty()) {
                continue;
            }
            int[] rowHandles = listed.stream().mapToInt(i -> handle[i]).toArray();
            List<Logits> out = batch.append(rowHandles, fed);
            calls++;
            assertEquals(listed.size(), out.size());
            for (int li = 0; li < listed.size(); li++) {
                int i = listed.get(li);
                int[] tokens = fed.get(li);
                Logits logits = out.get(li);
                assertEquals(tokens.length, logits.rows(), "row " + i + " logits rows");
                List<Integer> h = hist.get(i);
                int next = h.size() - prompts[i].length;
                int length = h.size() - 1;
                int accepted = 0;
                while (accepted < tokens.length - 1 && tokens[accepted + 1] == logits.argmax(accepted)) {
                    accepted++;
                }
                for (int a = 0; a <= accepted; a++) {
                    int token = logits.argmax(a);
                    float[] expected = refs[i].logits[next + a];
                    for (int t = 0; t < vocab; t++) {
                        maxDiff = Math.max(maxDiff, Math.abs(expected[t] - logits.get(a, t)));
                        maxLogit = Math.max(maxLogit, Math.abs(expected[t]));
                    }
                    compared++;
                    assertEquals(refs[i].tokens[next + a], token, "row " + i + " emitted token " + (next + a)
                            + " (step " + step + ") differs from the prompt decoded alone");
                    h.add(token);
                }
                batch.rollback(handle[i], length + 1 + accepted);
                int emittedSoFar = h.size() - prompts[i].length;
                if (emittedSoFar >= newTokens[i]) {
                    emitted[i] = h.subList(prompts[i].length, h.size()).stream().mapToInt(Integer::intValue).toArray();
                    batch.remove(handle[i]);
                    done[i] = true;
                } else if (r.nextInt(6) == 0) {
                    int back = 1 + r.nextInt(Math.min(3, emittedSoFar));
                    batch.rollback(handle[i], batch.length(handle[i]) - back);
                    h.subList(h.size() - back, h.size()).clear();
                }
            }
        }
        assertEquals(0, batch.size(), "every row left");
        return new Outcome(Arrays.asList(emitted), maxDiff, maxLogit, compared, calls);
    }

    private static boolean allDone(boolean[] done) {
        for (boolean d : done) {
            if (!d) {
                return false;
            }
        }
        return true;
    }

    /** Plain greedy decoding of one prompt alone, one token per call, keeping every step's logits. */
    record Reference(int[] tokens, float[][] logits) {
        static Reference of(OnnxCausalLM model, int[] prompt, int n) {
            int[] tokens = new int[n];
            float[][] logits = new float[n][model.vocabSize()];
            try (ModelSequence seq = model.newSequence()) {
                if (prompt.length > 1) {
                    seq.prefill(prompt, 0, prompt.length - 1);
                }
                int pending = prompt[prompt.length - 1];
                for (int i = 0; i < n; i++) {
                    Logits l = seq.append(pending);
                    l.copyRow(0, logits[i]);
                    tokens[i] = l.argmax(0);
                    pending = tokens[i];
                }
            }
            return new Reference(tokens, logits);
        }
    }

    private static void assertBatchedEqualsAlone(OnnxCausalLM model, long seed) {
        int open = model.openSequences();
        Outcome batched;
        try (SequenceBatch batch = model.newBatch(6)) {
            assertInstanceOf(OnnxSequenceBatch.class, batch, model.batching());
            batched = run(model, batch, seed);
        }
        Outcome sequential;
        try (SequenceBatch batch = new SequentialBatch(model, 6)) {
            sequential = run(model, batch, seed);
        }
        double tolerance = RollbackProbe.FLOAT_TOLERANCE * Math.max(1, batched.maxLogit());
        System.out.printf(Locale.ROOT, "%s: batched vs alone: max |logit difference| %.3e (max |logit| %.3g,"
                        + " tolerance %.1e) over %d rows in %d calls; sequential batch vs alone: %.3e%n", model.name(),
                batched.maxDifference(), batched.maxLogit(), tolerance, batched.comparedRows(), batched.calls(),
                sequential.maxDifference());
        for (int i = 0; i < batched.emitted().size(); i++) {
            assertArrayEquals(sequential.emitted().get(i), batched.emitted().get(i), "row " + i);
        }
        assertTrue(batched.maxDifference() <= tolerance, model.name() + ": max |logit difference| "
                + batched.maxDifference() + " > " + tolerance);
        assertEquals(open, model.openSequences(), "sequences and rows left open");
    }

    @Test
    void embeddedTargetBatchedEqualsEachPromptAlone() {
        assertBatchedEqualsAlone(target, 1);
    }

    @Test
    void embeddedDraftBatchedEqualsEachPromptAlone() {
        assertBatchedEqualsAlone(draft, 2);
    }

    @Test
    void huggingFaceGraphsBatchedEqualEachPromptAlone() {
        for (String name : List.of("tiny-qwen2", "tiny-gpt2")) {
            try (OnnxCausalLM model = OnnxCausalLM.load(HF.resolve(name), OnnxModelOptions.cpu(1))) {
                assertBatchedEqualsAlone(model, 3);
            }
        }
    }
}
