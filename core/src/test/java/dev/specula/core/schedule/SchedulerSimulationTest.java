package dev.specula.core.schedule;

import dev.specula.core.StepOutcome;
import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.Proposal;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Schedulers on simulated models with known acceptance and costs. Time is simulated: a target call over n
 * positions costs T * verifyRatio(n) (ratios measured for a 12M-parameter target on a 2-core CPU) and each draft
 * token costs c * T. Acceptance is i.i.d. per position with probability a.
 */
class SchedulerSimulationTest {
    static final double T = 2_000_000; // 2 ms per target call of one token
    static final double[] MEASURED = {0, 1.0, 1.17, 1.27, 1.35, 1.43, 1.57, 1.72, 1.87, 2.02};

    static double verifyRatio(int n) {
        return n < MEASURED.length ? MEASURED[n] : MEASURED[9] + 0.15 * (n - 9);
    }

    /** Expected throughput of a fixed draft length (tokens per simulated ns). */
    static double analyticRate(int k, double a, double c) {
        double e = a == 1 ? k + 1 : (1 - Math.pow(a, k + 1)) / (1 - a);
        return e / (k * c * T + T * verifyRatio(k + 1));
    }

    record Run(double rate, List<Integer> ks) {
    }

    static Run simulate(Scheduling scheduling, double a, double c, int tokens, long seed) {
        return simulate(scheduling.start(), a, c, tokens, seed);
    }

    static Run simulate(DraftScheduler s, double a, double c, int tokens, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double time = 0;
        int produced = 0;
        List<Integer> ks = new ArrayList<>();
        while (produced < tokens) {
            DraftPlan plan = s.plan();
            int k = plan.maxDraftTokens();
            ks.add(k);
            int acc = 0;
            while (acc < k && r.nextDouble() < a) {
                acc++;
            }
            long draft = Math.round(k * c * T);
            long verify = Math.round(T * verifyRatio(k + 1));
            time += draft + verify;
            produced += acc + 1;
            s.feedback(new StepOutcome(plan, Proposal.oneHot(new int[k]), new Verdict(k, acc, 0), draft, verify));
        }
        s.finish();
        return new Run(produced / time, ks);
    }

    @Test
    void adaptiveReachesNinetySevenPercentOfTheBestFixedLengthOverTheGrid() {
        double[] acceptances = {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95};
        double[] costRatios = {0.02, 0.05, 0.1, 0.2, 0.4, 0.6};
        List<Double> fractions = new ArrayList<>();
        StringBuilder table = new StringBuilder();
        for (double a : acceptances) {
            for (double c : costRatios) {
                double best = 0;
                int bestK = 0;
                for (int k = 0; k <= 16; k++) {
                    if (analyticRate(k, a, c) > best) {
                        best = analyticRate(k, a, c);
                        bestK = k;
                    }
                }
                double rate = 0;
                int seeds = 3;
                for (int seed = 0; seed < seeds; seed++) {
                    rate += simulate(Scheduling.adaptive(), a, c, 20_000, seed).rate() / seeds;
                }
                double fraction = rate / best;
                fractions.add(fraction);
                table.append(String.format("a=%.2f c=%.2f bestK=%d fraction=%.4f%n", a, c, bestK, fraction));
            }
        }
        Collections.sort(fractions);
        System.out.printf("adaptive / best fixed k: min %.4f, median %.4f over %d cells%n%s", fractions.get(0),
                fractions.get(fractions.size() / 2), fractions.size(), table);
        assertTrue(fractions.get(0) >= 0.97, "min fraction " + fractions.get(0) + "\n" + table);
    }

    /**
     * One generation in a fresh process: its first {@code coldSteps} steps are slow (first native calls, JIT), the
     * draft's far more than the target's; time counts them as they are.
     */
    static double coldRun(DraftScheduler s, double a, double c, int tokens, int coldSteps, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double time = 0;
        int produced = 0;
        for (int step = 0; produced < tokens; step++) {
            DraftPlan plan = s.plan();
            int k = Math.min(plan.maxDraftTokens(), tokens - produced - 1);
            int acc = 0;
            while (acc < k && r.nextDouble() < a) {
                acc++;
            }
            boolean cold = step < coldSteps;
            long draft = Math.round(k * c * T * (cold ? 10 : 1));
            long verify = Math.round(T * verifyRatio(k + 1) * (cold ? 2 : 1));
            time += draft + verify;
            produced += acc + 1;
            s.feedback(new StepOutcome(plan, new Proposal(new int[k], null, null, k, "model:draft"),
                    new Verdict(k, acc, 0), draft, verify));
        }
        s.finish();
        return produced / time;
    }

