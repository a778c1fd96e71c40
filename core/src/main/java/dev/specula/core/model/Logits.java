package dev.specula.core.model;

import java.nio.FloatBuffer;
import java.util.Objects;

/**
 * A block of next-token logits: one row of {@code vocabSize} scores per appended position, row {@code i}
 * scoring the token that follows the {@code i}-th appended token.
 *
 * <p>It is a read-only view over a buffer owned by the {@link ModelSequence} that returned it (often a
 * direct buffer filled by the native runtime without a copy), so it is valid only until the next call on
 * that sequence. Copy what must outlive that with {@link #copyRow}.
 */
public final class Logits {
    private final FloatBuffer data;
    private final int rows;
    private final int vocabSize;

    /**
     * @param data row-major scores; element {@code row * vocabSize + token} at absolute index from 0
     */
    public Logits(FloatBuffer data, int rows, int vocabSize) {
        this.data = Objects.requireNonNull(data, "data");
        if (rows < 0 || vocabSize <= 0) {
            throw new IllegalArgumentException("rows must be >= 0 and vocabSize > 0, got " + rows + " x " + vocabSize);
        }
        if ((long) rows * vocabSize > data.limit()) {
            throw new IllegalArgumentException("buffer holds " + data.limit() + " floats, expected at least "
                    + rows + " x " + vocabSize);
        }
        this.rows = rows;
        this.vocabSize = vocabSize;
    }

    /** Copies the given rows into a new heap-backed block (for tests and reference models). */
    public static Logits of(float[]... rows) {
        int vocab = rows[0].length;
        float[] flat = new float[rows.length * vocab];
        for (int r = 0; r < rows.length; r++) {
            if (rows[r].length != vocab) {
                throw new IllegalArgumentException("row " + r + " has " + rows[r].length + " scores, expected " + vocab);
            }
            System.arraycopy(rows[r], 0, flat, r * vocab, vocab);
        }
        return new Logits(FloatBuffer.wrap(flat), rows.length, vocab);
    }

    public int rows() {
        return rows;
    }

    public int vocabSize() {
        return vocabSize;
    }

    public float get(int row, int token) {
        Objects.checkIndex(row, rows);
        Objects.checkIndex(token, vocabSize);
        return data.get(row * vocabSize + token);
    }

    /** One row as a one-row block: a view over the same buffer (no copy), valid as long as this block is. */
    public Logits row(int row) {
        Objects.checkIndex(row, rows);
        FloatBuffer view = data.duplicate();
        view.limit((row + 1) * vocabSize).position(row * vocabSize);
        return new Logits(view.slice(), 1, vocabSize);
    }

    /** Copies one row into {@code dst[0, vocabSize)}. */
    public void copyRow(int row, float[] dst) {
        Objects.checkIndex(row, rows);
        data.get(row * vocabSize, dst, 0, vocabSize);
    }

    /**
     * The highest-scoring token of a row (the lowest id among ties), as greedy decoding picks it.
     *
     * @throws NonFiniteLogitsException if the row holds NaN or +Infinity
     */
    public int argmax(int row) {
        Objects.checkIndex(row, rows);
        int base = row * vocabSize;
        int best = 0;
        float bestValue = Float.NEGATIVE_INFINITY;
        for (int t = 0; t < vocabSize; t++) {
            float v = data.get(base + t);
            if (v > bestValue) {
                bestValue = v;
                best = t;
            } else if (v != v) {
                throw new NonFiniteLogitsException(row, t, v);
            }
        }
        if (bestValue == Float.POSITIVE_INFINITY) {
            throw new NonFiniteLogitsException(row, best, bestValue);
        }
        return best;
    }
}
