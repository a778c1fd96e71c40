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
    /** The embedded pair as loaded by default: attention fused, batches are {@link FusedSequenceBatch}es. */
    static OnnxCausalLM target;
    static OnnxCausalLM draft;
    /** The embedded pair as exported: batches are {@link OnnxSequenceBatch}es with masked slots. */
    static OnnxCausalLM exportedTarget;
    static OnnxCausalLM exportedDraft;

    @BeforeAll
    static void load() {
        target = OnnxCausalLM.load(EmbeddedModels.target(), OnnxModelOptions.cpu(2));
        draft = OnnxCausalLM.load(EmbeddedModels.draft(), OnnxModelOptions.cpu(1));
        exportedTarget = OnnxCausalLM.load(EmbeddedModels.target(), OnnxModelOptions.cpu(2).withFusedAttention(false));
        exportedDraft = OnnxCausalLM.load(EmbeddedModels.draft(), OnnxModelOptions.cpu(1).withFusedAttention(false));
        assertTrue(target.fusedAttention(), target.description());
        assertTrue(draft.fusedAttention(), draft.description());
        assertFalse(exportedTarget.fusedAttention(), exportedTarget.description());
    }

    @AfterAll
    static void close() {
        target.close();
        draft.close();
        exportedTarget.close();
        exportedDraft.close();
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
        assertBatchedEqualsAlone(model, seed, RollbackProbe.FLOAT_TOLERANCE);
    }

    private static void assertBatchedEqualsAlone(OnnxCausalLM model, long seed, double relativeTolerance) {
        int open = model.openSequences();
        Outcome batched;
        try (SequenceBatch batch = model.newBatch(6)) {
            Class<?> expected = model.fusedAttention() ? FusedSequenceBatch.class : OnnxSequenceBatch.class;
            assertTrue(expected.isInstance(batch), model.batching());
            batched = run(model, batch, seed);
        }
        Outcome sequential;
        try (SequenceBatch batch = new SequentialBatch(model, 6)) {
            sequential = run(model, batch, seed);
        }
        double tolerance = relativeTolerance * Math.max(1, batched.maxLogit());
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
        assertBatchedEqualsAlone(exportedTarget, 1);
    }

    @Test
    void embeddedDraftBatchedEqualsEachPromptAlone() {
        assertBatchedEqualsAlone(draft, 2);
        assertBatchedEqualsAlone(exportedDraft, 2);
    }

    @Test
    void huggingFaceGraphsBatchedEqualEachPromptAlone() {
        for (String name : List.of("tiny-qwen2", "tiny-gpt2")) {
            try (OnnxCausalLM model = OnnxCausalLM.load(HF.resolve(name), OnnxModelOptions.cpu(1))) {
                assertBatchedEqualsAlone(model, 3);
            }
        }
    }

    /**
     * Float16 and bfloat16 KV caches and logits (converted to float32 rows by the batch) on graphs with a batch
     * axis, with {@link RollbackProbe#HALF_TOLERANCE}: the reference rounds the same float32 results to the same
     * half-precision values, so a difference here would be a wrong row or slot, not rounding.
     */
    @Test
    void halfPrecisionGraphsBatchedEqualEachPromptAlone() {
        for (String name : List.of("fp16-batched", "bf16-batched")) {
            try (OnnxCausalLM model = OnnxCausalLM.load(FIXTURES.resolve(name), OnnxModelOptions.cpu(1))) {
                assertTrue(model.rollbackDecision().masked(), model.description());
                assertBatchedEqualsAlone(model, 4, RollbackProbe.HALF_TOLERANCE);
            }
        }
    }

    private static OnnxSequence prefilled(OnnxCausalLM model, int n, long seed) {
        OnnxSequence s = model.newSequence(true);
        s.prefill(new SplittableRandom(seed).ints(n, 0, Math.min(4000, model.vocabSize())).toArray(), 0, n);
        return s;
    }

    @Test
    void adoptRemoveAndCloseAreIdempotentAndLeakNothing() {
        int open = target.openSequences();
        SequenceBatch batch = target.newBatch(3);
        OnnxSequence a = prefilled(target, 12, 1);
        int rowA = batch.adopt(a);
        assertEquals(open + 1, target.openSequences(), "the row counts as the adopted sequence did");
        assertThrows(IllegalStateException.class, a::length, "the adopted sequence is closed");
        a.close(); // the owner closing it again is harmless
        int rowB = batch.adopt(prefilled(target, 5, 2));
        assertEquals(2, batch.size());
        assertEquals(12, batch.length(rowA));
        assertEquals(5, batch.length(rowB));
        batch.remove(rowA);
        assertEquals(1, batch.size());
        assertEquals(open + 1, target.openSequences());
        assertThrows(IllegalArgumentException.class, () -> batch.remove(rowA), "removed twice");
        assertThrows(IllegalArgumentException.class, () -> batch.length(rowA));
        int rowC = batch.adopt(prefilled(target, 7, 3));
        assertFalse(rowC == rowA, "handles are never reused");
        batch.close();
        batch.close();
        assertEquals(open, target.openSequences());
        assertThrows(IllegalStateException.class, () -> batch.length(rowB));
        assertThrows(IllegalStateException.class, () -> batch.append(new int[]{rowB}, List.of(new int[]{1})));
        OnnxSequence late = prefilled(target, 3, 4);
        assertThrows(IllegalStateException.class, () -> batch.adopt(late));
        late.close();
        assertEquals(open, target.openSequences());
    }

    @Test
    void badInputFailsClearlyAndChangesNothing() {
        try (SequenceBatch batch = target.newBatch(2)) {
            int row = batch.adopt(prefilled(target, 4, 5));
            int other = batch.adopt(prefilled(target, 6, 6));
            String unknown = assertThrows(IllegalArgumentException.class,
                    () -> batch.append(new int[]{row, 99}, List.of(new int[]{1}, new int[]{2}))).getMessage();
            assertTrue(unknown.contains("no row 99"), unknown);
            String twice = assertThrows(IllegalArgumentException.class,
                    () -> batch.append(new int[]{row, row}, List.of(new int[]{1}, new int[]{2}))).getMessage();
            assertTrue(twice.contains("listed twice"), twice);
            String empty = assertThrows(IllegalArgumentException.class,
                    () -> batch.append(new int[]{row, other}, List.of(new int[]{1}, new int[0]))).getMessage();
            assertTrue(empty.contains("no tokens"), empty);
            String vocab = assertThrows(IllegalArgumentException.class,
                    () -> batch.append(new int[]{row}, List.of(new int[]{target.vocabSize()}))).getMessage();
            assertTrue(vocab.contains("outside the vocabulary"), vocab);
            assertThrows(IllegalArgumentException.class, () -> batch.append(new int[]{row}, List.of()));
            assertThrows(IllegalArgumentException.class, () -> batch.append(new int[0], List.of()));
            int[] tooMany = new int[target.maxSequenceLength() - 5];
            String longMessage = assertThrows(IllegalArgumentException.class,
                    () -> batch.append(new int[]{other}, List.of(tooMany))).getMessage();
            assertTrue(longMessage.contains("context of " + target.maxSequenceLength()), longMessage);
            assertThrows(IllegalArgumentException.class, () -> batch.rollback(row, 5));
            assertThrows(IllegalArgumentException.class, () -> batch.rollback(row, -1));
            OnnxSequence foreign = prefilled(draft, 3, 7);
            assertThrows(IllegalArgumentException.class, () -> batch.adopt(foreign), "another model's sequence");
            foreign.close();
            OnnxSequence third = prefilled(target, 3, 8);
            String full = assertThrows(IllegalArgumentException.class, () -> batch.adopt(third)).getMessage();
            assertTrue(full.contains("full"), full);
            third.close();
            assertEquals(4, batch.length(row));
            assertEquals(6, batch.length(other));
            List<Logits> out = batch.append(new int[]{other, row}, List.of(new int[]{1, 2}, new int[]{3}));
            assertEquals(2, out.get(0).rows());
            assertEquals(1, out.get(1).rows());
            assertEquals(8, batch.length(other));
            assertEquals(5, batch.length(row));
        }
    }

    @Test
    void aClosedModelFailsTheBatchClearly() {
        OnnxCausalLM model = OnnxCausalLM.load(HF.resolve("tiny-qwen2"), OnnxModelOptions.cpu(1));
        SequenceBatch batch = model.newBatch(2);
        int row = batch.adopt(prefilled(model, 4, 9));
        model.close();
        String message = assertThrows(IllegalStateException.class,
                () -> batch.append(new int[]{row}, List.of(new int[]{1}))).getMessage();
        assertTrue(message.contains("closed"), message);
        batch.close();
        assertThrows(IllegalStateException.class, () -> model.newBatch(2));
    }

    @Test
    void graphsWithAFixedBatchOrCompactingRollbackFallBackToOneCallPerRow() {
        try (OnnxCausalLM fixed = OnnxCausalLM.load(FIXTURES.resolve("mask-honouring"), OnnxModelOptions.cpu(1));
             SequenceBatch batch = fixed.newBatch(2)) {
            assertFalse(fixed.signature().dynamicBatch());
            assertInstanceOf(SequentialBatch.class, batch);
            assertTrue(fixed.description().contains("one forward call per row (the graph's batch axis is fixed"),
                    fixed.description());
        }
        try (OnnxCausalLM compacting = OnnxCausalLM.load(EmbeddedModels.draft(),
                OnnxModelOptions.cpu(1).withRollback(OnnxModelOptions.RollbackMode.COMPACT).withFusedAttention(false));
             SequenceBatch batch = compacting.newBatch(2)) {
            assertTrue(compacting.signature().dynamicBatch());
            assertInstanceOf(SequentialBatch.class, batch);
            assertTrue(compacting.batching().contains("rollback here is by compaction"), compacting.batching());
        }
        assertTrue(target.signature().dynamicBatch(), "the embedded pair has a dynamic batch axis");
        assertTrue(draft.signature().dynamicBatch());
        assertEquals("one forward call for all rows", target.batching());
        assertTrue(target.description().contains("batches: one forward call for all rows"), target.description());
    }

    @Test
    void maskedSlotsAreCompactedAndRemovedRowsDroppedWithoutCopyingEveryStep() {
        int[][] prompts = {new SplittableRandom(10).ints(30, 0, 4000).toArray(),
                new SplittableRandom(11).ints(9, 0, 4000).toArray()};
        OnnxSequenceBatch batch = (OnnxSequenceBatch) exportedTarget.newBatch(3);
        try (batch) {
            int[] rows = new int[2];
            List<List<Integer>> kept = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                OnnxSequence s = exportedTarget.newSequence(true);
                s.prefill(prompts[i], 0, prompts[i].length);
                rows[i] = batch.adopt(s);
                List<Integer> k = new ArrayList<>();
                for (int t : prompts[i]) {
                    k.add(t);
                }
                kept.add(k);
            }
            SplittableRandom r = new SplittableRandom(12);
            int regathers = batch.regathers();
            int maxSlots = 0;
            for (int step = 0; step < 60; step++) {
                int[][] fed = {r.ints(1 + r.nextInt(5), 0, 4000).toArray(), r.ints(1 + r.nextInt(3), 0, 4000).toArray()};
                batch.append(rows, List.of(fed));
                for (int i = 0; i < 2; i++) {
                    int keep = r.nextInt(fed[i].length + 1);
                    batch.rollback(rows[i], kept.get(i).size() + keep);
                    for (int j = 0; j < keep; j++) {
                        kept.get(i).add(fed[i][j]);
                    }
                }
                maxSlots = Math.max(maxSlots, batch.cacheSlots());
            }
            assertTrue(batch.regathers() > regathers, "masked slots were compacted");
            int longest = Math.max(kept.get(0).size(), kept.get(1).size());
            assertTrue(maxSlots < longest + longest / 3 + 40, "cache slots " + maxSlots + " for rows of at most "
                    + longest + " tokens");
            int[][] last = {{5, 6, 7}, {8}};
            List<Logits> out = batch.append(rows, List.of(last));
            for (int i = 0; i < 2; i++) {
                int[] all = new int[kept.get(i).size() + last[i].length];
                for (int j = 0; j < kept.get(i).size(); j++) {
                    all[j] = kept.get(i).get(j);
                }
                System.arraycopy(last[i], 0, all, kept.get(i).size(), last[i].length);
                try (ModelSequence fresh = exportedTarget.newSequence()) {
                    Logits expected = fresh.append(all);
                    for (int j = 0; j < last[i].length; j++) {
                        float[] e = new float[exportedTarget.vocabSize()];
                        expected.copyRow(kept.get(i).size() + j, e);
                        for (int t = 0; t < e.length; t++) {
                            assertEquals(e[t], out.get(i).get(j, t), 1e-3, "row " + i + " position " + j);
                        }
                    }
                }
            }
            batch.remove(rows[0]);
            batch.remove(rows[1]);
            assertEquals(0, batch.cacheRows(), "an empty batch holds no cache");
            assertEquals(0, batch.cacheSlots());
        }
    }

    /**
     * A fused batch rolls rows back by length only: after 60 steps of random widths and rollbacks, each row's next
     * logits equal a fresh sequence fed the row's kept tokens, and rows leave and rejoin in any order.
     */
    @Test
    void fusedRowsRollBackByLengthAndMatchAFreshSequence() {
        int[][] prompts = {new SplittableRandom(10).ints(30, 0, 4000).toArray(),
                new SplittableRandom(11).ints(9, 0, 4000).toArray(), new SplittableRandom(13).ints(3, 0, 4000).toArray()};
        FusedSequenceBatch batch = (FusedSequenceBatch) target.newBatch(3);
        try (batch) {
            int[] rows = new int[3];
            List<List<Integer>> kept = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                OnnxSequence s = target.newSequence(true);
                s.prefill(prompts[i], 0, prompts[i].length);
                rows[i] = batch.adopt(s);
                List<Integer> k = new ArrayList<>();
                for (int t : prompts[i]) {
                    k.add(t);
                }
                kept.add(k);
            }
            batch.remove(rows[0]); // the last row moves into its place
            rows[0] = batch.adopt(prefilledWith(target, kept.get(0)));
            SplittableRandom r = new SplittableRandom(12);
            for (int step = 0; step < 60; step++) {
                int[][] fed = {r.ints(1 + r.nextInt(5), 0, 4000).toArray(), r.ints(1 + r.nextInt(3), 0, 4000).toArray()};
                batch.append(new int[]{rows[0], rows[1]}, List.of(fed)); // the third row sits out: padding only
                for (int i = 0; i < 2; i++) {
                    int keep = r.nextInt(fed[i].length + 1);
                    batch.rollback(rows[i], kept.get(i).size() + keep);
                    for (int j = 0; j < keep; j++) {
                        kept.get(i).add(fed[i][j]);
                    }
                }
            }
            int[][] last = {{5, 6, 7}, {8}, {9, 10}};
            List<Logits> out = batch.append(rows, List.of(last));
            for (int i = 0; i < 3; i++) {
                assertEquals(kept.get(i).size() + last[i].length, batch.length(rows[i]));
                int[] all = new int[kept.get(i).size() + last[i].length];
                for (int j = 0; j < kept.get(i).size(); j++) {
                    all[j] = kept.get(i).get(j);
                }
                System.arraycopy(last[i], 0, all, kept.get(i).size(), last[i].length);
                try (ModelSequence fresh = exportedTarget.newSequence()) {
                    Logits expected = fresh.append(all);
                    for (int j = 0; j < last[i].length; j++) {
                        float[] e = new float[target.vocabSize()];
                        expected.copyRow(kept.get(i).size() + j, e);
                        for (int t = 0; t < e.length; t++) {
                            assertEquals(e[t], out.get(i).get(j, t), 1e-3, "row " + i + " position " + j);
                        }
                    }
                }
            }
            assertTrue(batch.cacheSlots() >= 30 + 60, "slots grew with the rows: " + batch.cacheSlots());
        }
    }

    private static OnnxSequence prefilledWith(OnnxCausalLM model, List<Integer> tokens) {
        OnnxSequence s = model.newSequence(true);
        s.prefill(tokens.stream().mapToInt(Integer::intValue).toArray(), 0, tokens.size());
        return s;
    }

    @Test
    void aRowLeavesWithoutACopyAndIsDroppedByTheNextJoinOrOnceAQuarterOfTheRowsAreGone() {
        OnnxSequenceBatch batch = (OnnxSequenceBatch) exportedTarget.newBatch(5);
        try (batch) {
            List<Integer> rows = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                rows.add(batch.adopt(prefilled(exportedTarget, 8 + i, 20 + i)));
            }
            int[] one = new int[]{1};
            batch.remove(rows.remove(2));
            int before = batch.regathers();
            for (int step = 0; step < 3; step++) {
                batch.append(rows.stream().mapToInt(Integer::intValue).toArray(), List.of(one, one, one, one));
            }
            assertEquals(before, batch.regathers(), "leaving copies nothing");
            assertEquals(5, batch.cacheRows(), "the removed row waits, masked, for the next regather");
            rows.add(batch.adopt(prefilled(exportedTarget, 6, 30)));
            assertEquals(before + 1, batch.regathers(), "joining is one regather");
            assertEquals(5, batch.cacheRows(), "the join dropped the removed row");
            batch.remove(rows.remove(0));
            batch.remove(rows.remove(0));
            batch.append(rows.stream().mapToInt(Integer::intValue).toArray(), List.of(one, one, one));
            assertEquals(before + 2, batch.regathers(), "two of five rows gone: compacted");
            assertEquals(3, batch.cacheRows());
        }
    }

    /**
     * A row one token short of the context beside a row that gets several tokens: the call's cache outgrows the
     * model's positions (every row's new tokens take slots after the longest row's), which the graphs must take as
     * they take masked slots; both rows' logits still equal each alone.
     */
    @Test
    void aRowAtTheEndOfTheContextBesideAWideRow() {
        for (Path dir : List.of(HF.resolve("tiny-gpt2"), HF.resolve("tiny-qwen2"))) {
            try (OnnxCausalLM model = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(1));
                 SequenceBatch batch = model.newBatch(2)) {
                int max = model.maxSequenceLength();
                int[] longPrompt = new SplittableRandom(40).ints(max - 1, 0, model.vocabSize()).toArray();
                int[] shortPrompt = new SplittableRandom(41).ints(20, 0, model.vocabSize()).toArray();
                int[] wide = {5, 6, 7, 8};
                int full;
                try (ModelSequence s = model.newSequence()) {
                    s.prefill(longPrompt, 0, longPrompt.length);
                    full = batch.adopt(s);
                }
                int other;
                try (ModelSequence s = model.newSequence()) {
                    s.prefill(shortPrompt, 0, shortPrompt.length);
                    other = batch.adopt(s);
                }
                List<Logits> out = batch.append(new int[]{full, other}, List.of(new int[]{9}, wide));
                assertEquals(max, batch.length(full));
                try (ModelSequence a = model.newSequence(); ModelSequence b = model.newSequence()) {
                    a.prefill(longPrompt, 0, longPrompt.length);
                    assertRowsClose(a.append(9), out.get(0), model.name() + " full row");
                    b.prefill(shortPrompt, 0, shortPrompt.length);
                    assertRowsClose(b.append(wide), out.get(1), model.name() + " wide row");
                }
                batch.rollback(full, max - 3);
                List<Logits> next = batch.append(new int[]{other, full}, List.of(wide, new int[]{1, 2, 3}));
                try (ModelSequence a = model.newSequence(); ModelSequence b = model.newSequence()) {
                    a.prefill(longPrompt, 0, max - 3);
                    assertRowsClose(a.append(1, 2, 3), next.get(1), model.name() + " full row after rollback");
                    b.prefill(shortPrompt, 0, shortPrompt.length);
                    b.prefill(wide, 0, wide.length);
                    assertRowsClose(b.append(wide), next.get(0), model.name() + " wide row, second call");
                }
            }
        }
    }

    private static void assertRowsClose(Logits expected, Logits actual, String what) {
        assertEquals(expected.rows(), actual.rows(), what);
        double max = 0;
        for (int r = 0; r < expected.rows(); r++) {
            for (int t = 0; t < expected.vocabSize(); t++) {
                max = Math.max(max, Math.abs(expected.get(r, t) - actual.get(r, t)));
            }
            assertEquals(expected.argmax(r), actual.argmax(r), what + " row " + r);
        }
        assertTrue(max <= 1e-4, what + ": max |difference| " + max);
    }
}
