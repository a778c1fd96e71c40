package dev.specula.core.sampling;

import org.apache.commons.math3.stat.inference.ChiSquareTest;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The keyed noise: a pure function, exact Gumbel-max sampling, and a fast path equal to its reference form. */
class KeyedNoiseTest {

    private static Distribution randomDistribution(SplittableRandom r, int vocab, double zeroFraction, double spread) {
        double[] p = new double[vocab];
        for (int i = 0; i < vocab; i++) {
            p[i] = r.nextDouble() < zeroFraction ? 0 : Math.exp(r.nextGaussian() * spread);
        }
        p[r.nextInt(vocab)] += 0.1;
        return Distribution.of(p);
    }

    private static double pValue(Distribution p, long[] counts) {
        int n = 0;
        for (int i = 0; i < counts.length; i++) {
            if (p.prob(i) > 0) {
                n++;
            } else {
                assertEquals(0, counts[i], "token " + i + " has probability 0 but was drawn");
            }
        }
        double[] e = new double[n];
        long[] o = new long[n];
        int j = 0;
        for (int i = 0; i < counts.length; i++) {
            if (p.prob(i) > 0) {
                e[j] = p.prob(i);
                o[j++] = counts[i];
            }
        }
        return new ChiSquareTest().chiSquareTest(e, o);
    }

    @Test
    void theFastGumbelMaxPicksExactlyTheTokenOfTheLogPerEntryForm() {
        SplittableRandom r = new SplittableRandom(5);
        int checked = 0;
        for (int trial = 0; trial < 300; trial++) {
            int vocab = 2 + r.nextInt(trial < 250 ? 40 : 5000);
            // Spreads from flat to very peaked (tokens down to ~1e-30) and supports with holes.
            Distribution p = randomDistribution(r, vocab, r.nextDouble() * 0.5, 0.1 + r.nextDouble() * 8);
            KeyedNoise noise = new KeyedNoise(r.nextLong());
            for (int position = 0; position < 20; position++) {
                for (KeyedNoise.Use use : KeyedNoise.Use.values()) {
                    assertEquals(noise.gumbelMaxReference(p, position, use), noise.gumbelMax(p, position, use),
                            "trial " + trial + " position " + position + " " + use);
                    checked++;
                }
            }
        }
        assertEquals(300 * 20 * 3, checked);
    }

    @Test
    void noiseIsAPureFunctionOfSeedPositionAndUse() {
        Distribution p = Distribution.of(0.1, 0.2, 0.3, 0.15, 0.25);
        KeyedNoise a = new KeyedNoise(99);
        int[] forward = new int[200];
        for (int t = 0; t < 200; t++) {
            forward[t] = a.gumbelMax(p, t);
        }
        // Any order, any number of other draws in between, another instance: the same token per position.
        KeyedNoise b = new KeyedNoise(99);
        for (int t = 199; t >= 0; t--) {
            b.gumbelMax(p, t + 1000);
            b.uniform(t, KeyedNoise.Use.ACCEPT);
            assertEquals(forward[t], b.gumbelMax(p, t), "position " + t);
        }
        assertEquals(a.uniform(17, KeyedNoise.Use.ACCEPT), b.uniform(17, KeyedNoise.Use.ACCEPT));
        int differ = 0;
        KeyedNoise other = new KeyedNoise(100);
        for (int t = 0; t < 200; t++) {
            differ += other.gumbelMax(p, t) != forward[t] ? 1 : 0;
        }
        assertTrue(differ > 100, "another seed, other tokens: " + differ + " of 200 differ");
    }

    /** Over seeds at one position, over positions with one seed, and for each use: draws follow p exactly. */
    @Test
    void gumbelMaxDrawsFollowTheDistribution() {
        Distribution p = Distribution.of(0.4, 0.0, 0.25, 0.001, 0.15, 0.0999, 0.05, 0.0, 0.0491);
        int samples = 200_000;
        long[] overSeeds = new long[p.vocabSize()];
        long[] overPositions = new long[p.vocabSize()];
        long[][] perUse = new long[KeyedNoise.Use.values().length][p.vocabSize()];
        KeyedNoise fixed = new KeyedNoise(12345);
        for (int s = 0; s < samples; s++) {
            overSeeds[new KeyedNoise(s).gumbelMax(p, 42)]++;
            overPositions[fixed.gumbelMax(p, s)]++;
            for (KeyedNoise.Use use : KeyedNoise.Use.values()) {
                if (s < samples / 2) {
                    perUse[use.ordinal()][fixed.gumbelMax(p, s + 1_000_000L, use)]++;
                }
            }
        }
        assertTrue(pValue(p, overSeeds) > 1e-3, "over seeds: p-value " + pValue(p, overSeeds));
        assertTrue(pValue(p, overPositions) > 1e-3, "over positions: p-value " + pValue(p, overPositions));
        for (KeyedNoise.Use use : KeyedNoise.Use.values()) {
            double pv = pValue(p, perUse[use.ordinal()]);
            assertTrue(pv > 1e-3, use + ": p-value " + pv);
        }
    }

