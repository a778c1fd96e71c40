package dev.specula.onnx;

import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.models.EmbeddedModels;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The load-time parity probe chooses masked rollback only where the graph really applies the mask. */
class RollbackProbeTest {
    static final Path FIXTURES = ModelFilesTest.FIXTURES;

    @Test
    void aGraphWhoseAttentionIgnoresMaskedSlotsGetsCompaction() {
        try (OnnxCausalLM model = OnnxCausalLM.load(FIXTURES.resolve("mask-ignoring"), OnnxModelOptions.cpu(1))) {
            assertFalse(model.rollbackDecision().masked(), model.rollbackDecision().toString());
            assertTrue(model.description().contains("compaction (parity probe"), model.description());
            assertTrue(model.toString().contains("rollback compaction"), model.toString());
            // With compaction, a rolled-back sequence continues exactly like a fresh one.
            assertRollbackEqualsFresh(model, 1e-5);
        }
    }

    @Test
    void theSameGraphHonouringTheMaskAndTheEmbeddedModelsKeepMaskedRollback() {
        for (Path dir : new Path[]{FIXTURES.resolve("mask-honouring"), EmbeddedModels.draft(), EmbeddedModels.target()}) {
            try (OnnxCausalLM model = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(1).withFusedAttention(false))) {
                assertTrue(model.rollbackDecision().masked(), dir + ": " + model.rollbackDecision());
                assertTrue(model.description().contains("masked O(1) (parity probe"), model.description());
                assertRollbackEqualsFresh(model, 1e-4);
            }
        }
    }

    @Test
    void theProbeMeasuresADifferenceOnlyWhereTheMaskIsIgnored() {
        // Forcing masked rollback on the mask-ignoring graph shows what the probe guards against.
        try (OnnxCausalLM ignoring = OnnxCausalLM.load(FIXTURES.resolve("mask-ignoring"),
                OnnxModelOptions.cpu(1).withRollback(OnnxModelOptions.RollbackMode.MASKED));
             OnnxCausalLM honouring = OnnxCausalLM.load(FIXTURES.resolve("mask-honouring"),
                     OnnxModelOptions.cpu(1).withRollback(OnnxModelOptions.RollbackMode.MASKED))) {
            double[] bad = RollbackProbe.parityError(ignoring);
            double[] good = RollbackProbe.parityError(honouring);
            assertTrue(bad[0] > 100 * RollbackProbe.FLOAT_TOLERANCE * Math.max(1, bad[1]), "ignoring: " + bad[0]);
            assertTrue(good[0] < 1e-5, "honouring: " + good[0]);
            assertEquals("masked O(1) (requested)", ignoring.rollbackDecision().toString());
        }
    }

    @Test
    void rollbackModesCanBeForcedAndGraphsWithoutPositionsAreCompacted() {
        try (OnnxCausalLM model = OnnxCausalLM.load(EmbeddedModels.draft(),
                OnnxModelOptions.cpu(1).withRollback(OnnxModelOptions.RollbackMode.COMPACT).withFusedAttention(false))) {
            assertFalse(model.rollbackDecision().masked());
            assertRollbackEqualsFresh(model, 1e-4);
        }
        // tiny-vocab100 takes position_ids and attention_mask; its probe passes.
        try (OnnxCausalLM model = OnnxCausalLM.load(FIXTURES.resolve("tiny-vocab100"), OnnxModelOptions.cpu(1))) {
            assertTrue(model.rollbackDecision().masked(), model.rollbackDecision().toString());
        }
        assertThrows(IllegalArgumentException.class, () -> OnnxModelOptions.cpu(1).withRollback(null));
    }

    /** Appends, rejects, appends other tokens, and compares with a fresh sequence over the kept tokens. */
    static void assertRollbackEqualsFresh(OnnxCausalLM model, double tolerance) {
        int vocab = model.vocabSize();
        int[] prompt = ids(vocab, 20, 1);
        int[] rejected = ids(vocab, 6, 2);
        int[] next = ids(vocab, 4, 3);
        try (ModelSequence seq = model.newSequence(); ModelSequence fresh = model.newSequence()) {
            seq.prefill(prompt, 0, prompt.length);
            for (int round = 0; round < 3; round++) {
                seq.append(rejected);
                seq.rollback(prompt.length);
            }
            Logits rolled = seq.append(next);
            int[] all = java.util.Arrays.copyOf(prompt, prompt.length + next.length);
            System.arraycopy(next, 0, all, prompt.length, next.length);
            Logits expected = fresh.append(all);
            for (int r = 0; r < next.length; r++) {
                for (int t = 0; t < vocab; t++) {
                    double d = Math.abs(rolled.get(r, t) - expected.get(prompt.length + r, t));
                    assertTrue(d <= tolerance, model.name() + " row " + r + " token " + t + ": |difference| " + d);
                }
            }
        }
    }

    static int[] ids(int vocab, int n, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = r.nextInt(vocab);
        }
        return out;
    }
}
