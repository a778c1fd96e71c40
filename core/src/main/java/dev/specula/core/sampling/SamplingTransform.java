package dev.specula.core.sampling;

import dev.specula.core.SpeculaException;
import dev.specula.core.model.Logits;
import dev.specula.core.model.NonFiniteLogitsException;

/**
 * THE transform from a logits row to the distribution actually sampled from, shared by draft and target so
 * that p and q are always comparable: temperature, then top-k, then top-p, then min-p (the order of Hugging
 * Face's logits warpers), then normalization. Temperature 0 gives the one-hot distribution of the argmax.
 *
 * <p>Ties are kept: top-k keeps every token scoring at least the k-th best score; top-p keeps every token as
 * likely as the one whose inclusion first brings the mass to {@code topP} (counting from the most likely, ties
 * by decreasing token id); min-p keeps every token whose weight relative to the best is at least {@code minP}.
 *
 * <p>Cuts work by selection, never by sorting the row: top-k, and min-p without top-p, find their tokens in
 * one pass over the scores (a compare per token against a rising threshold) and exponentiate only those; top-p
 * needs the row's total mass, so it exponentiates the row once, then selects and sorts only a superset of the
 * nucleus. The result equals the full-sort definition above exactly (same tokens; the same probabilities up to
 * the order in which a sum is rounded).
 *
 * <p>Holds scratch buffers: one instance per generation (not thread-safe), allocating nothing per call once its
 * selection buffers have grown to the rows it sees.
 */
public final class SamplingTransform {
    /** Weights below this never join a nucleus whose running mass falls short of the target. */
    private static final float NUCLEUS_FLOOR = 0x1p-100f;
    /** Candidates a nucleus search by count starts from before it has seen a row. */
    private static final int NUCLEUS_START = 256;
    /** The weight a nucleus search by threshold starts from before it has seen a row (the best weighs 1). */
    private static final float NUCLEUS_TAU_START = 1f / 16;
    /** Most tokens a nucleus search by threshold collects before it falls back to one by count. */
    private static final int NUCLEUS_CAP = 4096;
    /** Slack below log(minP) for picking min-p candidates by score: covers exp's error (&lt; 3e-7) many times. */
    private static final double MIN_P_SLACK = 1e-3;

    private final SamplingParams params;
    private final int vocabSize;
    private final float[] work;
    private final float[] exponents;
    /** The largest score before the first best one (an output of {@link RowMath#firstMaxOrNaN}). */
    private final float[] maxBefore = new float[1];
    private final Candidates candidates = new Candidates();
    private final boolean topK;
    /** min-p's cut on weights (the best token weighs 1); 0 when min-p is off or rounds to nothing in float. */
    private final float minPCut;
    /** Candidates the next nucleus search by count starts from: twice the last nucleus. */
    private int nucleusHint = NUCLEUS_START;
    /** The weight the next nucleus search by threshold starts from: a quarter of the last boundary. */
    private float nucleusTau = NUCLEUS_TAU_START;
    /** The sum of the weights {@link #exponentiate} wrote last (its second result). */
    private double rowMass;
    /** The bounds {@link #bounds} hands out, over {@link #work}; made on first use. */
    private RowBounds rowBounds;