    /**
     * Across blocks of the noise construction (a vocabulary of 150: two full blocks of 64 and a partial one), with
     * holes in the support: draws follow p, so the per-token noise is independent Exp(1) however it is built.
     */
    @Test
    void gumbelMaxDrawsFollowADistributionSpanningSeveralBlocks() {
        double[] weights = new double[150];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = i % 11 == 3 ? 0 : 1 + (i * 7) % 5 + (i == 70 ? 40 : 0);
        }
        Distribution p = Distribution.of(weights);
        long[] counts = new long[p.vocabSize()];
        KeyedNoise noise = new KeyedNoise(77);
        for (int t = 0; t < 300_000; t++) {
            counts[noise.gumbelMax(p, t)]++;
        }
        double pv = pValue(p, counts);
        assertTrue(pv > 1e-3, "p-value " + pv);
    }

    /** Each token's noise is Exp(1) (Kolmogorov-Smirnov), whichever slot of its block holds the block's minimum. */
    @Test
    void perTokenNoiseIsExponential() {
        KeyedNoise noise = new KeyedNoise(4);
        int n = 20_000;
        double[] first = new double[n];
        double[] middle = new double[n];
        for (int t = 0; t < n; t++) {
            first[t] = noise.exponentialNoise(t, KeyedNoise.Use.TOKEN, 0);
            middle[t] = noise.exponentialNoise(t, KeyedNoise.Use.TOKEN, 64 + 37);
        }
        var exp = new org.apache.commons.math3.distribution.ExponentialDistribution(null, 1.0);
        var ks = new org.apache.commons.math3.stat.inference.KolmogorovSmirnovTest();
        assertTrue(ks.kolmogorovSmirnovTest(exp, first) > 1e-3, "token 0");
        assertTrue(ks.kolmogorovSmirnovTest(exp, middle) > 1e-3, "token 101");
        // Two tokens of one block are independent: their noise is uncorrelated.
        double sxy = 0;
        for (int t = 0; t < n; t++) {
            sxy += (first[t] - 1) * (noise.exponentialNoise(t, KeyedNoise.Use.TOKEN, 1) - 1);
        }
        assertEquals(0, sxy / n, 4 / Math.sqrt(n), "covariance of two tokens' noise in one block");
    }

    /** The streams of one position are independent: the joint of TOKEN and RESAMPLE draws is the product. */
    @Test
    void theUsesOfOnePositionAreIndependent() {
        Distribution p = Distribution.of(0.5, 0.3, 0.2);
        long[] joint = new long[9];
        KeyedNoise noise = new KeyedNoise(8);
        int samples = 150_000;
        for (int t = 0; t < samples; t++) {
            joint[noise.gumbelMax(p, t, KeyedNoise.Use.TOKEN) * 3 + noise.gumbelMax(p, t, KeyedNoise.Use.RESAMPLE)]++;
        }
        double[] expected = new double[9];
        for (int i = 0; i < 9; i++) {
            expected[i] = p.prob(i / 3) * p.prob(i % 3);
        }
        double pv = new ChiSquareTest().chiSquareTest(expected, joint);
        assertTrue(pv > 1e-3, "p-value " + pv);
    }

    @Test
    void uniformsAreUniform() {
        int bins = 20;
        long[] counts = new long[bins];
        KeyedNoise noise = new KeyedNoise(3);
        for (int t = 0; t < 200_000; t++) {
            double u = noise.uniform(t, KeyedNoise.Use.ACCEPT);
            assertTrue(u >= 0 && u < 1, "uniform " + u);
            counts[(int) (u * bins)]++;
        }
        double[] expected = new double[bins];
        java.util.Arrays.fill(expected, 1.0 / bins);
        double pv = new ChiSquareTest().chiSquareTest(expected, counts);
        assertTrue(pv > 1e-3, "p-value " + pv);
    }

    /** Coupling: a draft q close to p picks the target's token far more often than an independent draw would. */
    @Test
    void sharedNoiseMakesCloseDistributionsAgree() {
        Distribution p = Distribution.of(0.3, 0.25, 0.2, 0.15, 0.1);
        Distribution q = Distribution.of(0.25, 0.3, 0.2, 0.1, 0.15);
        double tv = 0.1; // half the L1 distance of p and q
        int samples = 100_000;
        int agree = 0;
        int independent = 0;
        for (int s = 0; s < samples; s++) {
            KeyedNoise noise = new KeyedNoise(s);
            int target = noise.gumbelMax(p, 0);
            agree += noise.gumbelMax(q, 0) == target ? 1 : 0;
            independent += noise.gumbelMax(q, 0, KeyedNoise.Use.RESAMPLE) == target ? 1 : 0;
        }
        double rate = (double) agree / samples;
        // Daliri, Musco, Suresh 2024: P(agree) >= (1 - TV) / (1 + TV) = 0.818; independent draws agree 0.21.
        assertTrue(rate > (1 - tv) / (1 + tv) - 0.005, "coupled agreement " + rate);
        assertTrue(rate <= 1 - tv + 0.005, "no coupling beats the optimal 1 - TV: " + rate);
        assertTrue((double) independent / samples < 0.25, "independent agreement " + (double) independent / samples);
    }

    @Test
    void freshSeedsAreDistinctAndFitADouble() {
        Set<Long> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            long s = KeyedNoise.freshSeed();
            assertTrue(s >= 0 && s < KeyedNoise.FRESH_SEED_BOUND, "seed " + s);
            assertEquals(s, (long) (double) s, "seed " + s + " survives a double");
            seen.add(s);
        }
        assertEquals(1000, seen.size(), "1000 fresh seeds are distinct");
    }

    @Test
    void aDistributionWithoutSupportIsRejected() {
        Distribution empty = new Distribution(3); // all zero: never produced by the transform
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new KeyedNoise(1).gumbelMax(empty, 0));
        assertTrue(e.getMessage().contains("no token with positive probability"), e.getMessage());
    }
}
