package dev.specula.core.schedule;

import dev.specula.core.StepOutcome;
import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.Proposal;
import dev.specula.core.testing.FakeClock;
import dev.specula.core.testing.ReferenceModel;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.IntBinaryOperator;
import java.util.function.IntToDoubleFunction;
import java.util.function.IntUnaryOperator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Goodput scheduling on known cost models: deterministic, no wall clock. */
class GoodputSchedulerTest {
    static final double MS = 1e6;

    /** A cost model that holds exactly V(R, L) = a + b R + c R L and D(R) = d + e R (measured at many cells). */
    static BatchCostModel exact(double a, double b, double c, double d, double e) {
        BatchCostModel m = new BatchCostModel(new double[]{a, b, c}, new double[]{d, e});
        for (int rows : new int[]{1, 2, 4, 8, 16, 32}) {
            for (int width = 1; width <= 9; width++) {
                for (int r = 0; r < 3; r++) {
                    m.addVerify(rows, width, a + b * rows + c * rows * width);
                }
            }
            for (int r = 0; r < 3; r++) {
                m.addDraft(rows, d + e * rows);
            }
        }
        return m;
    }

    static double[] uniform(int rows, double a) {
        double[] out = new double[rows];
        Arrays.fill(out, a);
        return out;
    }

    @Test
    void computeBoundVerificationAtSixteenRowsDraftsNothing() {
        // Every verified position costs 1 ms of compute whatever the batch: drafting k costs k ms per row and yields
        // less than k tokens.
        GoodputScheduler s = new GoodputScheduler(GoodputScheduler.Options.defaults(),
                exact(0.2 * MS, 0, 1 * MS, 0.05 * MS, 0.02 * MS));
        assertArrayEquals(new int[16], s.lengths(uniform(16, 0.7)));
    }

    @Test
    void memoryBoundVerificationDraftsAndDraftsLessAsTheBatchGrows() {
        // Reading the weights dominates: 20 ms a call, 0.05 ms per verified position per row; a draft call 1 ms.
        BatchCostModel costs = exact(20 * MS, 0, 0.05 * MS, 1 * MS, 0.02 * MS);
        GoodputScheduler s = new GoodputScheduler(GoodputScheduler.Options.defaults(), costs);
        int[] one = s.lengths(uniform(1, 0.7));
        int[] sixteen = s.lengths(uniform(16, 0.7));
        assertTrue(one[0] > 0, Arrays.toString(one));
        assertTrue(Arrays.stream(sixteen).allMatch(k -> k > 0), Arrays.toString(sixteen));
        // The same hardware with many more rows: the per-position term grows until speculation stops paying.
        BatchCostModel crowded = exact(20 * MS, 0, 3 * MS, 1 * MS, 0.02 * MS);
        int[] big = new GoodputScheduler(GoodputScheduler.Options.defaults(), crowded).lengths(uniform(32, 0.7));
        assertArrayEquals(new int[32], big, "at 32 rows verification is compute-bound: " + Arrays.toString(big));
        int small = new GoodputScheduler(GoodputScheduler.Options.defaults(), crowded).lengths(uniform(1, 0.7))[0];
        assertTrue(small > 0, "one row still drafts on the same hardware: " + small);
    }

    @Test
    void rowsThatRarelyAcceptDraftLessThanRowsThatOftenDo() {
        // Draft calls cost per row, so a row whose drafts are rejected should not ride along.
        GoodputScheduler s = new GoodputScheduler(GoodputScheduler.Options.defaults(),
                exact(20 * MS, 0, 0.05 * MS, 0.5 * MS, 0.5 * MS));
        double[] a = {0.95, 0.05, 0.9, 0.02};
        int[] k = s.lengths(a);
        assertTrue(k[0] > 0 && k[2] > 0, Arrays.toString(k));
        assertTrue(k[1] < k[0] && k[3] < k[2], Arrays.toString(k));
    }

    @Test
    void acceptanceIsLearnedPerRowFromFeedbackAndCostsFromMeasuredSteps() {
        BatchCostModel costs = exact(20 * MS, 0, 0.05 * MS, 0.5 * MS, 0.5 * MS);
        GoodputScheduler s = new GoodputScheduler(GoodputScheduler.Options.defaults(), costs);
        s.join(7);
        s.join(9);
        for (int step = 0; step < 30; step++) {
            DraftPlan[] plans = s.plan(new int[]{7, 9});
            StepOutcome[] outcomes = new StepOutcome[2];
            for (int i = 0; i < 2; i++) {
                int k = plans[i].maxDraftTokens();
                Proposal p = Proposal.oneHot(new int[k]);
                int accepted = i == 0 ? k : 0; // row 7 accepts everything, row 9 nothing
                outcomes[i] = new StepOutcome(plans[i], p, new Verdict(k, accepted, 1), 0, 0);
            }
            s.feedback(new int[]{7, 9}, outcomes, new BatchStepCosts(2, 1, (long) (1 * MS), 2, 2, 4, (long) (20 * MS),
                    (long) (21 * MS)));
        }
        assertTrue(s.acceptance(7) > 0.9, "row 7: " + s.acceptance(7));
        assertTrue(s.acceptance(9) < 0.25, "row 9: " + s.acceptance(9));
        DraftPlan[] plans = s.plan(new int[]{7, 9});
        assertTrue(plans[0].maxDraftTokens() > plans[1].maxDraftTokens(), Arrays.toString(plans));
        s.leave(7, true);
        s.leave(9, true);
    }

