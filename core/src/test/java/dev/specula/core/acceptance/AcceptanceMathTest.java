package dev.specula.core.acceptance;

import dev.specula.core.draft.Proposal;
import dev.specula.core.model.Logits;
import dev.specula.core.sampling.Distribution;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.sampling.SamplingTransform;
import org.apache.commons.math3.stat.inference.ChiSquareTest;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The acceptance rules preserve the target distribution: exactly, and statistically through the rule code. */
class AcceptanceMathTest {

    private static Distribution randomDistribution(SplittableRandom r, int vocab, double zeroFraction) {
        double[] p = new double[vocab];
        for (int i = 0; i < vocab; i++) {
            p[i] = r.nextDouble() < zeroFraction ? 0 : Math.exp(r.nextGaussian() * 1.5);
        }
        p[r.nextInt(vocab)] += 0.1;
        return Distribution.of(p);
    }

    @Test
    void speculativeSamplingEmitsExactlyPInOneStep() {
        SplittableRandom r = new SplittableRandom(42);
        for (int trial = 0; trial < 500; trial++) {
            int vocab = 2 + r.nextInt(9);
            Distribution p = randomDistribution(r, vocab, 0.3);
            Distribution q = randomDistribution(r, vocab, 0.3);
            Distribution residual = SpeculativeSampling.residual(p, q, new Distribution(vocab));
            double rejectMass = 0;
            double[] emitted = new double[vocab];
            for (int x = 0; x < vocab; x++) {
                double qx = q.prob(x);
                if (qx == 0) {
                    continue; // never drafted
                }
                double a = SpeculativeSampling.acceptanceProbability(p, q, x);
                emitted[x] += qx * a;
                rejectMass += qx * (1 - a);
            }
            for (int y = 0; y < vocab; y++) {
                emitted[y] += rejectMass * residual.prob(y);
                assertEquals(p.prob(y), emitted[y], 1e-6, "trial " + trial + " token " + y);
            }
        }
    }

    @Test
    void oneHotAcceptanceEmitsExactlyPInOneStep() {
        SplittableRandom r = new SplittableRandom(7);
        for (int trial = 0; trial < 500; trial++) {
            int vocab = 2 + r.nextInt(9);
            Distribution p = randomDistribution(r, vocab, 0.3);
            int x = r.nextInt(vocab);
            Distribution rest = OneHotAcceptance.withoutToken(p, x, new Distribution(vocab));
            double px = p.prob(x);
            for (int y = 0; y < vocab; y++) {
                double emitted = (y == x ? px : 0) + (1 - px) * rest.prob(y);
                assertEquals(p.prob(y), emitted, 1e-6, "trial " + trial + " token " + y);
            }
        }
    }