    @Test
    void withACalibrationTheFirstGenerationIsWithinAFewPercentOfTheBestFixedLength() {
        // A one-shot command line run: 128 tokens, the first 3 steps cold. The best fixed length runs the same
        // simulation (cold steps included), so the fraction is what the scheduler's choices cost.
        double[][] cells = {{0.6, 0.05}, {0.7, 0.1}, {0.8, 0.05}, {0.8, 0.2}, {0.9, 0.02}, {0.9, 0.1}, {0.5, 0.2}};
        StringBuilder table = new StringBuilder();
        double worst = Double.MAX_VALUE;
        for (double[] cell : cells) {
            double a = cell[0];
            double c = cell[1];
            CostCalibration calibration = CostCalibrationTest.simulated(c);
            int bestK = calibration.bestFixedDraftLength(a, true, 16);
            double adaptive = 0;
            double fixed = 0;
            double uncalibrated = 0;
            int seeds = 200; // 40 seeds left the a = 0.5 cell +-1% from its mean
            for (long seed = 0; seed < seeds; seed++) {
                adaptive += coldRun(Scheduling.adaptive(calibration).start(), a, c, 128, 3, seed) / seeds;
                fixed += coldRun(new FixedScheduler(bestK), a, c, 128, 3, seed) / seeds;
                uncalibrated += coldRun(Scheduling.adaptive().start(), a, c, 128, 3, seed) / seeds;
            }
            table.append(String.format("a=%.2f c=%.2f bestK=%d calibrated %.3f uncalibrated %.3f%n", a, c, bestK,
                    adaptive / fixed, uncalibrated / fixed));
            worst = Math.min(worst, adaptive / fixed);
        }
        System.out.print("first generation / best fixed k, from a cold start:\n" + table);
        // The a = 0.5, c = 0.2 cell (best k = 1, speculation's whole gain 9.5%) is the worst: 0.963 with position 1
        // shrunk towards the prior, 0.954 when it was shrunk towards the pooled mean (its own verdicts counted twice).
        // Its losses are the 10x cold steps and switching off on noisy acceptance, not the cost model.
        assertTrue(worst >= 0.955, table.toString());
    }

    @Test
    void aCalibratedSchedulerDraftsOnItsFirstStep() {
        CostCalibration calibration = CostCalibrationTest.simulated(0.1);
        int k = Scheduling.adaptive(calibration).start().plan().maxDraftTokens();
        assertTrue(k >= 2 && k <= 5, "at the prior acceptance 0.6 and draft cost 0.1, expected 2-5 tokens, got " + k);
        // Drafting loses at a draft cost of 0.9 target calls per token even at the prior: it starts plain.
        assertEquals(0, Scheduling.adaptive(CostCalibrationTest.simulated(0.9)).start().plan().maxDraftTokens());
    }

    /**
     * One generation of {@code tokens} at i.i.d. acceptance a and draft cost c, scored at the true costs; the costs
     * reported to the scheduler are {@code draftInflation} and {@code verifyInflation} times the true ones (a
     * generation in a process still warming up: its clock reads slow). Returns tokens per simulated ns.
     */
    static double inflatedRun(DraftScheduler s, double a, double c, int tokens, double draftInflation,
                              double verifyInflation, long seed) {
        return inflatedRun(s, (step, position) -> a, c, tokens, draftInflation, verifyInflation, seed);
    }

    /** {@link #inflatedRun(DraftScheduler, double, double, int, double, double, long)} with positional acceptance. */
    static double inflatedRun(DraftScheduler s, PositionAcceptance a, double c, int tokens, double draftInflation,
                              double verifyInflation, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double time = 0;
        int produced = 0;
        Text text = new Text(r);
        for (int step = 0; produced < tokens; step++) {
            DraftPlan plan = s.plan();
            int k = Math.min(plan.maxDraftTokens(), tokens - produced - 1);
            int st = step;
            int acc = text.step(k, position -> a.at(st, position));
            double draft = k * c * T;
            double verify = T * verifyRatio(k + 1);
            time += draft + verify;
            produced += acc + 1;
            s.feedback(new StepOutcome(plan, new Proposal(new int[k], null, null, k, "model:draft"),
                    new Verdict(k, acc, 0), Math.round(draft * draftInflation), Math.round(verify * verifyInflation)));
        }
        s.finish();
        return produced / time;
    }

    /** {@link CostCalibrationTest#simulated} as a fresh process measures it while loading: verify and draft slower. */
    static CostCalibration coldCalibration(double c, double verifyInflation, double draftInflation) {
        CostCalibration warm = CostCalibrationTest.simulated(c);
        double[] verify = warm.verifyNanos();
        for (int i = 0; i < verify.length; i++) {
            verify[i] *= verifyInflation;
        }
        return new CostCalibration(warm.contextLength(), warm.positions(), verify, warm.draftStepNanos() * draftInflation,
                warm.draftNextStepNanos() * draftInflation, 0, Double.NaN, Double.NaN, 0, 0, 1);
    }

