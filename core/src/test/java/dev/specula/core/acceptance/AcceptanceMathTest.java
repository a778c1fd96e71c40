package dev.specula.core.acceptance;

import dev.specula.core.draft.Proposal;
import dev.specula.core.model.Logits;
import dev.specula.core.sampling.Distribution;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingMode;
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

    /**
     * Draws the first emitted token through a rule many times, each with a fresh seed; returns counts per token.
     * Model drafts sample with the generation's noise as the model drafter does (Gumbel-max of the distribution
     * they sample from, at the draft token's position); one-hot drafts are drawn independently of it.
     */
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
        long position = 30;
        for (int s = 0; s < samples; s++) {
            KeyedNoise noise = new KeyedNoise(r.nextLong());
            int[] tokens = new int[k];
            for (int i = 0; i < k; i++) {
                tokens[i] = oneHot ? sampler.sample(r) : noise.gumbelMax(sampler, position + i);
            }
            Proposal proposal = oneHot ? Proposal.oneHot(tokens) : new Proposal(tokens, qs, null, k);
            Verdict v = AcceptanceRule.select(params, proposal).decide(proposal, scores.reset(logits, position), noise);
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
        for (SamplingMode mode : SamplingMode.values()) {
            for (SamplingParams setting : settings) {
                SamplingParams params = setting.toBuilder().mode(mode).build();
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
    }

    /**
     * Coupled verification emits exactly the tokens plain coupled sampling picks at those positions, whatever
     * was drafted: a model draft coupled through the noise, an independent one, or arbitrary one-hot guesses.
     */
    @Test
    void coupledVerdictsEmitThePlainGumbelMaxTokensForAnyDraft() {
        SplittableRandom r = new SplittableRandom(23);
        SamplingParams params = SamplingParams.builder().temperature(0.9).topK(5).mode(SamplingMode.COUPLED).build();
        int accepted = 0;
        int drafted = 0;
        for (int trial = 0; trial < 3000; trial++) {
            int vocab = 2 + r.nextInt(8);
            int k = r.nextInt(6);
            float[][] rows = new float[k + 1][vocab];
            float[][] draftRows = new float[Math.max(1, k)][vocab];
            for (int i = 0; i <= k; i++) {
                for (int t = 0; t < vocab; t++) {
                    rows[i][t] = (float) (r.nextGaussian() * 2);
                    if (i < k) {
                        draftRows[i][t] = rows[i][t] + (float) (r.nextGaussian() * 0.7);
                    }
                }
            }
            SamplingTransform transform = new SamplingTransform(params, vocab);
            long position = r.nextInt(1000);
            KeyedNoise noise = new KeyedNoise(r.nextLong());
            Distribution[] q = new Distribution[k];
            int[] coupled = new int[k];
            int[] guesses = new int[k];
            for (int i = 0; i < k; i++) {
                q[i] = transform.apply(Logits.of(draftRows), i, new Distribution(vocab));
                coupled[i] = noise.gumbelMax(q[i], position + i);
                guesses[i] = r.nextInt(vocab);
            }
            int[] plain = new int[k + 1];
            for (int i = 0; i <= k; i++) {
                plain[i] = noise.gumbelMax(transform.apply(Logits.of(rows), i, new Distribution(vocab)), position + i);
            }
            for (Proposal proposal : new Proposal[]{new Proposal(coupled, q, null, k), Proposal.oneHot(guesses)}) {
                TargetScores scores = new TargetScores(transform).reset(Logits.of(rows), position);
                Verdict v = AcceptanceRule.select(params, proposal).decide(proposal, scores, noise);
                assertTrue(AcceptanceRule.select(params, proposal) instanceof CoupledAcceptance);
                for (int i = 0; i < v.accepted(); i++) {
                    assertEquals(plain[i], proposal.tokens()[i], "trial " + trial + " kept token " + i);
                }
                assertEquals(plain[v.accepted()], v.nextToken(), "trial " + trial + " next token");
                if (v.accepted() < k) {
                    assertTrue(proposal.tokens()[v.accepted()] != plain[v.accepted()], "a matching token was rejected");
                }
                if (proposal.hasDistributions()) {
                    accepted += v.accepted();
                    drafted += k;
                }
            }
        }
        assertTrue(drafted > 5000, "drafted " + drafted);
        assertTrue(accepted > drafted / 3, "coupled model drafts were accepted: " + accepted + " of " + drafted);
    }

    /**
     * The acceptance of a coupled model draft, one position at a time: it matches the target's token with the
     * probability the shared noise gives, at least (1 - TV) / (1 + TV) and at most rejection sampling's 1 - TV.
     */
    @Test
    void coupledAcceptanceLiesBetweenTheCouplingBoundAndRejectionSampling() {
        float[][] rows = {{1.0f, 0.2f, -0.5f, 2.0f, 0.0f, -1.0f}, {0.3f, 0.3f, 1.5f, -2f, 0.7f, 0.1f}};
        double[] q = {0.3, 0.05, 0.2, 0.1, 0.3, 0.05};
        for (SamplingMode mode : SamplingMode.values()) {
            SamplingParams params = SamplingParams.builder().temperature(1).mode(mode).build();
            SamplingTransform transform = new SamplingTransform(params, 6);
            Distribution p = transform.apply(Logits.of(rows), 0, new Distribution(6));
            Distribution qd = Distribution.of(q);
            double tv = 0;
            for (int i = 0; i < 6; i++) {
                tv += Math.abs(p.prob(i) - qd.prob(i)) / 2;
            }
            TargetScores scores = new TargetScores(transform);
            int samples = 100_000;
            int kept = 0;
            for (int s = 0; s < samples; s++) {
                KeyedNoise noise = new KeyedNoise(s);
                Proposal proposal = new Proposal(new int[]{noise.gumbelMax(qd, 5)}, new Distribution[]{qd}, null, 1);
                kept += AcceptanceRule.select(params, proposal).decide(proposal, scores.reset(Logits.of(rows), 5), noise)
                        .accepted();
            }
            double rate = (double) kept / samples;
            double sd = Math.sqrt(0.25 / samples);
            if (mode == SamplingMode.REJECTION) {
                assertEquals(1 - tv, rate, 5 * sd, "rejection sampling accepts 1 - TV");
            } else {
                assertTrue(rate >= (1 - tv) / (1 + tv) - 5 * sd && rate <= 1 - tv + 5 * sd,
                        "coupled acceptance " + rate + " outside [" + (1 - tv) / (1 + tv) + ", " + (1 - tv) + "]");
            }
        }
    }

    @Test
    void aDraftThatReportsADifferentQThanItSampledFromIsCaught() {
        float[][] rows = {{1.0f, 0.2f, -0.5f, 2.0f, 0.0f, -1.0f}, {0.3f, 0.3f, 1.5f, -2f, 0.7f, 0.1f}};
        double[] reported = {0.3, 0.05, 0.2, 0.1, 0.3, 0.05};
        double[] actual = {0.05, 0.3, 0.1, 0.2, 0.05, 0.3};
        SamplingParams params = SamplingParams.builder().temperature(1).mode(SamplingMode.REJECTION).build();
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
        TargetScores scores = new TargetScores(new SamplingTransform(SamplingParams.greedy(1), 3))
                .reset(Logits.of(rows), 0);
        KeyedNoise r = new KeyedNoise(1);
        assertEquals(new Verdict(2, 2, 2), GreedyAcceptance.INSTANCE.decide(Proposal.oneHot(new int[]{1, 0}), scores, r));
        assertEquals(new Verdict(2, 1, 0), GreedyAcceptance.INSTANCE.decide(Proposal.oneHot(new int[]{1, 2}), scores, r));
        assertEquals(new Verdict(2, 0, 1), GreedyAcceptance.INSTANCE.decide(Proposal.oneHot(new int[]{2, 0}), scores, r));
        assertEquals(new Verdict(0, 0, 1), GreedyAcceptance.INSTANCE.decide(Proposal.empty(), scores, r));
    }
}
