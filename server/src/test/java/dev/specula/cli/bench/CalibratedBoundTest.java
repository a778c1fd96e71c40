package dev.specula.cli.bench;

import dev.specula.core.schedule.CostCalibration;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The calibrated bound on step logs whose expected outcome is worked out by hand. */
class CalibratedBoundTest {
    // Target call: 10 ms + 1 ms per position; draft step 0.5 ms; prefill 20 ms (target) and 2 ms (draft).
    static final CostCalibration CAL = new CostCalibration(100, new int[]{1, 2, 3, 4, 5}, new double[]{11e6, 12e6, 13e6,
            14e6, 15e6}, 0.5e6, 0.5e6, 50, 20e6, 2e6, 0.01, 0.005, 9);

    static StepLog.Step model(int drafted, int accepted) {
        return new StepLog.Step("model", drafted, accepted, drafted);
    }

    @Test
    void perPositionAcceptanceCountsAcceptedTokensAgainstStepsThatEndedInARejection() {
        // 3 + 1 + 0 accepted; two rejections (the second and third step); the first step was fully accepted.
        List<List<StepLog.Step>> g = List.of(List.of(model(3, 3), model(3, 1), model(2, 0),
                new StepLog.Step("lookup", 4, 4, 0), new StepLog.Step("", 0, 0, 0)));
        Map<String, Double> a = CalibratedBound.positionAcceptance(g);
        assertEquals(4.0 / 6, a.get("model"), 1e-12);
        assertEquals(1.0, a.get("lookup"), 1e-12);
        assertEquals(8.0 / 10, CalibratedBound.pooledAcceptance(g), 1e-12);
    }

    @Test
    void thePredictionIsExpectedTokensOverCalibratedCostAgainstPlainSteps() {
        // Two steps of 2 model tokens, one accepted fully, one rejected at once: a = 2 / 3.
        List<List<StepLog.Step>> g = List.of(List.of(model(2, 2), model(2, 0)));
        double a = 2.0 / 3;
        double tokens = 2 * (1 + a + a * a);
        double speculative = 20e6 + 2e6 + 2 * (2 * 0.5e6 + 13e6);
        double plain = 20e6 + tokens * 11e6;
        assertEquals(plain / speculative, CalibratedBound.predictedSpeedup(CAL, g, true), 1e-12);
        // Without the draft model's prefill (a lookup drafter), and lookups cost no draft steps.
        List<List<StepLog.Step>> lookups = List.of(List.of(new StepLog.Step("lookup", 2, 2, 0),
                new StepLog.Step("lookup", 2, 0, 0)));
        assertEquals(plain / (20e6 + 2 * 13e6), CalibratedBound.predictedSpeedup(CAL, lookups, false), 1e-12);
    }

    @Test
    void thePricedSpeedupCountsTheTokensMadeNotTheExpectedOnes() {
        // Same steps as above: 3 tokens from the accepted step, 1 from the rejected one; the prediction credits
        // 2 (1 + a + a^2) = 4.22 tokens at a = 2/3, the priced figure the 4 actually made.
        List<List<StepLog.Step>> g = List.of(List.of(model(2, 2), model(2, 0)));
        double speculative = 20e6 + 2e6 + 2 * (2 * 0.5e6 + 13e6);
        assertEquals((20e6 + 4 * 11e6) / speculative, CalibratedBound.pricedSpeedup(CAL, g, 4, true), 1e-12);
        // A streak-chasing policy: a long draft accepted whole and a short one rejected make more tokens than
        // the pooled acceptance predicts, and the priced figure says so.
        List<List<StepLog.Step>> streak = List.of(List.of(model(4, 4), model(1, 0)));
        double streakCost = 20e6 + 2e6 + (4 * 0.5e6 + 15e6) + (0.5e6 + 12e6);
        assertEquals((20e6 + 6 * 11e6) / streakCost, CalibratedBound.pricedSpeedup(CAL, streak, 6, true), 1e-12);
        assertTrue(CalibratedBound.pricedSpeedup(CAL, streak, 6, true)
                > CalibratedBound.predictedSpeedup(CAL, streak, true));
    }

    @Test
    void plainStepsPredictNoSpeedupAndAFixedLengthMatchesItsStepLog() {
        List<List<StepLog.Step>> plainSteps = List.of(List.of(new StepLog.Step("", 0, 0, 0), new StepLog.Step("", 0, 0, 0)));
        assertEquals(1.0, CalibratedBound.predictedSpeedup(CAL, plainSteps, false), 1e-12);
        // At a = 1, every step of k = 3 yields 4 tokens: 8 tokens in 2 steps.
        List<List<StepLog.Step>> full = List.of(List.of(model(3, 3), model(3, 3)));
        double fromLog = (20e6 + 8 * 11e6) / (20e6 + 2e6 + 2 * (1.5e6 + 14e6));
        assertEquals(fromLog, CalibratedBound.predictedSpeedup(CAL, full, true), 1e-12);
        assertEquals(fromLog, CalibratedBound.predictedFixed(CAL, 1, 3, true, 8), 1e-12);
        assertTrue(CalibratedBound.predictedFixed(CAL, 0.1, 3, true, 8) < 1, "drafting loses at a = 0.1");
    }
}
