package dev.specula.cli.bench;

import dev.specula.core.schedule.Calibrator;
import dev.specula.core.schedule.CostCalibration;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Plan choice from pilot costs worked out by hand. */
class CalibrationPlannerTest {
    /**
     * A pilot at the given plain-step cost: a 17-position call costs twice a step; every draft step (first or further)
     * and the prefill as given.
     */
    static CostCalibration pilot(double stepMs, double draftMs, int prefillTokens, double prefillMs, double draftPrefillMs) {
        return new CostCalibration(100, new int[]{1, 17}, new double[]{stepMs * 1e6, 2 * stepMs * 1e6}, draftMs * 1e6,
                draftMs * 1e6, prefillTokens, prefillMs * 1e6, draftPrefillMs * 1e6, 0.05, 0.02, 1);
    }

    @Test
    void theCostOfAPlanIsTheContextPrefillAWarmUpPassAndItsRepeats() {
        // Step 10 ms, 17 positions 20 ms: sizes 1..17 sum to 17 x 10 + (0 + 1 + ... + 16) x 10 / 16 = 255 ms;
        // after each size n a draft of max(1, n - 1) steps at 1 ms (1 + 1 + 2 + ... + 16 = 137 ms): a pass is 392 ms,
        // so the 300 ms warm-up is one pass; each repeat also makes the plain step's 2 extra calls (20 ms). Prefill of
        // 50 tokens: 100 ms + 10 ms (2.2 ms/token), so the context of 100 costs 220 ms and each repeat's prefill 110 ms.
        CostCalibration p = pilot(10, 1, 50, 100, 10);
        Calibrator.Plan full = Calibrator.Plan.full(100, 50);
        assertEquals((220 + 392 + 9 * (392 + 20 + 110)) / 1e3, CalibrationPlanner.seconds(p, full), 1e-9);
    }

    @Test
    void aSmallPairKeepsTheFullPlan() {
        CostCalibration p = pilot(2, 0.5, 50, 20, 2);
        CalibrationPlanner.Choice c = CalibrationPlanner.choose(p, 100, 50, Duration.ofSeconds(120));
        assertArrayEquals(Calibrator.Plan.full(100, 50).positions(), c.plan().positions());
        assertEquals(9, c.plan().repeats());
        assertTrue(c.estimatedSeconds() < 120, c.reason());
        assertTrue(c.reason().startsWith("full plan"), c.reason());
    }

    @Test
    void aNoBudgetMeansTheFullPlanWhateverItCosts() {
        CostCalibration p = pilot(300, 40, 150, 6000, 600);
        CalibrationPlanner.Choice c = CalibrationPlanner.choose(p, 166, 150, Duration.ZERO);
        assertEquals(17, c.plan().positions().length);
        assertEquals(9, c.plan().repeats());
        assertTrue(c.estimatedSeconds() > 120, "a 1B-like pilot's full plan: " + c.estimatedSeconds());
    }

    @Test
    void aLargeModelGetsSparseSizesAndAsManyRepeatsAsFit() {
        // 1B-like: step 300 ms, 17 positions 600 ms, draft 40 ms, prefill 150 tokens 6 s (+0.6 s draft).
        CostCalibration p = pilot(300, 40, 150, 6000, 600);
        // Full plan: context 166 x 44 ms + one warm-up pass (7.65 s of target calls + 137 draft steps x 40 ms =
        // 13.13 s) + 9 x (13.13 + 2 extra plain calls 0.6 + 150 x 44 ms) = 203.4 s. Sparse pass: 10 x 300 ms
        // + (0+1+2+3+4+5+6+8+12+16) x 18.75 ms + (1+1+2+3+4+5+6+8+12+16) x 40 ms = 6.389 s; a repeat 13.589 s:
        // 4 fit in 75 s, not 5.
        assertEquals(203.404, CalibrationPlanner.seconds(p, Calibrator.Plan.full(166, 150)), 1e-6);
        CalibrationPlanner.Choice c = CalibrationPlanner.choose(p, 166, 150, Duration.ofSeconds(75));
        assertArrayEquals(CalibrationPlanner.SPARSE, c.plan().positions());
        assertEquals(4, c.plan().repeats());
        assertEquals(7.304 + 6.38875 + 4 * 13.58875, c.estimatedSeconds(), 1e-9);
        Calibrator.Plan oneMore = new Calibrator.Plan(166, CalibrationPlanner.SPARSE, 5, 150, CalibrationPlanner.DRAFT_RUN, 0.5, 0);
        assertTrue(CalibrationPlanner.seconds(p, oneMore) > 75, "the most repeats that fit");
        assertEquals(CalibrationPlanner.seconds(p, c.plan()), c.estimatedSeconds(), 1e-9);
    }

    @Test
    void whenNothingFitsTheLeastPlanStillGivesAMedianAndASpread() {
        CostCalibration p = pilot(300, 40, 150, 6000, 600);
        CalibrationPlanner.Choice c = CalibrationPlanner.choose(p, 166, 150, Duration.ofSeconds(5));
        assertArrayEquals(CalibrationPlanner.SPARSE, c.plan().positions());
        assertEquals(CalibrationPlanner.MIN_REPEATS, c.plan().repeats());
        assertTrue(c.estimatedSeconds() > 5 && c.reason().contains("over the 5 s budget"), c.reason());
    }

    @Test
    void theSparseSizesAreAValidPlanEndingWhereTheFullOneEnds() {
        int[] full = Calibrator.Plan.full(10, 0).positions();
        assertEquals(full[full.length - 1], CalibrationPlanner.SPARSE[CalibrationPlanner.SPARSE.length - 1]);
        assertArrayEquals(new int[]{1, 17}, CalibrationPlanner.pilot(64, 20).positions());
        assertEquals(1, CalibrationPlanner.pilot(64, 20).repeats());
        assertThrows(IllegalArgumentException.class,
                () -> CalibrationPlanner.choose(pilot(1, 1, 0, 0, 0), 10, 0, Duration.ofSeconds(-1)));
    }
}