    @Test
    void aCalibrationTakenWhileTheProcessWarmsUpDoesNotPinTheDraftAtOneToken() {
        // As a fresh generate measured it: target calls 2.5x and draft steps 4x their steady cost. Only lengths that
        // are drafted get measured online; the others must not keep the calibration's inflated prices (which made
        // every draft longer than the one measured look too costly), so the first generation reaches the best length.
        double a = 0.8;
        double c = 0.15;
        int bestK = CostCalibrationTest.simulated(c).bestFixedDraftLength(a, true, 16);
        CostCalibration cold = coldCalibration(c, 2.5, 4);
        double adaptive = 0;
        double fixed = 0;
        int seeds = 40;
        for (long seed = 0; seed < seeds; seed++) {
            adaptive += inflatedRun(Scheduling.adaptive(cold).start(), a, c, 128, 1, 1, seed) / seeds;
            fixed += inflatedRun(new FixedScheduler(bestK), a, c, 128, 1, 1, seed) / seeds;
        }
        assertTrue(bestK >= 3, "the cell must favour drafts longer than one token, best k " + bestK);
        // 0.950 with draft lengths planned per run of accepted tokens, 0.966 per draft position: a first generation's
        // evidence is split over the run buckets, the price of drafting longer in the easy stretches of real text.
        System.out.println("first generation after a cold calibration: " + adaptive / fixed + " of fixed k " + bestK);
        assertTrue(adaptive >= 0.945 * fixed, "first generation after a cold calibration: " + adaptive / fixed
                + " of the best fixed length " + bestK);
    }

    @Test
    void aWarmUpGenerationMeasuredSlowDoesNotPinTheNextGenerationAtOneToken() {
        // generate --compare: a cold calibration, then a 32-token warm-up generation whose clock reads the draft 3x
        // and the target 1.6x slow (the JIT still compiling the drafter), then the timed generation at steady
        // costs, which starts from what the warm-up learned.
        double a = 0.8;
        double c = 0.15;
        int bestK = CostCalibrationTest.simulated(c).bestFixedDraftLength(a, true, 16);
        double adaptive = 0;
        double fixed = 0;
        List<Double> meanK = new ArrayList<>();
        int seeds = 40;
        for (long seed = 0; seed < seeds; seed++) {
            Scheduling policy = Scheduling.adaptive(coldCalibration(c, 2.5, 4));
            inflatedRun(policy.start(), a, c, 32, 3, 1.6, seed + 1000);
            List<Integer> ks = new ArrayList<>();
            DraftScheduler timed = policy.start();
            DraftScheduler recording = new DraftScheduler() {
                @Override
                public DraftPlan plan() {
                    DraftPlan p = timed.plan();
                    ks.add(p.maxDraftTokens());
                    return p;
                }

                @Override
                public void feedback(StepOutcome outcome) {
                    timed.feedback(outcome);
                }

                @Override
                public void finish() {
                    timed.finish();
                }
            };
            adaptive += inflatedRun(recording, a, c, 128, 1, 1, seed) / seeds;
            fixed += inflatedRun(new FixedScheduler(bestK), a, c, 128, 1, 1, seed) / seeds;
            meanK.add(ks.stream().mapToInt(Integer::intValue).average().orElse(0));
        }
        meanK.sort(null);
        assertTrue(meanK.get(meanK.size() / 2) >= 2, "median over seeds of the timed generation's mean draft length "
                + meanK.get(meanK.size() / 2) + ", best fixed length " + bestK);
        assertTrue(adaptive >= 0.95 * fixed, "timed generation after a slow warm-up: " + adaptive / fixed
                + " of the best fixed length " + bestK);
    }

    /**
     * The probability that the draft matches the target at a token of the text, given that it matched at the
     * {@code position} - 1 tokens before it and not at the one before those ({@code position} 1: right after a miss),
     * at decoding step {@code step}. For greedy decoding this is a property of the text, not of the draft: after a
     * fully accepted draft the next draft's first token continues the run, so a run is counted across steps.
     */
    interface PositionAcceptance {
        double at(int step, int position);
    }

    /** One generation of {@code tokens} at draft cost c whose acceptance depends on the step and the position. */
    static double positionalRun(DraftScheduler s, PositionAcceptance acceptance, double c, int tokens, long seed) {
        return stepsUntil(s, (step, produced, position) -> acceptance.at(step, position), c, tokens, true,
                new SplittableRandom(seed));
    }

    /**
     * Acceptance at the {@code position}-th token of a run of matches ({@link PositionAcceptance}) at decoding step
     * {@code step}, {@code produced} tokens in.
     */
    interface StepAcceptance {
        double at(int step, int produced, int position);
    }

