package dev.specula.core.sampling;

import dev.specula.core.SpeculaException;
import dev.specula.core.model.Logits;
import dev.specula.core.model.NonFiniteLogitsException;

import java.util.Arrays;

/**
 * The sampling transform as it was before selection replaced sorting (a verbatim copy, kept as the test oracle
 * that {@link SamplingTransform} must agree with): every step over the whole row, top-k by quickselect over a
 * copy, top-p by probing thresholds over the whole row and sorting the tokens above the last one.
 */
final class ReferenceSamplingTransform {
    private final SamplingParams params;
    private final int vocabSize;
    private final float[] work;
    private final float[] scratch;
    private final float[] exponents;
    private long[] keys = new long[64];

    ReferenceSamplingTransform(SamplingParams params, int vocabSize) {
        if (vocabSize <= 0) {
            throw new IllegalArgumentException("vocabSize must be > 0, got " + vocabSize);
        }
        this.params = params;
        this.vocabSize = vocabSize;
        this.work = new float[vocabSize];
        this.exponents = new float[vocabSize];
        this.scratch = params.topK() > 0 && params.topK() < vocabSize ? new float[vocabSize] : null;
    }

    public SamplingParams params() {
        return params;
    }

    public int vocabSize() {
        return vocabSize;
    }

    /**
     * Fills {@code out} with the distribution for one logits row and returns it.
     *
     * @throws NonFiniteLogitsException if the row holds NaN or +Infinity
     * @throws SpeculaException         if every logit is -Infinity
     */
    public Distribution apply(Logits logits, int row, Distribution out) {
        if (logits.vocabSize() != vocabSize || out.vocabSize() != vocabSize) {
            throw new IllegalArgumentException("vocabulary sizes differ: logits " + logits.vocabSize() + ", distribution "
                    + out.vocabSize() + ", transform " + vocabSize);
        }
        if (params.isGreedy()) {
            out.setOneHot(logits.argmax(row));
            return out;
        }
        logits.copyRow(row, work);
        float raw = RowMath.max(work, vocabSize); // NaN is caught below, where it surfaces in the sum
        if (raw == Float.POSITIVE_INFINITY || raw == Float.NEGATIVE_INFINITY) {
            int bad = RowMath.firstNonFinite(work, vocabSize);
            if (bad >= 0) {
                throw new NonFiniteLogitsException(row, bad, work[bad]);
            }
            throw new SpeculaException("every logit of row " + row + " is -Infinity: no token can be chosen");
        }
        float inv = (float) (1.0 / params.temperature());
        scale(work, vocabSize, inv);
        // Rounding is monotone, so the largest scaled score is the scaled largest score.
        float max = raw * inv;
        // Unnormalized weights: the best token weighs exactly 1 (e^0), every other at most 1.
        float[] p = out.probabilities();
        expShifted(work, max, p, exponents, vocabSize);
        double total = RowMath.sum(p, vocabSize);
        if (Double.isNaN(total)) {
            int bad = RowMath.firstNonFinite(work, vocabSize);
            throw new NonFiniteLogitsException(row, bad, bad >= 0 ? work[bad] : Float.NaN);
        }
        int argmax = RowMath.indexOf(p, vocabSize, 1f); // top-k, top-p and min-p all keep the best token
        if (scratch != null) {
            System.arraycopy(work, 0, scratch, 0, vocabSize);
            float kth = kthLargest(scratch, params.topK());
            for (int t = 0; t < vocabSize; t++) {
                if (work[t] < kth) {
                    total -= p[t];
                    p[t] = 0f;
                }
            }
        }
        if (params.topP() < 1) {
            total = nucleus(p, total * params.topP());
        }
        if (params.minP() > 0) {
            float cut = (float) params.minP();
            for (int t = 0; t < vocabSize; t++) {
                if (p[t] < cut) {
                    total -= p[t];
                    p[t] = 0f;
                }
            }
        }
        if (!out.normalize(total, argmax)) {
            throw new SpeculaException("row " + row + " left no token with positive probability after temperature "
                    + params.temperature() + ", top-k, top-p and min-p");
        }
        return out;
    }

    /** Zeroes every weight outside the nucleus of mass {@code target}; returns the kept mass. */
    private double nucleus(float[] p, double target) {
        // The nucleus is a prefix of the descending order, so it lies inside {p >= tau} as soon as that set's
        // mass reaches the target: find such a tau cheaply, then sort only those candidates.
        float tau = 1f;
        int count;
        while (true) {
            tau /= 16f;
            double mass = 0;
            count = 0;
            for (float w : p) {
                if (w >= tau) {
                    mass += w;
                    count++;
                }
            }
            if (mass >= target || tau < 1e-30f) {
                break;
            }
        }
        if (keys.length < count) {
            keys = new long[Math.max(count, keys.length * 2)];
        }
        int n = 0;
        for (int t = 0; t < p.length; t++) {
            if (p[t] >= tau && p[t] > 0) {
                keys[n++] = ((long) Float.floatToRawIntBits(p[t]) << 32) | t; // positive floats sort by bits
            }
        }
        Arrays.sort(keys, 0, n);
        double cum = 0;
        float boundary = 0f;
        for (int i = n - 1; i >= 0; i--) {
            float w = Float.intBitsToFloat((int) (keys[i] >>> 32));
            cum += w;
            boundary = w;
            if (cum >= target) {
                break;
            }
        }
        double kept = 0;
        for (int t = 0; t < p.length; t++) {
            if (p[t] < boundary) {
                p[t] = 0f;
            } else {
                kept += p[t];
            }
        }
        return kept;
    }

    /**
     * The k-th largest value (1-based) of {@code a}, which is sorted: a full sort, independent of the quickselect in
     * {@link Candidates} that the tests compare against this reference.
     */
    static float kthLargest(float[] a, int k) {
        Arrays.sort(a);
        return a[a.length - k];
    }

    private static void scale(float[] a, int n, float s) {
        for (int t = 0; t < n; t++) {
            a[t] *= s;
        }
    }

    /** The previous bulk exp: a running minimum decides whether a fix-up pass zeroes scores below the floor. */
    private static void expShifted(float[] x, float shift, float[] out, float[] exponents, int n) {
        int roundBitsMinusBias = Float.floatToRawIntBits(FastExp.ROUND) - 127;
        float lowest = 0f;
        for (int t = 0; t < n; t++) {
            float a = x[t] - shift;
            lowest = Math.min(lowest, a);
            float c = Math.max(a, FastExp.FLOOR);
            float k = c * FastExp.LOG2E + FastExp.ROUND;
            float m = k - FastExp.ROUND;
            float r = c - m * FastExp.LN2_HI - m * FastExp.LN2_LO;
            out[t] = FastExp.polynomial(r);
            exponents[t] = k;
        }
        for (int t = 0; t < n; t++) {
            out[t] *= Float.intBitsToFloat((Float.floatToRawIntBits(exponents[t]) - roundBitsMinusBias) << 23);
        }
        if (!(lowest >= FastExp.FLOOR)) {
            for (int t = 0; t < n; t++) {
                if (x[t] - shift < FastExp.FLOOR) {
                    out[t] = 0f;
                }
            }
        }
    }
}
