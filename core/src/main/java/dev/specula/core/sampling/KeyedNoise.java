package dev.specula.core.sampling;

import java.security.SecureRandom;

/**
 * The randomness of one generation as a pure function of (seed, position, use, token): a counter-based
 * generator (SplitMix64's finalizer applied to a key built from those numbers, the idea of Philox and of
 * JAX's keyed PRNG) with no state. The noise a position receives never depends on how many numbers were drawn
 * before it, so the token chosen at a position is a function of the distribution there and the seed alone,
 * whatever the drafter, draft length or scheduler did before.
 *
 * <p><b>Gumbel-max</b> ({@link #gumbelMax}): the token at position t is argmax_i (log p_i + G_i) with
 * G_i = -log E_i and E_i independent Exp(1) noise keyed by (seed, t, i); that token is distributed exactly as
 * p. Since log p_i + G_i = log(p_i / E_i), it is argmin_i E_i / p_i over the support of p, found in one pass
 * with neither a logarithm nor a hash per entry: the noise of each block of {@value #BLOCK} tokens is drawn
 * minimum first ({@link #exponentialNoise}), so a block whose minimum noise over its largest probability
 * cannot beat the best ratio so far is skipped after a float max over the block and one hash; within the few
 * blocks left, E_i = -log(1 - D) >= D for the token's uniform D rules most tokens out after one hash. A
 * logarithm (StrictMath, so every platform picks the same token) is taken only where a token could still win.
 * The result equals the plain argmin of E_i / p_i with every E_i computed: every skip test keeps a margin of
 * 2^-40 over the rounding of the logarithm, the sums and the divisions.
 *
 * <p>A draft model that draws its token at position t with the same key agrees with the target as often as
 * p and q allow without communicating (Daliri, Musco, Suresh 2024: disagreement at most 2 TV / (1 + TV)).
 *
 * <p>The construction is part of what a seed means: changing any constant here changes the text a seed gives.
 *
 * <p>Fresh seeds ({@link #freshSeed}) come from a {@link SecureRandom}: unpredictable, distinct across
 * processes started at the same instant, and thread-safe without a lock of ours. They lie in [0, 2^53), so a
 * seed reported in JSON survives a client that reads numbers as doubles, and replays.
 *
 * <pre>{@code
 * KeyedNoise noise = new KeyedNoise(42);
 * int token = noise.gumbelMax(p, position);   // the same token for (42, position, p), always
 * }</pre>
 *
 * @param seed the generation's seed
 */
public record KeyedNoise(long seed) {

    /**
     * Independent noise streams of one position: each purpose gets its own, so no draw reuses another's. The
     * constants' order is part of what a seed means (at most four; append, never reorder).
     */
    public enum Use {
        /** The token chosen at a position: the target's and the draft's Gumbel noise (shared by design). */
        TOKEN,
        /** Rejection sampling's acceptance test of a draft token. */
        ACCEPT,
        /** Rejection sampling's draw from the residual, or of the bonus token. */
        RESAMPLE
    }

    /** Fresh seeds lie below this bound (2^53: integers a double holds exactly). */
    public static final long FRESH_SEED_BOUND = 1L << 53;

    /** Tokens per block of the noise construction (a power of two). */
    static final int BLOCK = 64;

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final long BLOCK_SALT = 0x6A09E667F3BCC909L;
    /** Safety margin of the skip test over the rounding of log1p (< 1 ulp) and of the division and product. */
    private static final double SKIP_MARGIN = 1 + 0x1.0p-40;
    /** The relative gap by which a winner over unnormalized weights must beat the rest to stand over p. */
    private static final double DECISIVE = 1e-5;
    /** The least probability a winner over weights needs, well above float's underflow, to stand over p. */
    private static final double MIN_DECISIVE_PROBABILITY = 0x1p-100;

    private static final class Entropy {
        static final SecureRandom SOURCE = new SecureRandom();
    }

    /** A fresh, unpredictable seed in [0, {@value #FRESH_SEED_BOUND}) for a generation given none. */
    public static long freshSeed() {
        return Entropy.SOURCE.nextLong() >>> 11;
    }

    /**
     * The Gumbel-max token of {@code p} at {@code position}: argmax_i (log p_i + G(seed, position, i)) over the
     * tokens with p_i > 0 (the lowest id among exact ties). Distributed exactly as p over seeds; one pass over
     * the row, no allocation.
     */
    public int gumbelMax(Distribution p, long position) {
        return gumbelMax(p, position, Use.TOKEN);
    }

