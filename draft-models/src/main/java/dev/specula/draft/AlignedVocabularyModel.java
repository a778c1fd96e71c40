package dev.specula.draft;

import dev.specula.core.model.CausalLanguageModel;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * A draft model seen through the target's logits width: models of one family often pad their output layer to
 * different sizes over one tokenizer (Qwen2.5-0.5B scores 151,936 ids, 7B 152,064, the tokenizer has 151,665).
 * Scores of ids the draft cannot or must not propose — beyond its own width or beyond the tokenizer (padding
 * ids) — read as minus infinity, so the draft drafts over the shared ids only and its distributions are directly
 * comparable with the target's.
 *
 * <p>Does not own the wrapped model: closing this closes nothing.
 */
public final class AlignedVocabularyModel implements CausalLanguageModel {
    private final CausalLanguageModel draft;
    private final int width;
    private final int usable;

    /**
     * @param draft  the draft model
     * @param width  the target's logits width, which this model reports
     * @param usable ids below this may be proposed (the tokenizer's size, at most the draft's width)
     */
    public AlignedVocabularyModel(CausalLanguageModel draft, int width, int usable) {
        this.draft = Objects.requireNonNull(draft, "draft");
        if (width <= 0 || usable <= 0 || usable > Math.min(width, draft.vocabSize())) {
            throw new IllegalArgumentException("usable ids " + usable + " must be in [1, min(target width " + width
                    + ", draft width " + draft.vocabSize() + ")]");
        }
        this.width = width;
        this.usable = usable;
    }

    @Override
    public String name() {
        return draft.name();
    }

    @Override
    public int vocabSize() {
        return width;
    }

    @Override
    public int maxSequenceLength() {
        return draft.maxSequenceLength();
    }

    @Override
    public ModelSequence newSequence() {
        return new Sequence(draft.newSequence());
    }

    @Override
    public void close() {
        // the wrapped model has its own owner
    }

    private final class Sequence implements ModelSequence {
        private final ModelSequence inner;
        private float[] rows = new float[0];
        private float[] row = new float[0];

        Sequence(ModelSequence inner) {
            this.inner = inner;
        }

        @Override
        public Logits append(int[] tokens, int offset, int count) {
            return pad(inner.append(tokens, offset, count));
        }

        /** Delegates, so the wrapped model's one-row catch-up (chunked, no count x vocabulary copy) is kept. */
        @Override
        public Logits appendLast(int[] tokens, int offset, int count) {
            return pad(inner.appendLast(tokens, offset, count));
        }

        private Logits pad(Logits raw) {
            int n = raw.rows();
            if (rows.length < n * width) {
                rows = new float[n * width];
                row = new float[raw.vocabSize()];
            }
            for (int r = 0; r < n; r++) {
                raw.copyRow(r, row);
                System.arraycopy(row, 0, rows, r * width, usable);
                Arrays.fill(rows, r * width + usable, (r + 1) * width, Float.NEGATIVE_INFINITY);
            }
            return new Logits(FloatBuffer.wrap(rows, 0, n * width), n, width);
        }

        @Override
        public void prefill(int[] tokens, int offset, int count) {
            inner.prefill(tokens, offset, count);
        }

        @Override
        public void rollback(int length) {
            inner.rollback(length);
        }

        @Override
        public int length() {
            return inner.length();
        }

        @Override
        public int vocabSize() {
            return width;
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