    @Test
    void whileNobodyDraftsItProbesWithBackingOffIntervals() {
        GoodputScheduler s = new GoodputScheduler(GoodputScheduler.Options.defaults(),
                exact(0.2 * MS, 0, 1 * MS, 0.05 * MS, 0.02 * MS));
        s.join(1);
        int[] probes = new int[64];
        int n = 0;
        for (int step = 1; step <= 60; step++) {
            DraftPlan plan = s.plan(new int[]{1})[0];
            if (plan.maxDraftTokens() > 0) {
                probes[n++] = step;
            }
        }
        assertArrayEquals(new int[]{8, 24, 56}, Arrays.copyOf(probes, n));
    }

    @Test
    void aRowAloneIsPlannedByItsOwnSchedulerAndABatchByGoodput() {
        BatchCostModel computeBound = exact(0.2 * MS, 0, 1 * MS, 0.05 * MS, 0.02 * MS);
        BatchScheduler s = new SingleRowAwareScheduler(Scheduling.fixed(5),
                new GoodputScheduler(GoodputScheduler.Options.defaults(), computeBound));
        s.join(1);
        s.join(2);
        assertEquals(5, s.plan(new int[]{1})[0].maxDraftTokens(), "alone: as unbatched");
        DraftPlan[] both = s.plan(new int[]{1, 2});
        assertEquals(0, both[0].maxDraftTokens() + both[1].maxDraftTokens(), "together: goodput's k = 0");
        s.leave(1, true);
        s.leave(2, false);
    }

    @Test
    void theCostModelFitsMeasuredCellsAndExtrapolatesUnmeasuredOnes() {
        BatchCostModel m = BatchCostModel.defaults();
        for (int rows : new int[]{1, 4, 16}) {
            for (int width : new int[]{1, 3, 6}) {
                m.addVerify(rows, width, 2e6 + 1e5 * rows + 3e4 * rows * width);
            }
            m.addDraft(rows, 4e5 + 2e4 * rows);
        }
        assertEquals(2e6 + 1e5 * 64 + 3e4 * 64 * 9, m.verify(64, 9), 1);
        assertEquals(2e6 + 1e5 * 2 + 3e4 * 2 * 2, m.verify(2, 2), 1);
        assertEquals(4e5 + 2e4 * 64, m.draft(64), 1);
        assertEquals(0, m.draft(0));
        BatchCostModel copy = m.copy();
        copy.addVerify(64, 9, 1e9);
        assertEquals(2e6 + 1e5 * 64 + 3e4 * 64 * 9, m.verify(64, 9), 1, "a copy measures on its own");
    }

    @Test
    void calibrationMeasuresBatchedCallsOfTheModels() {
        // Sequential batches make one call per row: V(R, L) = R (perCall + perToken L) exactly, on the fake clock.
        FakeClock clock = new FakeClock();
        ReferenceModel target = ReferenceModel.builder(16, 1).cost(clock, 2_000_000, 100_000).build();
        ReferenceModel draft = ReferenceModel.draftOf(target, 0.5, 2).cost(clock, 300_000, 10_000).build();
        BatchCostModel m = BatchCalibrator.calibrate(target, draft, 8, clock);
        assertEquals(8 * (2_000_000 + 100_000 * 5), m.verify(8, 5), 1);
        assertEquals(16 * (2_000_000 + 100_000 * 2), m.verify(16, 2), 1);
        assertEquals(8 * (300_000 + 10_000), m.draft(8), 1);
        assertEquals(0, target.openSequences());
        assertEquals(0, draft.openSequences());
    }