    /** {@link #gumbelMax(Distribution, long)} with the noise of the given use. */
    public int gumbelMax(Distribution p, long position, Use use) {
        // p_i = w_i * scale in float, computed only where read: the same floats as the normalized array, and
        // the block maximum times the scale is the maximum of the products (rounding is monotone).
        float[] w = p.weights();
        float scale = p.scale();
        long key = rowKey(position, use);
        long blockKey = mix(key ^ BLOCK_SALT);
        double best = Double.POSITIVE_INFINITY; // the smallest E_i / p_i so far
        int winner = -1;
        for (int start = 0, block = 0; start < w.length; start += BLOCK, block++) {
            int end = Math.min(start + BLOCK, w.length);
            float pMax = 0f;
            for (int i = start; i < end; i++) {
                float v = w[i];
                if (v > pMax) {
                    pMax = v;
                }
            }
            pMax *= scale;
            if (pMax == 0f) {
                continue; // outside the support
            }
            // A token of the block wins only if E_i < best * p_i <= best * pMax, and every E_i >= eMin >= u / BLOCK.
            double blockBound = best * pMax * SKIP_MARGIN;
            long bits = mix(blockKey + (block + 1L) * GOLDEN);
            double u = unitOpen(bits);
            if (u * (1.0 / BLOCK) >= blockBound) {
                continue;
            }
            double eMin = blockMinimum(u);
            int holder = start + (int) (bits & (BLOCK - 1));
            for (int i = start; i < end; i++) {
                float pi = w[i] * scale;
                if (pi > 0) {
                    double bound = best * pi * SKIP_MARGIN;
                    if (eMin >= bound) {
                        continue;
                    }
                    double e = eMin;
                    if (i != holder) {
                        double d = unitOpen(mix(key + (i + 1L) * GOLDEN));
                        if (eMin + d >= bound) { // E_i = eMin + X_i and X_i >= d
                            continue;
                        }
                        e = eMin + exponential(d);
                    }
                    double ratio = e / pi;
                    if (ratio < best) {
                        best = ratio;
                        winner = i;
                    }
                }
            }
        }
        if (winner < 0) {
            throw new IllegalArgumentException("distribution has no token with positive probability: " + p);
        }
        return winner;
    }

    /**
     * {@link #gumbelMax(Distribution, long, Use)} of the distribution a row's bounds describe, decided without
     * that distribution where the bounds allow: the same construction over the unnormalized weights w_i (p_i is
     * w_i / W rounded, and W is common to all tokens), each exponentiated only in blocks whose best weight could
     * still win. Rounding p_i moves a ratio E_i / p_i by less than 2e-7 relative, so when the winner beats every
     * other token by more than {@value #DECISIVE} relative it is the winner over p too; otherwise (near-ties, or a
     * winner so unlikely its p_i could round to 0) the answer is left to the full distribution.
     *
     * @return the token {@code gumbelMax(p, position, use)} returns for the row's distribution p, or -1 when the
     *         bounds do not settle it
     */
    public int gumbelMax(RowBounds row, long position, Use use) {
        int n = row.vocabSize();
        long key = rowKey(position, use);
        long blockKey = mix(key ^ BLOCK_SALT);
        // Skips need a margin over the decisive gap plus the slack of a block's best weight as a bound.
        double skipMargin = (1 + DECISIVE) * (1 + RowBounds.WEIGHT_SLACK) * SKIP_MARGIN;
        double best = Double.POSITIVE_INFINITY; // the smallest E_i / w_i so far
        double second = Double.POSITIVE_INFINITY; // the smallest ratio of any other token examined
        int winner = -1;
        // Spans go by decreasing best weight: a low ratio early lets most blocks be skipped after one hash. The
        // order cannot change the result: near-ties are left to the full distribution.
        int blocksPerSpan = RowBounds.SPAN / BLOCK;
        int blocks = (n + BLOCK - 1) / BLOCK;
        for (int span : row.spansByWeight()) {
            for (int block = span * blocksPerSpan; block < Math.min((span + 1) * blocksPerSpan, blocks); block++) {
                int start = block * BLOCK;
                float wMax = row.blockBound(block); // the span's best weight first: no pass over the block yet
                if (wMax == 0f) {
                    continue; // outside the support
                }
                long bits = mix(blockKey + (block + 1L) * GOLDEN);
                double u = unitOpen(bits);
                if (u * (1.0 / BLOCK) >= best * wMax * skipMargin) {
                    continue;
                }
                wMax = row.blockWeight(block);
                if (wMax == 0f || u * (1.0 / BLOCK) >= best * wMax * skipMargin) {
                    continue;
                }
                double eMin = blockMinimum(u);
                int holder = start + (int) (bits & (BLOCK - 1));
                int end = Math.min(start + BLOCK, n);
                for (int i = start; i < end; i++) {
                    float wi = row.weight(i);
                    if (wi > 0) {
                        double bound = best * wi * skipMargin;
                        if (eMin >= bound) {
                            continue;
                        }
                        double e = eMin;
                        if (i != holder) {
                            double d = unitOpen(mix(key + (i + 1L) * GOLDEN));
                            if (eMin + d >= bound) {
                                continue;
                            }
                            e = eMin + exponential(d);
                        }
                        double ratio = e / wi;
                        if (ratio < best) {
                            second = best;
                            best = ratio;
                            winner = i;
                        } else if (ratio < second) {
                            second = ratio;
                        }
                    }
                }
            }
        }
        if (winner < 0 || !(second > best * (1 + DECISIVE))
                || !(row.weight(winner) / row.massHigh() > MIN_DECISIVE_PROBABILITY)) {
            return -1;
        }
        return winner;
    }