    @Test
    void zeroDraftProbabilityOfTheDraftedTokenIsReportedAsAMismatchedQ() {
        Distribution p = Distribution.of(0.5, 0.5);
        Distribution q = Distribution.of(1, 0);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> SpeculativeSampling.acceptanceProbability(p, q, 1));
        assertTrue(e.getMessage().contains("exact distribution"), e.getMessage());
    }

    /** Draws the first emitted token through a rule many times; returns counts per token. */
    private static long[] firstTokenCounts(float[][] targetRows, double[] draftQ, double[] draftSampledFrom,
                                           boolean oneHot, SamplingParams params, int k, int samples, long seed) {
        int vocab = targetRows[0].length;
        SplittableRandom r = new SplittableRandom(seed);
        SamplingTransform transform = new SamplingTransform(params, vocab);
        TargetScores scores = new TargetScores(transform);
        Logits logits = Logits.of(targetRows);
        Distribution q = Distribution.of(draftQ);
        Distribution sampler = Distribution.of(draftSampledFrom);
        Distribution[] qs = new Distribution[k];
        java.util.Arrays.fill(qs, q);
        long[] counts = new long[vocab];
        for (int s = 0; s < samples; s++) {
            int[] tokens = new int[k];
            for (int i = 0; i < k; i++) {
                tokens[i] = sampler.sample(r);
            }
            Proposal proposal = oneHot ? Proposal.oneHot(tokens) : new Proposal(tokens, qs, null, k);
            Verdict v = AcceptanceRule.select(params, proposal).decide(proposal, scores.reset(logits), r);
            counts[v.accepted() > 0 ? tokens[0] : v.nextToken()]++;
        }
        return counts;
    }

    private static double pValue(double[] expected, long[] observed) {
        int n = 0;
        for (double e : expected) {
            if (e > 0) {
                n++;
            }
        }
        double[] e = new double[n];
        long[] o = new long[n];
        int j = 0;
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] > 0) {
                e[j] = expected[i];
                o[j++] = observed[i];
            } else {
                assertEquals(0, observed[i], "token " + i + " has target probability 0 but was emitted");
            }
        }
        return new ChiSquareTest().chiSquareTest(e, o);
    }

    @Test
    void rulesMatchTheTargetDistributionStatistically() {
        float[][] rows = {{1.0f, 0.2f, -0.5f, 2.0f, 0.0f, -1.0f}, {0.3f, 0.3f, 1.5f, -2f, 0.7f, 0.1f},
                {2f, -1f, 0f, 0f, 1f, 0.5f}};
        double[] q = {0.3, 0.05, 0.2, 0.1, 0.3, 0.05};
        SamplingParams[] settings = {
                SamplingParams.builder().temperature(1).build(),
                SamplingParams.builder().temperature(0.6).topK(4).build(),
                SamplingParams.builder().temperature(1.2).topP(0.8).build(),
        };
        for (SamplingParams params : settings) {
            Distribution p = new SamplingTransform(params, 6).apply(Logits.of(rows), 0, new Distribution(6));
            double[] expected = new double[6];
            for (int i = 0; i < 6; i++) {
                expected[i] = p.prob(i);
            }
            for (boolean oneHot : new boolean[]{false, true}) {
                long[] counts = firstTokenCounts(rows, q, q, oneHot, params, 2, 100_000, 11);
                double pv = pValue(expected, counts);
                assertTrue(pv > 1e-3, params + (oneHot ? " one-hot" : " model draft") + ": p-value " + pv);
            }
        }
    }

    @Test
    void aDraftThatReportsADifferentQThanItSampledFromIsCaught() {
        float[][] rows = {{1.0f, 0.2f, -0.5f, 2.0f, 0.0f, -1.0f}, {0.3f, 0.3f, 1.5f, -2f, 0.7f, 0.1f}};
        double[] reported = {0.3, 0.05, 0.2, 0.1, 0.3, 0.05};
        double[] actual = {0.05, 0.3, 0.1, 0.2, 0.05, 0.3};
        SamplingParams params = SamplingParams.builder().temperature(1).build();
        Distribution p = new SamplingTransform(params, 6).apply(Logits.of(rows), 0, new Distribution(6));
        double[] expected = new double[6];
        for (int i = 0; i < 6; i++) {
            expected[i] = p.prob(i);
        }
        long[] counts = firstTokenCounts(rows, reported, actual, false, params, 1, 100_000, 13);
        double pv = pValue(expected, counts);
        assertTrue(pv < 1e-6, "a wrong q must distort the output, p-value " + pv);
    }

    @Test
    void greedyKeepsTheMatchingPrefixAndTakesTheTargetArgmax() {
        float[][] rows = {{0, 5, 1}, {3, 0, 1}, {0, 1, 4}};
        TargetScores scores = new TargetScores(new SamplingTransform(SamplingParams.greedy(1), 3)).reset(Logits.of(rows));
        SplittableRandom r = new SplittableRandom(1);
        assertEquals(new Verdict(2, 2, 2), GreedyAcceptance.INSTANCE.decide(Proposal.oneHot(new int[]{1, 0}), scores, r));
        assertEquals(new Verdict(2, 1, 0), GreedyAcceptance.INSTANCE.decide(Proposal.oneHot(new int[]{1, 2}), scores, r));
        assertEquals(new Verdict(2, 0, 1), GreedyAcceptance.INSTANCE.decide(Proposal.oneHot(new int[]{2, 0}), scores, r));
        assertEquals(new Verdict(0, 0, 1), GreedyAcceptance.INSTANCE.decide(Proposal.empty(), scores, r));
    }
}