    /**
     * Decodes until {@code tokens} are produced at draft cost c (a draft of k tokens costs k c T, a target call over n
     * positions T verifyRatio(n)); with {@code capAtEnd} no draft runs past the last token. Returns tokens per ns.
     */
    static double stepsUntil(DraftScheduler s, StepAcceptance acceptance, double c, int tokens, boolean capAtEnd,
                             SplittableRandom r) {
        double time = 0;
        int produced = 0;
        Text text = new Text(r);
        for (int step = 0; produced < tokens; step++) {
            DraftPlan plan = s.plan();
            int k = capAtEnd ? Math.min(plan.maxDraftTokens(), tokens - produced - 1) : plan.maxDraftTokens();
            int st = step;
            int in = produced;
            int acc = text.step(k, position -> acceptance.at(st, in, position));
            long draft = Math.round(k * c * T);
            long verify = Math.round(T * verifyRatio(k + 1));
            time += draft + verify;
            produced += acc + 1;
            s.feedback(new StepOutcome(plan, new Proposal(new int[k], null, null, k, "model:draft"),
                    new Verdict(k, acc, 0), draft, verify));
        }
        s.finish();
        return produced / time;
    }

    /** A fixed draft length and its rate averaged over seeds. */
    record FixedRun(int k, double rate) {
    }

    /** The best fixed draft length in [fromK, 8] for one generation of {@code tokens}, averaged over seeds 0..seeds-1. */
    static FixedRun bestFixed(PositionAcceptance acceptance, double c, int tokens, int fromK, int seeds) {
        FixedRun best = new FixedRun(fromK, 0);
        for (int k = fromK; k <= 8; k++) {
            double fixed = 0;
            for (long seed = 0; seed < seeds; seed++) {
                fixed += positionalRun(new FixedScheduler(k), acceptance, c, tokens, seed) / seeds;
            }
            if (fixed > best.rate()) {
                best = new FixedRun(k, fixed);
            }
        }
        return best;
    }

    /** The adaptive scheduler's first generation after a calibration over the best fixed length's, averaged over seeds. */
    static double firstGenerationOverBestFixed(PositionAcceptance acceptance, double c, int tokens, StringBuilder why) {
        CostCalibration calibration = CostCalibrationTest.simulated(c);
        int seeds = 200;
        FixedRun bestRun = bestFixed(acceptance, c, tokens, 0, seeds);
        double best = bestRun.rate();
        int bestK = bestRun.k();
        double adaptive = 0;
        for (long seed = 0; seed < seeds; seed++) {
            adaptive += positionalRun(Scheduling.adaptive(calibration).start(), acceptance, c, tokens, seed) / seeds;
        }
        why.append("best fixed k ").append(bestK).append(", adaptive / best fixed ").append(adaptive / best);
        return adaptive / best;
    }

    @Test
    void aFirstGenerationWhoseAcceptanceRisesWithThePositionDoesNotStayAtOneToken() {
        // As on the embedded pair's fibonacci prompt: right after a miss the draft matches 45% of the time, within a
        // run of matches 85%. Drafts of one token measure little beyond a miss, so a scheduler that judges longer
        // drafts by it finds only slowly that they pay (one token: 0.92 of the best). Measured over 256 tokens: 0.990
        // with draft lengths planned per run of accepted tokens, 0.986 per draft position alone (in a simulation that
        // reset the run at every step, as if acceptance depended on the place in the draft: 0.960 per position).
        StringBuilder why = new StringBuilder();
        double fraction = firstGenerationOverBestFixed((step, position) -> position == 1 ? 0.45 : 0.85, 0.15, 256, why);
        System.out.println("rising acceptance: " + why);
        assertTrue(fraction >= 0.98, why.toString());
    }

    @Test
    void runsOfAcceptedTokensAreBucketedFinelyWhenShortAndCoarselyWhenLong() {
        int[] expected = {0, 1, 2, 3, 4, 4, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 8};
        for (int run = 0; run < expected.length; run++) {
            assertEquals(expected[run], AdaptiveScheduler.runBucket(run, 12), "run " + run);
        }
        assertEquals(9, AdaptiveScheduler.runBucket(24, 12));
        assertEquals(10, AdaptiveScheduler.runBucket(32, 12));
        assertEquals(11, AdaptiveScheduler.runBucket(48, 12));
        assertEquals(11, AdaptiveScheduler.runBucket(1 << 20, 12), "long runs share the last bucket");
    }

