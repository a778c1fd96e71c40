package dev.specula.core.schedule;

import dev.specula.core.StepOutcome;
import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.Proposal;
import dev.specula.core.testing.FakeClock;
import dev.specula.core.testing.ReferenceModel;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

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
            s.feedback(new int[]{7, 9}, outcomes, new BatchStepCosts(2, 1, (long) (1 * MS), 2, 2, 4, (long) (20 * MS)));
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
}
