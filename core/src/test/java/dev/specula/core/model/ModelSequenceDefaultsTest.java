package dev.specula.core.model;

import dev.specula.core.testing.ReferenceModel;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Logits.row views one row; the default appendLast is one append call viewed at its last row. */
class ModelSequenceDefaultsTest {
    @Test
    void rowIsAOneRowViewOfTheSameScores() {
        Logits block = Logits.of(new float[]{1, 2, 3}, new float[]{4, 9, 6});
        Logits last = block.row(1);
        assertEquals(1, last.rows());
        assertEquals(3, last.vocabSize());
        assertEquals(9, last.get(0, 1));
        assertEquals(1, last.argmax(0));
        assertEquals(2, block.row(0).get(0, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> block.row(2));
    }

    @Test
    void defaultAppendLastMakesOneCallAndReturnsTheLastRow() {
        ReferenceModel model = ReferenceModel.builder(50, 3).build();
        int[] tokens = {4, 8, 15, 16, 23};
        try (ModelSequence a = model.newSequence(); ModelSequence b = model.newSequence()) {
            long calls = model.calls();
            Logits last = a.appendLast(tokens, 1, 4);
            assertEquals(1, model.calls() - calls);
            Logits all = b.append(tokens, 1, 4);
            assertEquals(1, last.rows());
            for (int t = 0; t < 50; t++) {
                assertEquals(all.get(3, t), last.get(0, t));
            }
            assertEquals(4, a.length());
        }
    }
}
