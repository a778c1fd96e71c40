package dev.specula.core.acceptance;

import dev.specula.core.model.Logits;
import dev.specula.core.sampling.Distribution;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.RowBounds;
import dev.specula.core.sampling.SamplingTransform;

/**
 * The target's verdict material for one step: its logits for the k+1 verified positions, turned into
 * distributions p lazily (a greedy rule needs only argmaxes; a sampling rule stops transforming rows at the
 * first rejection). Row {@code i} scores the position of draft token {@code i}; row {@code k} gives the bonus.
 * The scores know the sequence position each row chooses a token for, which keys the noise of sampled rules.
 *
 * <p>Per generation, reused every step; not thread-safe.
 */
public final class TargetScores {
    private final SamplingTransform transform;
    private Distribution[] rows = new Distribution[0];
    private boolean[] ready = new boolean[0];
    private final Distribution workspace;
    private final boolean bounded;
    /** Rows whose full distribution was computed since construction (tests check what bounds saved). */
    private long transformed;
    private Logits logits;
    private long firstPosition;

    public TargetScores(SamplingTransform transform) {
        this(transform, true);
    }

    /**
     * @param bounded whether decisions may be settled from a row's bounds ({@link SamplingTransform#bounds})
     *                before its distribution is computed; false computes every distribution consulted (tests
     *                compare the two)
     */
    TargetScores(SamplingTransform transform, boolean bounded) {
        this.transform = transform;
        this.bounded = bounded;
        this.workspace = new Distribution(transform.vocabSize());
    }

    /**
     * Points the scores at a new block of logits (valid for this step only).
     *
     * @param firstPosition the sequence position (prompt included, from 0) of the token row 0 chooses: the
     *                      length of the history before the step
     */
    public TargetScores reset(Logits logits, long firstPosition) {
        if (firstPosition < 0) {
            throw new IllegalArgumentException("firstPosition must be >= 0, got " + firstPosition);
        }
        if (logits.vocabSize() != transform.vocabSize()) {
            throw new IllegalArgumentException("target logits have vocabulary " + logits.vocabSize()
                    + ", expected " + transform.vocabSize());
        }
        this.logits = logits;
        this.firstPosition = firstPosition;
        int n = logits.rows();
        if (rows.length < n) {
            Distribution[] grown = new Distribution[n];
            System.arraycopy(rows, 0, grown, 0, rows.length);
            for (int i = rows.length; i < n; i++) {
                grown[i] = new Distribution(transform.vocabSize());
            }
            rows = grown;
            ready = new boolean[n];
        }
        java.util.Arrays.fill(ready, false);
        return this;
    }

    public int rows() {
        return logits.rows();
    }

    /** The sequence position of the token row {@code row} chooses. */
    public long position(int row) {
        return firstPosition + row;
    }

    /** The target's most likely token at a position, straight from its logits ({@link Logits#argmax}'s choice). */
    public int argmax(int row) {
        return transform.argmax(logits, row);
    }

    /** The distribution p the target samples from at a position (computed once per step). */
    public Distribution distribution(int row) {
        if (!ready[row]) {
            transform.apply(logits, row, rows[row]);
            ready[row] = true;
            transformed++;
        }
        return rows[row];
    }

    /**
     * Bounds on row {@code row}'s distribution, valid until the next call on these scores; null when the
     * transform has cuts, the row's distribution is already computed, or the row must go through the full
     * transform (which then reports a bad score). See {@link RowBounds}.
     */
    RowBounds bounds(int row) {
        return bounded && !ready[row] ? transform.bounds(logits, row) : null;
    }

    /**
     * The target's Gumbel-max token at a row ({@link KeyedNoise#gumbelMax(Distribution, long, KeyedNoise.Use)}
     * of its distribution), from the row's bounds when they settle it.
     */
    int gumbelMax(int row, KeyedNoise noise, KeyedNoise.Use use) {
        RowBounds b = bounds(row);
        if (b != null) {
            int token = noise.gumbelMax(b, position(row), use);
            if (token >= 0) {
                return token;
            }
        }
        return noise.gumbelMax(distribution(row), position(row), use);
    }

    /** How many rows' full distributions these scores have computed since they were made. */
    long transformed() {
        return transformed;
    }

    /** A scratch distribution for residuals (overwritten by each rule call). */
    Distribution workspace() {
        return workspace;
    }
}