    @Test
    void draftsLongerDeepInARunOfAcceptedTokensThanRightAfterARejection() {
        // A text of easy stretches: 50% right after a miss, 95% within a run. The best draft after a miss is short,
        // deep in a run long; a scheduler that tracks one acceptance per draft position drafts the same after both.
        DraftScheduler s = Scheduling.adaptive(CostCalibrationTest.simulated(0.15)).start();
        Text text = new Text(new SplittableRandom(7));
        double c = 0.15;
        double afterMiss = 0;
        double deep = 0;
        int misses = 0;
        int deeps = 0;
        int fullInARow = 0;
        for (int step = 0; step < 3000; step++) {
            DraftPlan plan = s.plan();
            int k = plan.maxDraftTokens();
            if (step > 500 && fullInARow == 0) {
                afterMiss += k;
                misses++;
            } else if (step > 500 && fullInARow >= 3) {
                deep += k;
                deeps++;
            }
            int acc = text.step(k, position -> position == 1 ? 0.5 : 0.95);
            fullInARow = k > 0 && acc == k ? fullInARow + 1 : 0;
            s.feedback(new StepOutcome(plan, new Proposal(new int[k], null, null, k, "model:draft"),
                    new Verdict(k, acc, 0), Math.round(k * c * T), Math.round(T * verifyRatio(k + 1))));
        }
        assertTrue(misses > 100 && deeps > 100, "both states visited: " + misses + ", " + deeps);
        assertTrue(deep / deeps >= afterMiss / misses + 2, "mean draft length deep in a run " + deep / deeps
                + ", right after a miss " + afterMiss / misses);
    }

    @Test
    void aHardOpeningDoesNotSwitchOffADraftThatPaysAfterIt() {
        // A text whose first 12 steps are hard for the draft (position 1 accepted 30% of the time, a marginal loss),
        // then easy (80%): whether it stays on through the opening or is switched off and probed back on, the first
        // generation must find the easy part quickly (0.996 of the best fixed length, k = 3, with lengths planned per
        // run of accepted tokens; 0.998 per draft position; 0.980 with one-step probes; 0.966 while position 1 was
        // shrunk towards the pooled mean over all positions, which counts its own early rejections twice).
        StringBuilder why = new StringBuilder();
        double fraction = firstGenerationOverBestFixed((step, position) -> step < 12 ? 0.3 : 0.8, 0.15, 128, why);
        System.out.println("hard opening: " + why);
        assertTrue(fraction >= 0.99, why.toString());
    }

    @Test
    void aWarmUpOnAHardTextMeasuredSlowIsProbedBackOnInTheNextGeneration() {
        // generate --compare on the fibonacci prompt: a 32-token warm-up generation on the same text (45% after a
        // miss, 85% within a run of matches), measured slow as a fresh process measures it, then the timed 64-token
        // generation, which starts from what the warm-up learned. Where the carried evidence switches the draft off,
        // probes bring it back: 0.986 of the best fixed length (k = 3) with draft lengths planned per run of accepted
        // tokens, 0.978 per draft position alone (0.919 and 0.909 with two- and one-step probes in a simulation that
        // reset the run at every step).
        PositionAcceptance fibonacci = (step, position) -> position == 1 ? 0.45 : 0.85;
        double c = 0.15;
        int seeds = 200;
        FixedRun bestRun = bestFixed(fibonacci, c, 64, 1, seeds);
        double best = bestRun.rate();
        int bestK = bestRun.k();
        double adaptive = 0;
        for (long seed = 0; seed < seeds; seed++) {
            // as a fresh process measures them: a cold calibration, then a warm-up whose draft reads 3x slow
            Scheduling policy = Scheduling.adaptive(coldCalibration(c, 2.5, 4));
            inflatedRun(policy.start(), fibonacci, c, 32, 3, 1.6, seed + 5000);
            adaptive += positionalRun(policy.start(), fibonacci, c, 64, seed) / seeds;
        }
        System.out.println("after a warm-up on a hard text: best fixed k " + bestK + ", adaptive / best fixed "
                + adaptive / best);
        assertTrue(adaptive / best >= 0.97, "after a warm-up on a hard text: " + adaptive / best + " of fixed k "
                + bestK);
    }

    /** Feeds {@code s} one step that drafted what it planned and kept {@code kept}, at draft cost c. */
    static void step(DraftScheduler s, DraftPlan plan, int kept, double c) {
        int k = plan.maxDraftTokens();
        s.feedback(new StepOutcome(plan, new Proposal(new int[k], null, null, k, "model:draft"),
                new Verdict(k, Math.min(kept, k), 0), Math.round(k * c * T), Math.round(T * verifyRatio(k + 1))));
    }

    @Test
    void oneRejectedFirstDraftDoesNotSwitchACalibratedSchedulerOff() {
        // The one-shot command line case: the first draft of a fresh process is rejected outright. At the prior
        // (0.6, strength 2) one rejection puts the mean acceptance below break-even; the scheduler must keep
        // drafting until its evidence, not one verdict, says drafting loses.
        CostCalibration calibration = CostCalibrationTest.simulated(0.15);
        DraftScheduler s = Scheduling.adaptive(calibration).start();
        DraftPlan first = s.plan();
        assertTrue(first.maxDraftTokens() >= 1, "a calibrated scheduler drafts on its first step");
        step(s, first, 0, 0.15);
        for (int i = 0; i < 6; i++) {
            DraftPlan next = s.plan();
            assertTrue(next.maxDraftTokens() >= 1, "step " + (i + 2) + " after one rejected first draft planned "
                    + next.maxDraftTokens() + " tokens, expected >= 1");
            step(s, next, i % 2 == 0 ? 1 : 0, 0.15); // then acceptance about one half
        }
    }