    /**
     * The reference form of {@link #gumbelMax}: every E_i computed (a logarithm per entry), then argmin E_i / p_i.
     * Slower; it defines what the fast form must return, and tests compare the two.
     */
    int gumbelMaxReference(Distribution p, long position, Use use) {
        float[] w = p.probabilities();
        double best = Double.POSITIVE_INFINITY;
        int winner = -1;
        for (int i = 0; i < w.length; i++) {
            if (w[i] > 0) {
                double ratio = exponentialNoise(position, use, i) / w[i];
                if (ratio < best) {
                    best = ratio;
                    winner = i;
                }
            }
        }
        return winner;
    }

    /**
     * The exponential noise E of one token: Exp(1), independent across tokens, a pure function of (seed, position,
     * use, token). Tokens come in blocks of {@value #BLOCK} slots: the block's minimum is drawn first (Exp(BLOCK),
     * held by a uniformly chosen slot) and every other slot adds an independent Exp(1) to it, which by the
     * memorylessness of the exponential gives {@value #BLOCK} independent Exp(1) values.
     */
    double exponentialNoise(long position, Use use, int token) {
        long key = rowKey(position, use);
        int block = token / BLOCK;
        long bits = mix(mix(key ^ BLOCK_SALT) + (block + 1L) * GOLDEN);
        double eMin = blockMinimum(unitOpen(bits));
        if (token == block * BLOCK + (int) (bits & (BLOCK - 1))) {
            return eMin;
        }
        return eMin + exponential(unitOpen(mix(key + (token + 1L) * GOLDEN)));
    }

    /** Exp(BLOCK) from a uniform u: -log(1 - u) / BLOCK, at least u / BLOCK. */
    private static double blockMinimum(double u) {
        return exponential(u) * (1.0 / BLOCK);
    }

    /** Exp(1) from a uniform d: -log(1 - d), at least d (StrictMath: the same bits on every platform). */
    private static double exponential(double d) {
        return -StrictMath.log1p(-d);
    }

    /** A uniform number in [0, 1) for (position, use): one draw per position and purpose. */
    public double uniform(long position, Use use) {
        return (mix(rowKey(position, use)) >>> 11) * 0x1.0p-53;
    }

    /** The key of one position's stream: every (seed, position, use) gets an unrelated one. */
    private long rowKey(long position, Use use) {
        return mix(mix(seed ^ GOLDEN) + mix(position * 4 + use.ordinal() + 1));
    }

    /** Uniform in (0, 1), exactly representable with 1 - value exact too: (m + 0.5) * 2^-52 for 52 random bits. */
    private static double unitOpen(long bits) {
        return ((bits >>> 12) + 0.5) * 0x1.0p-52;
    }

    /** SplitMix64's finalizer (Stafford's variant 13): a bijection that scrambles every input bit. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
