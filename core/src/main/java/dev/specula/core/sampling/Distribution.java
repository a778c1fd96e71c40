package dev.specula.core.sampling;

import java.util.Arrays;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * A probability distribution over the vocabulary: a reusable buffer the {@link SamplingTransform} fills, so the
 * hot path allocates nothing. Probabilities are stored as floats and sum to 1 up to rounding; every operation
 * that depends on the total (sampling) uses the actual sum, so rounding never biases a draw.
 *
 * <p>A dense row may be held as weights with a pending scale (the float reciprocal of their sum): probability t is
 * then {@code weights[t] * scale}, rounded to float, which is bit for bit what normalizing the array would store.
 * Reading single probabilities ({@link #prob}) and Gumbel-max draws use the weights and the scale directly;
 * {@link #probabilities()} and {@link #sample} write the products into the array first (one pass, done once).
 * Decisions that read a few probabilities of a row therefore never pay for normalizing all of it.
 *
 * <p>Mutable and not thread-safe; a holder that hands one out documents how long it stays valid.
 */
public final class Distribution {
    private final float[] probs;
    private int argmax;
    /** The actual sum of {@link #probs} (1 up to rounding), kept so a draw needs one partial pass. */
    private double total = 1;
    /** True while {@link #probs} holds weights whose probabilities are {@code probs[t] * scale}. */
    private boolean pending;
    /** The factor of pending weights (1 once they are normalized in place). */
    private float scale = 1f;

    public Distribution(int vocabSize) {
        if (vocabSize <= 0) {
            throw new IllegalArgumentException("vocabSize must be > 0, got " + vocabSize);
        }
        this.probs = new float[vocabSize];
    }

    /** A distribution with the given probabilities (normalized here); for tests and simulations. */
    public static Distribution of(double... p) {
        Distribution d = new Distribution(p.length);
        double total = 0;
        for (double v : p) {
            if (!(v >= 0) || Double.isInfinite(v)) {
                throw new IllegalArgumentException("probabilities must be finite and >= 0, got " + v);
            }
            total += v;
        }
        if (total <= 0) {
            throw new IllegalArgumentException("probabilities must not all be zero");
        }
        for (int i = 0; i < p.length; i++) {
            d.probs[i] = (float) (p[i] / total);
        }
        d.normalize();
        return d;
    }

    public int vocabSize() {
        return probs.length;
    }

    public float prob(int token) {
        return probs[token] * scale; // scale is exactly 1 unless weights are pending: the same bits either way
    }

    /** The most likely token (the lowest id among ties). */
    public int argmax() {
        return argmax;
    }

    /** The live probability array, for read-only use by acceptance math and tests. */
    public float[] probabilities() {
        materialize();
        return probs;
    }

    /**
     * The array as it is held: weights when {@link #scale()} is not 1, else probabilities. For readers that apply
     * the scale themselves, and for the transform, which fills the array and then sets the state through
     * {@link #normalizeLazily} or {@link #normalize(double, int)}.
     */
    float[] weights() {
        return probs;
    }

    /** The factor that turns {@link #weights()} into probabilities, element by element in float (1 if none). */
    float scale() {
        return scale;
    }

    /** Writes pending probabilities into the array (a no-op when they are already there). */
    private void materialize() {
        if (pending) {
            total = RowMath.scaleAndSum(probs, probs.length, scale);
            pending = false;
            scale = 1f;
        }
    }

    /** Forgets a pending scale before the array is overwritten with new content. */
    private void clearPending() {
        pending = false;
        scale = 1f;
    }

    /** Draws a token by inverse CDF over the actual total mass. */
    public int sample(RandomGenerator rng) {
        materialize();
        double u = rng.nextDouble() * total;
        double acc = 0;
        int last = -1;
        for (int t = 0; t < probs.length; t++) {
            float p = probs[t];
            if (p > 0) {
                acc += p;
                last = t;
                if (u < acc) {
                    return t;
                }
            }
        }
        return last; // u landed on the rounding gap at the very top
    }

    /** Sets the distribution to certainty on one token. */
    public void setOneHot(int token) {
        Objects.checkIndex(token, probs.length);
        clearPending();
        Arrays.fill(probs, 0f);
        probs[token] = 1f;
        argmax = token;
        total = 1;
    }

    /** Copies {@code other} into this distribution. */
    public void copyFrom(Distribution other) {
        if (other.probs.length != probs.length) {
            throw new IllegalArgumentException("vocabulary sizes differ: " + other.probs.length + " vs " + probs.length);
        }
        System.arraycopy(other.probs, 0, probs, 0, probs.length);
        argmax = other.argmax;
        total = other.total;
        pending = other.pending;
        scale = other.scale;
    }

    /**
     * Normalizes the given non-negative weights (already written into {@link #probabilities()}) to sum to 1.
     *
     * @return false if all weights are zero (the distribution is left unchanged)
     */
    public boolean normalize() {
        materialize();
        return normalize(RowMath.sum(probs, probs.length));
    }

    /** {@link #normalize()} when the caller already summed the weights. */
    boolean normalize(double sum) {
        return sum > 0 && normalize(sum, RowMath.indexOf(probs, probs.length, RowMath.max(probs, probs.length)));
    }

    /** {@link #normalize()} when the caller already summed the weights and knows the first most likely token. */
    boolean normalize(double sum, int mostLikely) {
        if (!(sum > 0)) {
            return false;
        }
        clearPending();
        total = RowMath.scaleAndSum(probs, probs.length, (float) (1.0 / sum));
        argmax = mostLikely;
        return true;
    }

    /**
     * {@link #normalize(double, int)} without the pass over the row: the weights stay in the array with their
     * scale pending, and the probabilities are the same floats whenever they are read.
     */
    boolean normalizeLazily(double sum, int mostLikely) {
        if (!(sum > 0)) {
            return false;
        }
        pending = true;
        scale = (float) (1.0 / sum);
        argmax = mostLikely;
        return true;
    }

    /**
     * Sets the distribution to {@code weights[i] / sum} on {@code tokens[i]} for i in [0, count) and 0 on every
     * other token: {@link #normalize(double, int)} for a sparse row, at the cost of clearing the row.
     *
     * @return false if {@code sum} is not positive (the distribution is left unchanged)
     */
    boolean setWeights(int[] tokens, float[] weights, int count, double sum, int mostLikely) {
        if (!(sum > 0)) {
            return false;
        }
        clearPending();
        Arrays.fill(probs, 0f);
        float s = (float) (1.0 / sum);
        double actual = 0;
        for (int i = 0; i < count; i++) {
            float v = weights[i] * s;
            probs[tokens[i]] = v;
            actual += v;
        }
        argmax = mostLikely;
        total = actual;
        return true;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Distribution{");
        int shown = 0;
        for (int t = 0; t < probs.length && shown < 8; t++) {
            if (probs[t] > 0) {
                sb.append(shown++ == 0 ? "" : ", ").append(t).append('=').append(prob(t));
            }
        }
        return sb.append(shown == 8 ? ", ...}" : "}").toString();
    }
}