    @Test
    void aDraftMeasuredSlowOnceIsProbedAndMeasuredAgain() {
        // A fresh process under load: the first draft calls measure 20x their cost, so speculation looks hopeless
        // and switches off. Only drafting re-measures the draft's cost, so the scheduler must still probe, find the
        // draft cheap again and go back to speculating (at acceptance 0.8 and cost 0.15 the best k is 3).
        int lateSpeculative = lateSpeculationAfterASlowStart(0);
        assertTrue(lateSpeculative >= 95, "speculating in " + lateSpeculative + " of the last 100 steps");
    }

    @Test
    void aProbesCatchUpIsNotPricedAsTheDraftsCost() {
        // As aDraftMeasuredSlowOnceIsProbedAndMeasuredAgain, with the catch-up a real draft model pays: its first
        // draft after s steps without drafting also feeds those s tokens (0.1 T each here). A probe after 8, 16, 32
        // plain steps then reads 1-3 T for a one-token draft; priced as the draft's cost it kept the source off
        // (one-step probes: speculating in 0 of the last 100 steps). The probe's second step measures the steady cost.
        int lateSpeculative = lateSpeculationAfterASlowStart(0.1);
        assertTrue(lateSpeculative >= 95, "speculating in " + lateSpeculative + " of the last 100 steps");
    }

    /**
     * 400 steps at acceptance 0.8 whose first 30 drafts measure 20x their cost (3 T per token, then 0.15 T); a
     * draft after s steps without drafting also pays {@code catchUpPerToken} T per missed token. Returns how many of
     * the last 100 steps drafted.
     */
    private static int lateSpeculationAfterASlowStart(double catchUpPerToken) {
        DraftScheduler s = Scheduling.adaptive(CostCalibrationTest.simulated(0.15)).start();
        SplittableRandom r = new SplittableRandom(5);
        int lateSpeculative = 0;
        int sinceDraft = 0;
        for (int step = 0; step < 400; step++) {
            DraftPlan plan = s.plan();
            int k = plan.maxDraftTokens();
            int acc = 0;
            while (acc < k && r.nextDouble() < 0.8) {
                acc++;
            }
            double c = step < 30 ? 3.0 : 0.15;
            double catchUp = k > 0 ? sinceDraft * catchUpPerToken : 0;
            sinceDraft = k > 0 ? 0 : sinceDraft + 1;
            s.feedback(new StepOutcome(plan, new Proposal(new int[k], null, null, k, "model:draft"),
                    new Verdict(k, acc, 0), Math.round((k * c + catchUp) * T), Math.round(T * verifyRatio(k + 1))));
            if (step >= 300 && k > 0) {
                lateSpeculative++;
            }
        }
        return lateSpeculative;
    }

    @Test
    void draftsThatAreAlwaysRejectedStillSwitchSpeculationOffEarly() {
        // The other side of the early optimism: a draft that never agrees costs at most a few steps.
        DraftScheduler s = Scheduling.adaptive(CostCalibrationTest.simulated(0.15)).start();
        int speculative = 0;
        for (int i = 0; i < 24; i++) {
            DraftPlan plan = s.plan();
            if (plan.maxDraftTokens() > 0) {
                speculative++;
            }
            step(s, plan, 0, 0.15);
        }
        assertTrue(speculative <= 10, "drafted in " + speculative
                + " of 24 steps although every draft was rejected");
        assertEquals(0, s.plan().maxDraftTokens());
    }

    /**
     * Text whose acceptance comes in bursts: each position is easy (acceptance {@code easy}) or hard ({@code hard}),
     * switching with probability {@code flip} per position, as a repeated passage or a boilerplate line is easy
     * for a draft and a fresh identifier hard. The regimes are drawn per text position, so every scheduler sees the
     * same text.
     */
    static double burstyRun(DraftScheduler s, double easy, double hard, double flip, double c, int tokens, long seed) {
        SplittableRandom text = new SplittableRandom(seed);
        boolean[] isEasy = new boolean[tokens + FixedScheduler.MAX_DRAFT_LENGTH + 1];
        boolean e = true;
        for (int i = 0; i < isEasy.length; i++) {
            e = text.nextDouble() < flip != e;
            isEasy[i] = e;
        }
        return stepsUntil(s, (step, produced, position) -> isEasy[produced + position - 1] ? easy : hard, c, tokens,
                false, new SplittableRandom(seed * 31 + 7));
    }

