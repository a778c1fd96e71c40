package dev.specula.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtException;
import dev.specula.core.model.Logits;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pinned logits buffers grow with the widest call, not to {@link SequenceBuffers#PINNED_ROWS} up front. */
class SequenceBuffersTest {

    @Test
    void pinnedRowsGrowByDoublingUpToTheLimit() throws OrtException {
        try (SequenceBuffers b = new SequenceBuffers(OrtEnvironments.get(), 8, OnnxJavaType.FLOAT)) {
            assertEquals(1, b.pinnedCapacityRows(), "a fresh set holds one row (a prefill's last row)");
            b.logitsTensor(1);
            assertEquals(1, b.pinnedCapacityRows());
            b.logitsTensor(3);
            assertEquals(3, b.pinnedCapacityRows(), "at least the rows asked for");
            b.logitsTensor(4);
            assertEquals(6, b.pinnedCapacityRows(), "doubled, so a widening draft reallocates a few times at most");
            b.logitsTensor(2);
            assertEquals(6, b.pinnedCapacityRows(), "never shrinks");
            b.logitsTensor(SequenceBuffers.PINNED_ROWS);
            assertEquals(SequenceBuffers.PINNED_ROWS, b.pinnedCapacityRows());
            assertThrows(IllegalArgumentException.class, () -> b.logitsTensor(SequenceBuffers.PINNED_ROWS + 1));
        }
    }

    @Test
    void logitsReadAfterTheBufferGrowsAreThoseOfTheUnpinnedPath() {
        int[] tokens = RollbackProbeTest.ids(4096, 40, 3);
        try (OnnxCausalLM model = OnnxCausalLM.load(dev.specula.models.EmbeddedModels.draft(), OnnxModelOptions.cpu(1));
             OnnxSequence pinned = model.newSequence(true);
             OnnxSequence reference = model.newSequence(true)) {
            Logits all = reference.append(tokens, 0, 40); // 40 rows: ONNX Runtime's own output, copied
            float[][] expected = new float[40][4096];
            for (int r = 0; r < 40; r++) {
                all.copyRow(r, expected[r]);
            }
            pinned.prefill(tokens, 0, 20);
            assertRow(expected[20], pinned.append(tokens, 20, 1), 0);
            int before = pinned.pinnedLogitRows();
            assertTrue(before < SequenceBuffers.PINNED_ROWS, "the probes at load left " + before + " rows");
            Logits wide = pinned.append(tokens, 21, SequenceBuffers.PINNED_ROWS); // pinned rows 21..37
            assertEquals(SequenceBuffers.PINNED_ROWS, pinned.pinnedLogitRows(), "grown from " + before);
            for (int r = 0; r < SequenceBuffers.PINNED_ROWS; r++) {
                assertRow(expected[21 + r], wide, r);
            }
            assertRow(expected[38], pinned.append(tokens, 38, 1), 0);
        }
    }

    @Test
    void aLongPromptsLastRowNeedsOnePinnedRow() {
        int[] tokens = RollbackProbeTest.ids(4096, 40, 4);
        try (OnnxCausalLM model = OnnxCausalLM.load(dev.specula.models.EmbeddedModels.draft(),
                OnnxModelOptions.cpu(1).withPrefillChunkTokens(32));
             OnnxSequence s = model.newSequence(true)) {
            int before = s.pinnedLogitRows();
            s.appendLast(tokens, 0, 30); // one chunk of 30 > 17 rows: 29 tokens without logits, then the last alone
            assertEquals(before, s.pinnedLogitRows());
            s.appendLast(tokens, 30, 10); // a last chunk of 10 rows comes back in one pinned call
            assertTrue(s.pinnedLogitRows() >= 10, "rows " + s.pinnedLogitRows());
        }
    }

    private static void assertRow(float[] expected, Logits rows, int row) {
        float[] actual = new float[expected.length];
        rows.copyRow(row, actual);
        for (int t = 0; t < expected.length; t++) {
            assertEquals(expected[t], actual[t], 1e-4, "token " + t);
        }
    }
}
