package dev.specula.core.sampling;

/**
 * What a decision can learn about one row of a temperature-only transform without exponentiating the row: the
 * exact weight of any token on demand, and, per span of {@value #SPAN} tokens (and on demand per block of
 * {@value KeyedNoise#BLOCK}), the weight of its best token, which bounds every weight in it. From those come bounds
 * on the row's total mass, hence on any token's probability, and the blocks a Gumbel-max draw can skip
 * ({@link KeyedNoise#gumbelMax(RowBounds, long, KeyedNoise.Use)}). A decision that the bounds settle is the
 * decision the full distribution gives; one they leave open falls back to the distribution.
 *
 * <p>Weights are those {@link SamplingTransform#apply} computes, bit for bit: {@code e^(score / T - best / T)}
 * in {@link FastExp}'s arithmetic, the best token weighing 1. Valid until the transform that made it is used
 * again (it reads the transform's copy of the row). Not thread-safe.
 */
public final class RowBounds {
    /**
     * Relative slack of the bound "every weight of a block is at most its best token's weight": FastExp is
     * within 3e-7 of e^x, so a lower score's weight exceeds the best one's by at most about 6e-7.
     */
    static final double WEIGHT_SLACK = 1e-5;
    /** Relative slack for the rounding of a probability: the float reciprocal of the sum and the product. */
    private static final double PROBABILITY_SLACK = 1e-6;
    /** Tokens per span, the unit of the mass bounds: a multiple of {@value KeyedNoise#BLOCK}. */
    static final int SPAN = 1024;
    /** Most spans whose weights are summed exactly for the mass bounds (4,096 exponentials). */
    private static final int EXACT_SPANS = 4;
    /** A span is summed exactly when its bound (tokens times best weight) reaches this (the top token weighs 1). */
    private static final double EXACT_CUT = 1e-3;

    private final float[] scores;
    private final int vocabSize;
    /** Best weights of blocks, NaN until a draw asks for one. */
    private final float[] blockWeight;
    /** Best weights of spans. */
    private final float[] spanWeight;
    private final long[] spanOrder;
    private final int[] spanIndex;
    private float inv;
    private float max;
    private double massLow;
    private double massHigh;

    RowBounds(float[] scores, int vocabSize) {
        this.scores = scores;
        this.vocabSize = vocabSize;
        this.blockWeight = new float[(vocabSize + KeyedNoise.BLOCK - 1) / KeyedNoise.BLOCK];
        this.spanWeight = new float[(vocabSize + SPAN - 1) / SPAN];
        this.spanOrder = new long[spanWeight.length];
        this.spanIndex = new int[spanWeight.length];
    }