    @Test
    void adaptiveIsNotBehindTheHeuristicOrTheBestFixedLengthWhenAcceptanceComesInBursts() {
        // {easy, hard, flip, draft cost}: the heuristic's quick reaction to a burst is its strength here.
        double[][] cells = {{0.95, 0.3, 0.05, 0.15}, {0.9, 0.5, 0.05, 0.15}, {0.98, 0.2, 0.03, 0.1},
                {0.95, 0.4, 0.1, 0.15}, {0.9, 0.6, 0.01, 0.15}};
        StringBuilder table = new StringBuilder();
        boolean ok = true;
        for (double[] x : cells) {
            int seeds = 8;
            double adaptive = 0;
            double heuristic = 0;
            double best = 0;
            for (int seed = 0; seed < seeds; seed++) {
                adaptive += burstyRun(Scheduling.adaptive().start(), x[0], x[1], x[2], x[3], 4000, seed) / seeds;
                heuristic += burstyRun(Scheduling.heuristic().start(), x[0], x[1], x[2], x[3], 4000, seed) / seeds;
            }
            for (int k = 0; k <= 8; k++) {
                double fixed = 0;
                for (int seed = 0; seed < seeds; seed++) {
                    fixed += burstyRun(new FixedScheduler(k), x[0], x[1], x[2], x[3], 4000, seed) / seeds;
                }
                best = Math.max(best, fixed);
            }
            table.append(String.format("easy %.2f hard %.2f flip %.2f c %.2f: adaptive / heuristic %.3f,"
                    + " adaptive / best fixed %.3f%n", x[0], x[1], x[2], x[3], adaptive / heuristic, adaptive / best));
            ok &= adaptive >= 0.97 * Math.max(heuristic, best);
        }
        System.out.print("bursty acceptance:\n" + table);
        assertTrue(ok, table.toString());
    }

    @Test
    void adaptiveSettlesOnPlainDecodingWhereAcceptanceIsBelowTheCostRatio() {
        // Mostly plain, and at most 2% slower than plain (issue 15's floor): a source switched off is judged by a
        // prior again once its evidence has faded, so it is tried for a few steps every ~100.
        double[][] cells = {{0.3, 0.4}, {0.3, 0.6}, {0.4, 0.6}, {0.1, 0.2}};
        for (double[] cell : cells) {
            Run run = simulate(Scheduling.adaptive(), cell[0], cell[1], 5_000, 1);
            Run plainRun = simulate(new FixedScheduler(0), cell[0], cell[1], 5_000, 1);
            List<Integer> late = run.ks().subList(run.ks().size() / 2, run.ks().size());
            long plain = late.stream().filter(k -> k == 0).count();
            String where = "a=" + cell[0] + " c=" + cell[1] + ": ";
            assertTrue(plain >= 0.9 * late.size(), where + "only " + plain + " of " + late.size()
                    + " late steps were plain");
            assertTrue(run.rate() >= 0.98 * plainRun.rate(), where + "adaptive " + run.rate() + " against plain "
                    + plainRun.rate());
        }
    }

    @Test
    void adaptiveReturnsToSpeculationWhenAcceptanceRecovers() {
        DraftScheduler s = Scheduling.adaptive().start();
        SplittableRandom r = new SplittableRandom(3);
        int lateSpeculative = 0;
        for (int step = 0; step < 3000; step++) {
            double a = step < 1000 ? 0.05 : 0.9;
            DraftPlan plan = s.plan();
            int k = plan.maxDraftTokens();
            int acc = 0;
            while (acc < k && r.nextDouble() < a) {
                acc++;
            }
            if (step >= 2000 && k > 0) {
                lateSpeculative++;
            }
            s.feedback(new StepOutcome(plan, Proposal.oneHot(new int[k]), new Verdict(k, acc, 0),
                    Math.round(k * 0.1 * T), Math.round(T * verifyRatio(k + 1))));
        }
        assertTrue(lateSpeculative > 950, "speculating in " + lateSpeculative + " of the last 1000 steps");
    }

    @Test
    void theNextGenerationStartsFromWhatTheLastOneLearned() {
        Scheduling adaptive = Scheduling.adaptive();
        assertEquals(AdaptiveScheduler.Options.defaults().initialDraftLength(), adaptive.start().plan().maxDraftTokens());
        simulate(adaptive, 0.95, 0.02, 2_000, 1);
        int k = adaptive.start().plan().maxDraftTokens();
        assertTrue(k >= 8, "long drafts pay off at a = 0.95, c = 0.02, got k = " + k);
        simulate(adaptive, 0.2, 0.5, 2_000, 1);
        assertEquals(0, adaptive.start().plan().maxDraftTokens(), "speculation loses at a = 0.2, c = 0.5");
    }