    /** The search as first written: every candidate priced from scratch by {@link GoodputScheduler#goodput}. */
    static int[] lengthsByDirectPricing(GoodputScheduler s, double[] a, int maxK) {
        int n = a.length;
        int[] chosen = new int[n];
        double best = s.goodput(a, new int[n]) * 1.03;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (x, y) -> Double.compare(a[x], a[y]));
        for (int K = 1; K <= maxK; K++) {
            int[] k = new int[n];
            Arrays.fill(k, K);
            double g = s.goodput(a, k);
            for (int i : order) {
                int keep = k[i];
                for (int c = keep - 1; c >= 0; c--) {
                    k[i] = c;
                    double t = s.goodput(a, k);
                    if (t > g) {
                        g = t;
                        keep = c;
                    }
                }
                k[i] = keep;
            }
            if (g > best) {
                best = g;
                chosen = k;
            }
        }
        return chosen;
    }

    @Test
    void theIncrementalSearchChoosesWhatPricingEveryCandidateFromScratchChooses() {
        SplittableRandom random = new SplittableRandom(14);
        BatchCostModel[] models = {
                exact(20 * MS, 0, 0.05 * MS, 1 * MS, 0.02 * MS),
                exact(20 * MS, 0, 0.05 * MS, 0.5 * MS, 0.5 * MS),
                exact(0.2 * MS, 0, 1 * MS, 0.05 * MS, 0.02 * MS),
                exact(3 * MS, 0.1 * MS, 0.3 * MS, 0.6 * MS, 0.05 * MS)};
        int differentFromZero = 0;
        for (BatchCostModel costs : models) {
            GoodputScheduler s = new GoodputScheduler(GoodputScheduler.Options.defaults(), costs);
            for (int trial = 0; trial < 40; trial++) {
                double[] a = random.doubles(1 + random.nextInt(40), 0.01, 0.99).toArray();
                int[] fast = s.lengths(a);
                assertArrayEquals(lengthsByDirectPricing(s, a, 8), fast, Arrays.toString(a));
                differentFromZero += Arrays.stream(fast).anyMatch(k -> k > 0) ? 1 : 0;
            }
        }
        assertTrue(differentFromZero > 40 && differentFromZero < 160, "both outcomes were exercised: "
                + differentFromZero + " of 160 plans drafted");
    }

    /** What a simulated run of the scheduler achieved. */
    record Simulated(double tokensPerNanosecond, double plainTokensPerNanosecond, double speculativeShare) {
        double speedup() {
            return tokensPerNanosecond / plainTokensPerNanosecond;
        }
    }

    /**
     * Steps {@code rows} rows {@code steps} times through the scheduler, on a fake clock: a target call costs
     * {@code verify(R, widest)}, a draft call {@code draft(R)}, and the rest of the step (sampling, handing out
     * tokens) {@code other(R, positions of all rows)}; each drafted position is accepted with probability
     * {@code acceptance} (seeded). Measures the last {@code measured} steps.
     */
    static Simulated simulate(GoodputScheduler s, int rows, int steps, int measured, IntToDoubleFunction acceptance,
                              IntBinaryOperator verify, IntUnaryOperator draft, IntBinaryOperator other, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] ids = new int[rows];
        for (int i = 0; i < rows; i++) {
            ids[i] = 1000 + i;
            s.join(ids[i]);
        }
        long tokens = 0;
        long nanos = 0;
        int speculativeSteps = 0;
        for (int step = 0; step < steps; step++) {
            DraftPlan[] plans = s.plan(ids);
            StepOutcome[] outcomes = new StepOutcome[rows];
            int widest = 0;
            int produced = 0;
            for (int i = 0; i < rows; i++) {
                int k = plans[i].maxDraftTokens();
                int accepted = 0;
                while (accepted < k && random.nextDouble() < acceptance.applyAsDouble(step)) {
                    accepted++;
                }
                widest = Math.max(widest, k);
                produced += accepted + 1;
                outcomes[i] = new StepOutcome(plans[i], Proposal.oneHot(new int[k]), new Verdict(k, accepted, 1), 0, 0);
            }
            long draftNanos = 0;
            int draftRows = 0;
            for (int j = 1; j <= widest; j++) {
                int r = 0;
                for (DraftPlan p : plans) {
                    r += p.maxDraftTokens() >= j ? 1 : 0;
                }
                draftRows = j == 1 ? r : draftRows;
                draftNanos += draft.applyAsInt(r);
            }
            long verifyNanos = verify.applyAsInt(rows, widest + 1);
            int positions = rows + Arrays.stream(plans).mapToInt(DraftPlan::maxDraftTokens).sum();
            long stepNanos = draftNanos + verifyNanos + other.applyAsInt(rows, positions);
            s.feedback(ids, outcomes, new BatchStepCosts(draftRows, widest, draftNanos, rows, widest + 1, positions,
                    verifyNanos, stepNanos));
            if (step >= steps - measured) {
                tokens += produced;
                nanos += stepNanos;
                speculativeSteps += widest > 0 ? 1 : 0;
            }
        }
        for (int id : ids) {
            s.leave(id, true);
        }
        return new Simulated((double) tokens / nanos,
                (double) rows / (verify.applyAsInt(rows, 1) + other.applyAsInt(rows, rows)),
                (double) speculativeSteps / measured);
    }

    @Test
    void computeBoundBatchesStopDraftingAndSmallOnesKeepDraftingWhateverTheCalibrationSaid() {
        // Roofline hardware: a target call reads the weights (4 ms) or computes 0.5 ms per row x position, whichever
        // is longer; a draft call 0.5 ms + 0.01 ms per row. Acceptance 0.7. The cost model is seeded memory-bound
        // (calibrated at 1 and 4 rows, where both look the same: a fixed 4 ms), so its fit extrapolates that drafting
        // pays at 16 rows, where each verified position really costs 0.5 ms.
        IntBinaryOperator verify = (rows, width) -> (int) Math.max(4 * MS, 0.5 * MS * rows * width);
        IntUnaryOperator draft = rows -> (int) (0.5 * MS + 0.01 * MS * rows);
        BatchCostModel calibrated = new BatchCostModel(new double[]{4 * MS, 0, 0}, new double[]{0.5 * MS, 0.01 * MS});
        for (int rows : new int[]{1, 4}) {
            for (int width : new int[]{1, 3, 6}) {
                calibrated.addVerify(rows, width, 4 * MS);
            }
            calibrated.addDraft(rows, draft.applyAsInt(rows));
        }
        IntBinaryOperator none = (rows, positions) -> 0;
        GoodputScheduler.Options options = GoodputScheduler.Options.defaults();
        assertTrue(Arrays.stream(new GoodputScheduler(options, calibrated.copy()).lengths(uniform(16, 0.7)))
                .allMatch(k -> k > 0), "the calibration alone would draft at 16 rows");

        Simulated sixteen = simulate(new GoodputScheduler(options, calibrated.copy()), 16, 300, 200, step -> 0.7, verify,
                draft, none, 1);
        assertTrue(sixteen.speculativeShare() < 0.15, "16 rows mostly plain: " + sixteen);
        assertTrue(sixteen.speedup() >= 0.97, "16 rows at least 0.97x plain: " + sixteen);

        Simulated sixtyFour = simulate(new GoodputScheduler(options, calibrated.copy()), 64, 300, 200, step -> 0.7, verify,
                draft, none, 2);
        assertTrue(sixtyFour.speculativeShare() < 0.15, "64 rows mostly plain: " + sixtyFour);
        assertTrue(sixtyFour.speedup() >= 0.97, "64 rows at least 0.97x plain: " + sixtyFour);

        Simulated two = simulate(new GoodputScheduler(options, calibrated.copy()), 2, 300, 200, step -> 0.7, verify, draft, none, 3);
        assertTrue(two.speculativeShare() > 0.85, "2 rows keep drafting: " + two);
        assertTrue(two.speedup() > 1.3, "2 rows gain from drafting: " + two);

        BatchScheduler alone = new SingleRowAwareScheduler(Scheduling.fixed(3),
                new GoodputScheduler(options, calibrated.copy()));
        alone.join(1);
        assertEquals(3, alone.plan(new int[]{1})[0].maxDraftTokens(), "one row drafts as it would unbatched");
    }

    @Test
    void workTheCostModelDoesNotSeeStopsDraftingWhereItMakesSpeculationLose() {
        // Target calls are memory-bound (a fixed 4 ms up to 256 row-positions, as the cost model measures them), but
        // every verified position also costs 0.4 ms outside the model calls (sampling, acceptance, streaming): the
        // cost model prices drafting as nearly free at any batch size; whole steps show it is not at 16 rows.
        IntBinaryOperator verify = (rows, width) -> (int) Math.max(4 * MS, 0.02 * MS * rows * width);
        IntUnaryOperator draft = rows -> (int) (0.5 * MS + 0.01 * MS * rows);
        IntBinaryOperator other = (rows, positions) -> (int) (0.4 * MS * positions);
        GoodputScheduler.Options options = GoodputScheduler.Options.defaults();
        BatchCostModel costs = exact(4 * MS, 0, 0, 0.5 * MS, 0.01 * MS);
        assertTrue(Arrays.stream(new GoodputScheduler(options, costs.copy()).lengths(uniform(16, 0.7)))
                .allMatch(k -> k > 1), "the cost model alone would draft at 16 rows");

        Simulated sixteen = simulate(new GoodputScheduler(options, costs.copy()), 16, 300, 200, step -> 0.7, verify, draft,
                other, 4);
        assertTrue(sixteen.speculativeShare() < 0.15, "16 rows mostly plain: " + sixteen);
        assertTrue(sixteen.speedup() >= 0.97, "16 rows at least 0.97x plain: " + sixteen);

        Simulated two = simulate(new GoodputScheduler(options, costs.copy()), 2, 300, 200, step -> 0.7, verify, draft, other,
                5);
        assertTrue(two.speculativeShare() > 0.85, "2 rows keep drafting: " + two);
        assertTrue(two.speedup() > 1.2, "2 rows gain from drafting: " + two);
    }
}