    public SamplingTransform(SamplingParams params, int vocabSize) {
        if (vocabSize <= 0) {
            throw new IllegalArgumentException("vocabSize must be > 0, got " + vocabSize);
        }
        this.params = params;
        this.vocabSize = vocabSize;
        this.work = new float[vocabSize];
        this.topK = params.topK() > 0 && params.topK() < vocabSize;
        this.minPCut = (float) params.minP();
        this.exponents = topK ? null : new float[vocabSize];
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
            out.setOneHot(argmax(logits, row));
            return out;
        }
        logits.copyRow(row, work);
        float inv = (float) (1.0 / params.temperature());
        if (topK) {
            return topK(row, inv, out);
        }
        if (params.topP() < 1) {
            return nucleus(row, inv, out);
        }
        if (minPCut > 0) {
            return minP(row, inv, out);
        }
        float[] p = out.weights();
        int best = exponentiate(row, inv, p);
        // The first token of weight 1 is the first best score unless a lower score before it also rounds to
        // weight 1 (scores within about 1e-7 of the best); the largest score before it tells, without a scan.
        float before = FastExp.expNonPositive(maxBefore[0] * inv - work[best] * inv);
        int argmax = before == 1f ? RowMath.indexOf(p, best + 1, 1f) : best;
        if (!out.normalizeLazily(rowMass, argmax)) {
            throw nothingLeft(row);
        }
        return out;
    }

    /**
     * Bounds on one row's distribution from its block maxima, for decisions that need a few of its
     * probabilities or one Gumbel-max draw: a copy of the row and a pass of compares instead of an exponential per
     * token. Only for a temperature without cuts (where the distribution is dense and the full transform costs
     * most); valid until this transform is used again.
     *
     * @return the bounds, or null when the parameters have cuts or are greedy, or the row holds a score the full
     *         transform rejects (it then reports the row)
     */
    public RowBounds bounds(Logits logits, int row) {
        if (params.isGreedy() || topK || params.topP() < 1 || minPCut > 0) {
            return null;
        }
        if (logits.vocabSize() != vocabSize) {
            throw new IllegalArgumentException("logits have vocabulary " + logits.vocabSize() + ", transform "
                    + vocabSize);
        }
        if (rowBounds == null) {
            rowBounds = new RowBounds(work, vocabSize);
        }
        logits.copyRow(row, work);
        return rowBounds.load((float) (1.0 / params.temperature())) ? rowBounds : null;
    }

    /**
     * The highest-scoring token of a row (the lowest id among ties), exactly as {@link Logits#argmax} picks it,
     * in about 40% of its time at 150k entries: the row is bulk-copied out of its buffer (a memory copy for a
     * direct buffer) and searched in a plain array, where the loop costs a compare per entry instead of a
     * buffer read.
     *
     * @throws NonFiniteLogitsException if the row holds NaN or +Infinity
     */
    public int argmax(Logits logits, int row) {
        if (logits.vocabSize() != vocabSize) {
            throw new IllegalArgumentException("logits have vocabulary " + logits.vocabSize() + ", transform "
                    + vocabSize);
        }
        logits.copyRow(row, work);
        int best = RowMath.firstMaxOrNaN(work, vocabSize, maxBefore);
        float v = work[best];
        if (!(v < Float.POSITIVE_INFINITY)) { // the first NaN, or a best of +Infinity with no NaN anywhere
            throw new NonFiniteLogitsException(row, best, v);
        }
        return best;
    }

    /** Top-k, then top-p and min-p among its tokens: one selection pass, then work on k tokens only. */
    private Distribution topK(int row, float inv, Distribution out) {
        Candidates c = candidates;
        if (c.selectTop(work, vocabSize, inv, params.topK()) >= 0) {
            throw failure(row, inv);
        }
        float max = Float.NEGATIVE_INFINITY; // the scaled best score (rounding is monotone)
        for (int i = 0; i < c.size; i++) {
            max = Math.max(max, c.values[i]);
        }
        if (!(max < Float.POSITIVE_INFINITY) || max == Float.NEGATIVE_INFINITY) {
            throw failure(row, inv);
        }
        double total = 0;
        for (int i = 0; i < c.size; i++) {
            float w = FastExp.expNonPositive(c.values[i] - max); // what the bulk exp gives, bit for bit
            c.values[i] = w;
            total += w;
        }
        if (params.topP() < 1) {
            total = cutToNucleus(total * params.topP(), c.massBoundary(total * params.topP(), NUCLEUS_FLOOR));
        }
        return finish(row, total, out);
    }

    /** Top-p (then min-p): the total mass needs every weight, so the row is exponentiated once. */
    private Distribution nucleus(int row, float inv, Distribution out) {
        float[] p = out.weights();
        exponentiate(row, inv, p);
        double target = rowMass * params.topP();
        // The nucleus is a prefix of the tokens by decreasing weight, so it lies within {w >= tau} as soon as that
        // set's mass reaches the target: collect that set for a tau guessed from the last row (lower it if the
        // mass falls short) and sort only it. Its running sum is then exactly the whole row's.
        Candidates c = candidates;
        float boundary = 0f;
        float tau = nucleusTau;
        int cap = Math.max(NUCLEUS_CAP, 4 * nucleusHint);
        while (true) {
            double mass = c.selectAtLeast(p, vocabSize, tau, cap);
            if (mass < 0) { // a flat row: bound the work by selecting the m heaviest instead
                boundary = nucleusByCount(p, target);
                break;
            }
            if (mass >= target || tau < NUCLEUS_FLOOR) {
                boundary = c.massBoundary(target, NUCLEUS_FLOOR);
                if (boundary > 0 || tau < NUCLEUS_FLOOR) {
                    break;
                }
            }
            tau /= 16;
        }
        nucleusTau = boundary > 0 ? Math.max(boundary / 4, NUCLEUS_FLOOR) : NUCLEUS_TAU_START;
        double kept = cutToNucleus(target, boundary);
        nucleusHint = (int) Math.min(vocabSize, Math.max(NUCLEUS_START, 2L * c.size));
        return finish(row, kept, out);
    }

    /** Min-p alone: the tokens near the best score are found in one pass and only they are exponentiated. */
    private Distribution minP(int row, float inv, Distribution out) {
        Candidates c = candidates;
        float below = (float) (Math.log(minPCut) - MIN_P_SLACK);
        float max = c.selectNear(work, vocabSize, inv, below);
        if (!(max < Float.POSITIVE_INFINITY) || max == Float.NEGATIVE_INFINITY) {
            throw failure(row, inv);
        }
        double total = 0;
        for (int i = 0; i < c.size; i++) {
            float w = FastExp.expNonPositive(c.values[i] - max);
            c.values[i] = w;
            total += w;
        }
        return finish(row, total, out);
    }

    /**
     * The nucleus boundary from the m heaviest tokens, m widening until their mass reaches the target: the m-th
     * weight bounds every token left out, so the prefix summed is exactly the row's. As
     * {@link Candidates#massBoundary}.
     */
    private float nucleusByCount(float[] p, double target) {
        Candidates c = candidates;
        int m = Math.min(vocabSize, nucleusHint);
        while (true) {
            c.selectTop(p, vocabSize, 1f, m);
            float boundary = c.massBoundary(target, NUCLEUS_FLOOR);
            if (boundary > 0 || m == vocabSize) {
                return boundary;
            }
            m = (int) Math.min(vocabSize, 4L * m);
        }
    }

    /**
     * Keeps the candidates (weights, token order) at or above the nucleus boundary and returns their mass.
     *
     * @param boundary as {@link Candidates#massBoundary}: negative when the mass never reached the target
     */
    private double cutToNucleus(double target, float boundary) {
        Candidates c = candidates;
        c.size = c.keepAtLeast(c.size, boundary > 0 ? boundary : -boundary);
        double kept = 0;
        for (int i = 0; i < c.size; i++) {
            kept += c.values[i];
        }
        return kept;
    }

    /** Applies min-p to the candidates (weights, token order) and writes them, normalized, into {@code out}. */
    private Distribution finish(int row, double total, Distribution out) {
        Candidates c = candidates;
        int n = 0;
        int argmax = -1;
        for (int i = 0; i < c.size; i++) {
            float w = c.values[i];
            if (w < minPCut || w == 0f) {
                total -= w;
            } else {
                if (argmax < 0 && w == 1f) {
                    argmax = c.tokens[i]; // the best token weighs exactly 1 and is never cut
                }
                c.tokens[n] = c.tokens[i];
                c.values[n++] = w;
            }
        }
        c.size = n;
        if (argmax < 0 || !out.setWeights(c.tokens, c.values, n, total, argmax)) {
            throw nothingLeft(row);
        }
        return out;
    }

    /**
     * Writes e^(score / T - best / T) for the whole row into {@code p} (the best token weighs exactly 1), sets
     * {@link #rowMass} to their sum and returns the first token with the best score.
     */
    private int exponentiate(int row, float inv, float[] p) {
        int best = RowMath.firstMaxOrNaN(work, vocabSize, maxBefore);
        float max = work[best] * inv; // rounding is monotone: the largest scaled score is the scaled largest
        if (!(max < Float.POSITIVE_INFINITY) || max == Float.NEGATIVE_INFINITY) {
            throw failure(row, inv);
        }
        rowMass = RowMath.expScaledShifted(work, inv, max, p, exponents, vocabSize);
        return best;
    }

    /** The exception for a row whose scores allow no distribution; the slow path, run only to report it. */
    private RuntimeException failure(int row, float inv) {
        int bad = RowMath.firstNonFinite(work, vocabSize);
        if (bad >= 0) {
            return new NonFiniteLogitsException(row, bad, work[bad]);
        }
        if (RowMath.max(work, vocabSize) == Float.NEGATIVE_INFINITY) {
            return new SpeculaException("every logit of row " + row + " is -Infinity: no token can be chosen");
        }
        for (int t = 0; t < vocabSize; t++) {
            if (work[t] * inv == Float.POSITIVE_INFINITY) { // a finite score overflows at this temperature
                return new NonFiniteLogitsException(row, t, Float.POSITIVE_INFINITY);
            }
        }
        return new IllegalStateException("row " + row + " was rejected but holds only usable scores");
    }

    private SpeculaException nothingLeft(int row) {
        return new SpeculaException("row " + row + " left no token with positive probability after temperature "
                + params.temperature() + ", top-k, top-p and min-p");
    }

    /**
     * A model's confidence in its greedy choice, from one pass without exponentials: the softmax probability of
     * the top token against the runner-up alone, 1 / (1 + e^(second - first)). It is an upper bound of the top
     * token's full softmax probability, close to it for peaked rows, and monotone in the margin, which is what
     * learning when to stop drafting needs.
     */
    public static double greedyConfidence(Logits logits, int row) {
        int vocab = logits.vocabSize();
        float first = Float.NEGATIVE_INFINITY;
        float second = Float.NEGATIVE_INFINITY;
        for (int t = 0; t < vocab; t++) {
            float v = logits.get(row, t);
            if (v > first) {
                second = first;
                first = v;
            } else if (v > second) {
                second = v;
            }
        }
        return second == Float.NEGATIVE_INFINITY ? 1.0 : 1.0 / (1.0 + Math.exp(second - first));
    }

}