    @Test
    void aDraftLengthMeasuredOnlyDuringWarmUpIsMeasuredAgain() {
        // The first steps of a fresh JVM are slow (JIT, first native calls); the scheduler measures its initial
        // length then, and must not judge that length by those measurements for the rest of the generation.
        double a = 0.85;
        double c = 0.1;
        double best = 0;
        for (int k = 0; k <= 16; k++) {
            best = Math.max(best, analyticRate(k, a, c));
        }
        List<Double> fractions = new ArrayList<>();
        for (long seed = 1; seed <= 7; seed++) {
            DraftScheduler s = Scheduling.adaptive().start();
            SplittableRandom r = new SplittableRandom(seed);
            double time = 0;
            int produced = 0;
            for (int step = 0; produced < 600; step++) {
                DraftPlan plan = s.plan();
                int k = plan.maxDraftTokens();
                int acc = 0;
                while (acc < k && r.nextDouble() < a) {
                    acc++;
                }
                double warmUp = step < 4 ? 1.6 : 1;
                long draft = Math.round(warmUp * k * c * T);
                long verify = Math.round(warmUp * T * verifyRatio(k + 1));
                if (step >= 4) {
                    time += draft + verify;
                    produced += acc + 1;
                }
                s.feedback(new StepOutcome(plan, Proposal.oneHot(new int[k]), new Verdict(k, acc, 0), draft, verify));
            }
            fractions.add(produced / time / best);
        }
        fractions.sort(null);
        // Before lengths were re-measured, two of these seeds stayed at 0.84-0.86 of the best fixed length.
        assertTrue(fractions.get(0) >= 0.92 && fractions.get(3) >= 0.95,
                "fractions of the best fixed length over seeds " + fractions);
    }

    @Test
    void eachSourceOfDraftsGetsItsOwnLength() {
        DraftScheduler s = Scheduling.adaptive().start();
        SplittableRandom r = new SplittableRandom(4);
        String[] names = {"prompt-lookup", "model:draft"};
        double[] acceptance = {0.95, 0.5};
        double[] costRatio = {0.0, 0.1};
        DraftPlan plan = null;
        for (int step = 0; step < 3000; step++) {
            plan = s.plan();
            int src = step % 3 == 0 ? 0 : 1;
            int k = plan.forSource(names[src]).maxDraftTokens();
            int acc = 0;
            while (acc < k && r.nextDouble() < acceptance[src]) {
                acc++;
            }
            Proposal p = k == 0 ? Proposal.empty() : new Proposal(new int[k], null, null, 0, names[src]);
            s.feedback(new StepOutcome(plan, p, new Verdict(k, acc, 0), Math.round(k * costRatio[src] * T),
                    Math.round(T * verifyRatio(k + 1))));
        }
        int lookup = plan.forSource(names[0]).maxDraftTokens();
        int model = plan.forSource(names[1]).maxDraftTokens();
        assertTrue(lookup >= 8, "free drafts accepted at 0.95 should be long, got " + lookup);
        assertTrue(model >= 1 && model <= 3, "model drafts accepted at 0.5 should be short, got " + model);
        assertEquals(Math.max(lookup, model), plan.maxDraftTokens());
    }

    @Test
    void heuristicAddsTwoAfterFullAcceptanceAndRemovesOneOtherwise() {
        DraftScheduler s = Scheduling.heuristic(5, 16).start();
        DraftPlan p = s.plan();
        assertEquals(5, p.maxDraftTokens());
        s.feedback(new StepOutcome(p, Proposal.oneHot(new int[5]), new Verdict(5, 5, 0), 0, 0));
        assertEquals(7, s.plan().maxDraftTokens());
        s.feedback(new StepOutcome(DraftPlan.of(7), Proposal.oneHot(new int[7]), new Verdict(7, 3, 0), 0, 0));
        assertEquals(6, s.plan().maxDraftTokens());
        for (int i = 0; i < 10; i++) {
            s.feedback(new StepOutcome(DraftPlan.of(6), Proposal.oneHot(new int[1]), new Verdict(1, 0, 0), 0, 0));
        }
        assertEquals(1, s.plan().maxDraftTokens());
    }

    /**
     * A text as the draft sees it: whether the draft matches the target at each token, drawn as decoding reaches it,
     * with a probability that depends on the run of matches before it. A step reads the drafted tokens' matches up to
     * the first miss, then the token the target adds (a correction after a miss; after a fully accepted draft, or in a
     * plain step, a text token whose match nobody observes but which continues or ends the run).
     */
    static final class Text {
        private final SplittableRandom random;
        private int run; // matches in a row before the next token

        Text(SplittableRandom random) {
            this.random = random;
        }

        /** Decodes one step that drafted k tokens; returns how many were accepted. */
        int step(int k, java.util.function.IntToDoubleFunction acceptance) {
            int acc = 0;
            while (acc < k) {
                if (random.nextDouble() < acceptance.applyAsDouble(run + 1)) {
                    acc++;
                    run++;
                } else {
                    run = 0; // the target's correction replaces the missed token
                    return acc;
                }
            }
            run = random.nextDouble() < acceptance.applyAsDouble(run + 1) ? run + 1 : 0;
            return acc;
        }
    }
}