    /**
     * Reads the row the transform copied into {@code scores}: the maximum of each span of {@value #SPAN} tokens,
     * the row's maximum, each span's best weight and the mass bounds. Block maxima are found later, only for the
     * blocks a draw examines.
     *
     * @return false if the row holds NaN or +Infinity, only -Infinity, or a score that overflows at this
     *         temperature: the full transform then reports it
     */
    boolean load(float inv) {
        float[] x = scores;
        float[] sw = spanWeight;
        float rowMax = Float.NEGATIVE_INFINITY;
        int at = 0;
        boolean nan = false;
        for (int b = 0, start = 0; start < vocabSize; b++, start += SPAN) {
            int end = Math.min(start + SPAN, vocabSize);
            float m = Float.NEGATIVE_INFINITY;
            int where = start;
            for (int t = start; t < end; t++) {
                // A branch taken only for a new maximum or a NaN (about ln(SPAN) times per span): no dependency
                // chain through m, few mispredictions (Math.max's NaN handling, or spans of 64, cost 2-3x more).
                float v = x[t];
                if (!(v <= m)) {
                    nan |= v != v;
                    m = v;
                    where = t;
                }
            }
            sw[b] = m;
            if (m > rowMax) {
                rowMax = m;
                at = where;
            }
        }
        if (nan || !(rowMax < Float.POSITIVE_INFINITY) || rowMax == Float.NEGATIVE_INFINITY) {
            return false;
        }
        float scaledMax = rowMax * inv; // as the transform: the scaled best score is the scaled largest
        if (!(scaledMax < Float.POSITIVE_INFINITY) || scaledMax == Float.NEGATIVE_INFINITY) {
            return false;
        }
        this.inv = inv;
        this.max = scaledMax;
        java.util.Arrays.fill(blockWeight, Float.NaN); // found on demand
        for (int b = 0; b < sw.length; b++) {
            sw[b] = FastExp.expNonPositive(sw[b] * inv - scaledMax);
        }
        // Every weight of a span is at most its best one, a loose bound where the best is large: the spans that
        // could weigh 1/1000 of the best token (the top one first) are summed exactly instead, up to a budget.
        int topSpan = at / SPAN;
        double exact = 0;
        double low = 0;
        double high = 0;
        int budget = EXACT_SPANS;
        for (int j = -1; j < sw.length; j++) {
            int b = j < 0 ? topSpan : j;
            if (j == topSpan) {
                continue;
            }
            int start = b * SPAN;
            int count = Math.min(start + SPAN, vocabSize) - start;
            float w = sw[b];
            if (budget > 0 && (double) w * count >= EXACT_CUT) {
                budget--;
                for (int t = start; t < start + count; t++) {
                    exact += weight(t);
                }
            } else {
                low += w;
                high += (double) w * count;
            }
        }
        // Low: exact sums, and best weights of distinct tokens; the row's sum (in double, over floats) is at least
        // theirs up to its own rounding. High: exact sums, and every other weight at most its span's best.
        this.massLow = (exact + low) * (1 - 1e-9);
        this.massHigh = (exact + high * (1 + WEIGHT_SLACK)) * (1 + 1e-9);
        return true;
    }

    public int vocabSize() {
        return vocabSize;
    }

    /** The exact weight of a token, as the full transform writes it. */
    public float weight(int token) {
        return FastExp.expNonPositive(scores[token] * inv - max);
    }

    /** The weight of the best token of block {@code block} (tokens [64 block, 64 block + 64)): an exact weight. */
    float blockWeight(int block) {
        float w = blockWeight[block];
        if (w != w) {
            int start = block * KeyedNoise.BLOCK;
            int end = Math.min(start + KeyedNoise.BLOCK, vocabSize);
            float m = Float.NEGATIVE_INFINITY;
            for (int t = start; t < end; t++) {
                float v = scores[t]; // no NaN here (load checked)
                if (v > m) {
                    m = v;
                }
            }
            w = FastExp.expNonPositive(m * inv - max);
            blockWeight[block] = w;
        }
        return w;
    }

    /** A bound of every weight of block {@code block}: the best weight of the span that holds it. */
    float blockBound(int block) {
        return spanWeight[block / (SPAN / KeyedNoise.BLOCK)];
    }

    /**
     * The spans by decreasing best weight (ties by index): the order in which a draw visits them, so that the
     * ratio to beat falls fast and most blocks are skipped after one hash.
     */
    int[] spansByWeight() {
        int n = spanWeight.length;
        for (int b = 0; b < n; b++) { // non-negative floats order as their bits; ~b puts low indices first
            spanOrder[b] = ((long) Float.floatToRawIntBits(spanWeight[b]) << 32) | (~b & 0xFFFFFFFFL);
        }
        java.util.Arrays.sort(spanOrder);
        for (int i = 0; i < n; i++) {
            spanIndex[i] = ~(int) spanOrder[n - 1 - i];
        }
        return spanIndex;
    }

    /** A lower bound of the row's total weight (the normalizer of its probabilities). */
    double massLow() {
        return massLow;
    }

    /** An upper bound of the row's total weight. */
    double massHigh() {
        return massHigh;
    }

    /** A lower bound of the float {@code apply(...).prob(token)}. */
    public double probabilityLow(int token) {
        return weight(token) / massHigh * (1 - PROBABILITY_SLACK);
    }

    /** An upper bound of the float {@code apply(...).prob(token)}. */
    public double probabilityHigh(int token) {
        return weight(token) / massLow * (1 + PROBABILITY_SLACK);
    }
}
