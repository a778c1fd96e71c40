package dev.specula.core.sampling;

/**
 * What a decision can learn about one row of a temperature-only transform without exponentiating the row: the
 * exact weight of any token on demand, and, per block of {@value KeyedNoise#BLOCK} tokens, the weight of the
 * block's best token, which bounds every weight of the block. From those come bounds on the row's total mass,
 * hence on any token's probability, and the blocks a Gumbel-max draw can skip
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
    /** Most blocks whose weights are summed exactly for the mass bounds (64 blocks: 4,096 exponentials). */
    private static final int EXACT_BLOCKS = 64;
    /** A block is summed exactly when its bound (tokens times best weight) reaches this (the top token weighs 1). */
    private static final double EXACT_CUT = 1e-3;

    private final float[] scores;
    private final int vocabSize;
    private final float[] blockWeight;
    private float inv;
    private float max;
    private double massLow;
    private double massHigh;
    private int topBlock;

    RowBounds(float[] scores, int vocabSize) {
        this.scores = scores;
        this.vocabSize = vocabSize;
        this.blockWeight = new float[(vocabSize + KeyedNoise.BLOCK - 1) / KeyedNoise.BLOCK];
    }

    /**
     * Reads the row the transform copied into {@code scores}: block maxima, the row's
     * maximum, each block's best weight and the mass bounds.
     *
     * @return false if the row holds NaN or +Infinity, only -Infinity, or a score that overflows at this
     *         temperature: the full transform then reports it
     */
    boolean load(float inv) {
        float[] x = scores;
        float[] bw = blockWeight;
        float rowMax = Float.NEGATIVE_INFINITY;
        int top = 0;
        boolean nan = false;
        for (int b = 0, start = 0; start < vocabSize; b++, start += KeyedNoise.BLOCK) {
            int end = Math.min(start + KeyedNoise.BLOCK, vocabSize);
            float m = Float.NEGATIVE_INFINITY;
            for (int t = start; t < end; t++) {
                // A branch taken only for a new maximum or a NaN: no dependency chain through m (Math.max's
                // NaN handling made this pass as slow as the exponentials).
                float v = x[t];
                if (!(v <= m)) {
                    nan |= v != v;
                    m = v;
                }
            }
            bw[b] = m;
            if (m > rowMax) {
                rowMax = m;
                top = b;
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
        this.topBlock = top;
        for (int b = 0; b < bw.length; b++) {
            bw[b] = FastExp.expNonPositive(bw[b] * inv - scaledMax);
        }
        // Every weight of a block is at most its best one, a loose bound where the best is large: the blocks that
        // could weigh 1/1000 of the best token (the top block always) are summed exactly instead, up to a budget.
        double exact = 0;
        double low = 0;
        double high = 0;
        int budget = EXACT_BLOCKS;
        for (int j = -1; j < bw.length; j++) {
            int b = j < 0 ? top : j;
            if (j == top) {
                continue;
            }
            int start = b * KeyedNoise.BLOCK;
            int count = Math.min(start + KeyedNoise.BLOCK, vocabSize) - start;
            float w = bw[b];
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
        // theirs up to its own rounding. High: exact sums, and every other weight at most its block's best.
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
        return blockWeight[block];
    }

    /** The first block holding the row's best score (its best weight is 1). */
    int topBlock() {
        return topBlock;
    }

    /** The number of blocks. */
    int blocks() {
        return blockWeight.length;
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
