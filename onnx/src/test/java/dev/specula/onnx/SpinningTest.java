package dev.specula.onnx;

import dev.specula.core.model.Logits;
import dev.specula.models.EmbeddedModels;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Spinning intra-op threads: {@code AUTO} spins only where other processes leave the cores idle, the decision and
 * its reason show in the model's description, and spinning changes no output.
 */
class SpinningTest {

    @Test
    void spinningPaysOnlyWhereOtherProcessesLeaveTheThreadsIdleCores() {
        assertTrue(new CpuContention(0.0, 2).spinningPays(2));
        assertTrue(new CpuContention(0.45, 2).spinningPays(2));
        assertFalse(new CpuContention(0.55, 2).spinningPays(2), "1.45 idle cores for 2 threads");
        assertFalse(new CpuContention(1.0, 2).spinningPays(2), "one busy process on 2 cores");
        assertTrue(new CpuContention(1.0, 4).spinningPays(2), "3 idle cores for 2 threads");
        assertFalse(new CpuContention(0.0, 8).spinningPays(1), "one thread has no pool to spin");
        assertFalse(new CpuContention(Double.NaN, 8).spinningPays(2), "unknown contention");
    }

    @Test
    void aBusyProcessIsSeenAsContention() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/bin/sh")), "needs /bin/sh to start a busy process");
        CpuContention quiet = CpuContention.sample(Duration.ofMillis(50));
        assertEquals(Runtime.getRuntime().availableProcessors(), quiet.cores());
        assertTrue(Double.isNaN(quiet.otherCores()) || quiet.otherCores() >= 0 && quiet.otherCores() <= quiet.cores(),
                quiet.toString());
        assumeTrue(!Double.isNaN(quiet.otherCores()), "this JVM reports no CPU load");
        Process busy = new ProcessBuilder("/bin/sh", "-c", "while :; do :; done").start();
        try {
            Thread.sleep(50);
            CpuContention c = CpuContention.sample(Duration.ofMillis(300));
            assertTrue(c.otherCores() >= 0.5, "a busy loop in another process: " + c);
            if (c.cores() <= 2) {
                assertFalse(c.spinningPays(c.cores()), c.toString());
            }
        } finally {
            busy.destroyForcibly().waitFor();
        }
    }

    @Test
    void theDecisionAndItsReasonAreInTheDescription() {
        Path dir = EmbeddedModels.draft();
        try (OnnxCausalLM on = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(2).withSpinning(true));
             OnnxCausalLM off = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(2).withSpinning(false));
             OnnxCausalLM one = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(1));
             OnnxCausalLM auto = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(2))) {
            assertEquals("while a call runs (on in the options)", on.spinning());
            assertEquals("off (off in the options)", off.spinning());
            assertEquals("off (auto: one thread)", one.spinning());
            assertTrue(auto.spinning().matches("(while a call runs|off) \\(auto: other processes( busy on \\d+\\.\\d\\d of"
                    + " \\d+ cores|' CPU use unknown) at load\\)"), auto.spinning());
            assertTrue(auto.description().contains("spinning " + auto.spinning()), auto.description());
            assertArrayEquals(greedy(off, 24), greedy(on, 24), "spinning must not change the output");
        }
        assertEquals(OnnxModelOptions.Spinning.AUTO, OnnxModelOptions.defaults().spinning());
        assertThrows(IllegalArgumentException.class, () -> OnnxModelOptions.cpu(2).withSpinning(
                (OnnxModelOptions.Spinning) null));
    }

    private static int[] greedy(OnnxCausalLM model, int steps) {
        int[] out = new int[steps];
        try (OnnxSequence seq = model.newSequence(model.maskedRollback(), true)) {
            Logits logits = seq.appendLast(new int[]{1, 2, 3, 4, 5}, 0, 5);
            float[] row = new float[model.vocabSize()];
            for (int i = 0; i < steps; i++) {
                logits.copyRow(logits.rows() - 1, row);
                int best = 0;
                for (int v = 1; v < row.length; v++) {
                    best = row[v] > row[best] ? v : best;
                }
                out[i] = best;
                logits = seq.append(new int[]{best}, 0, 1);
            }
        }
        return out;
    }
}
