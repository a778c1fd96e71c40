package dev.specula.core.sampling;

/**
 * Loops over a vocabulary row, shaped so that HotSpot's C2 compiler turns them into SIMD code: straight-line
 * float arithmetic, no branches, no int/float conversions in the hot loop (Java 17's auto-vectorizer gives up on
 * those), sums in eight independent accumulators. {@link SamplingTransform} runs on every drafted and every
 * verified position, so these loops are most of the Java time of a sampled generation.
 */
final class RowMath {
    private static final int ROUND_BITS_MINUS_BIAS = Float.floatToRawIntBits(FastExp.ROUND) - 127;
    /** The rounded exponent k that stands for 2^-127: its factor below has exponent bits 0, the float 0. */
    private static final float ZERO_EXPONENT = FastExp.ROUND - 127;

    private RowMath() {
    }

    /**
     * The largest of {@code a[0, n)}, ignoring NaN (a plain compare is twice as fast as {@link Math#max}, which
     * handles NaN; callers detect NaN where it surfaces, in a sum).
     */
    static float max(float[] a, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int t = 0; t < n; t++) {
            float v = a[t];
            if (v > m) {
                m = v;
            }
        }
        return m;
    }

    /**
     * The first index of the largest value of {@code a[0, n)}, or the index of the first NaN if there is one (0
     * when every value is -Infinity). A search loop: the branch is taken only for a new maximum or NaN.
     *
     * @param before receives in element 0 the largest value before the returned index (-Infinity if none)
     */
    static int firstMaxOrNaN(float[] a, int n, float[] before) {
        float m = Float.NEGATIVE_INFINITY;
        float previous = Float.NEGATIVE_INFINITY;
        int best = 0;
        int t = 0;
        while (true) {
            while (t < n && a[t] <= m) {
                t++;
            }
            if (t == n) {
                before[0] = previous;
                return best;
            }
            if (a[t] != a[t]) {
                before[0] = m;
                return t;
            }
            previous = m;
            m = a[t];
            best = t++;
        }
    }

    /** The first index in [0, n) whose value is NaN or +Infinity, or -1. */
    static int firstNonFinite(float[] a, int n) {
        for (int t = 0; t < n; t++) {
            if (!(a[t] < Float.POSITIVE_INFINITY)) {
                return t;
            }
        }
        return -1;
    }

    /**
     * {@code a[t] *= s} for t in [0, n), returning the sum of the new values exactly as {@link #sum} would: one
     * pass instead of two.
     */
    static double scaleAndSum(float[] a, int n, float s) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        double s4 = 0;
        double s5 = 0;
        double s6 = 0;
        double s7 = 0;
        int t = 0;
        for (; t + 7 < n; t += 8) {
            float v0 = a[t] * s;
            float v1 = a[t + 1] * s;
            float v2 = a[t + 2] * s;
            float v3 = a[t + 3] * s;
            float v4 = a[t + 4] * s;
            float v5 = a[t + 5] * s;
            float v6 = a[t + 6] * s;
            float v7 = a[t + 7] * s;
            a[t] = v0;
            a[t + 1] = v1;
            a[t + 2] = v2;
            a[t + 3] = v3;
            a[t + 4] = v4;
            a[t + 5] = v5;
            a[t + 6] = v6;
            a[t + 7] = v7;
            s0 += v0;
            s1 += v1;
            s2 += v2;
            s3 += v3;
            s4 += v4;
            s5 += v5;
            s6 += v6;
            s7 += v7;
        }
        for (; t < n; t++) {
            float v = a[t] * s;
            a[t] = v;
            s0 += v;
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }

    /** The sum of {@code a[0, n)} in double precision (eight independent accumulators). */
    static double sum(float[] a, int n) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        double s4 = 0;
        double s5 = 0;
        double s6 = 0;
        double s7 = 0;
        int t = 0;
        for (; t + 7 < n; t += 8) {
            s0 += a[t];
            s1 += a[t + 1];
            s2 += a[t + 2];
            s3 += a[t + 3];
            s4 += a[t + 4];
            s5 += a[t + 5];
            s6 += a[t + 6];
            s7 += a[t + 7];
        }
        for (; t < n; t++) {
            s0 += a[t];
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }

    /** The first index of {@code value} in {@code a[0, n)}, or -1. */
    static int indexOf(float[] a, int n, float value) {
        for (int t = 0; t < n; t++) {
            if (a[t] == value) {
                return t;
            }
        }
        return -1;
    }

    /**
     * {@code out[t] = e^(x[t] * scale - shift)}, the product rounded to float first, for t in [0, n), where every
     * {@code x[t] * scale - shift <= 0}: the same values as {@link FastExp#expNonPositive}, bit for bit, exactly 0
     * below -87 and for -Infinity. Returns their sum exactly as {@link #sum} computes it. {@code x} must hold no
     * NaN (callers check first). {@code exponents} is scratch of at least n floats.
     */
    static double expScaledShifted(float[] x, float scale, float shift, float[] out, float[] exponents, int n) {
        for (int t = 0; t < n; t++) {
            float a = x[t] * scale - shift;
            float c = Math.max(a, FastExp.FLOOR);
            float k = c * FastExp.LOG2E + FastExp.ROUND;
            float m = k - FastExp.ROUND;
            float r = c - m * FastExp.LN2_HI - m * FastExp.LN2_LO;
            out[t] = FastExp.polynomial(r);
            // Below the floor, move k to 2^-127, whose bits below make a factor of exactly 0: min/max, not a
            // branch or a running minimum, so the loop stays vectorized.
            exponents[t] = k + Math.max(Math.min(a - FastExp.FLOOR, 0f) * 0x1p30f, ZERO_EXPONENT - k);
        }
        // Java 17 does not vectorize the bit conversions of this loop, so the sum rides along instead of taking
        // a pass of its own (same accumulators as sum).
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        double s4 = 0;
        double s5 = 0;
        double s6 = 0;
        double s7 = 0;
        int t = 0;
        for (; t + 7 < n; t += 8) {
            float v0 = out[t] * pow2(exponents[t]);
            float v1 = out[t + 1] * pow2(exponents[t + 1]);
            float v2 = out[t + 2] * pow2(exponents[t + 2]);
            float v3 = out[t + 3] * pow2(exponents[t + 3]);
            float v4 = out[t + 4] * pow2(exponents[t + 4]);
            float v5 = out[t + 5] * pow2(exponents[t + 5]);
            float v6 = out[t + 6] * pow2(exponents[t + 6]);
            float v7 = out[t + 7] * pow2(exponents[t + 7]);
            out[t] = v0;
            out[t + 1] = v1;
            out[t + 2] = v2;
            out[t + 3] = v3;
            out[t + 4] = v4;
            out[t + 5] = v5;
            out[t + 6] = v6;
            out[t + 7] = v7;
            s0 += v0;
            s1 += v1;
            s2 += v2;
            s3 += v3;
            s4 += v4;
            s5 += v5;
            s6 += v6;
            s7 += v7;
        }
        for (; t < n; t++) {
            float v = out[t] * pow2(exponents[t]);
            out[t] = v;
            s0 += v;
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }

    /** 2^n for the rounded exponent k = n + ROUND, from its bits. */
    private static float pow2(float k) {
        return Float.intBitsToFloat((Float.floatToRawIntBits(k) - ROUND_BITS_MINUS_BIAS) << 23);
    }
}
