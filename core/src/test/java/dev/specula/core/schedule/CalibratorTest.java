package dev.specula.core.schedule;

import dev.specula.core.testing.FakeClock;
import dev.specula.core.testing.ReferenceModel;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;
import java.util.function.LongSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The calibrator on simulated models whose calls charge known costs to a fake clock. */
class CalibratorTest {
    static final long TARGET_CALL = 2_000_000;
    static final long TARGET_TOKEN = 100_000;
    static final long DRAFT_CALL = 150_000;
    static final long DRAFT_TOKEN = 10_000;

    static ReferenceModel target(FakeClock clock, int maxLength) {
        return ReferenceModel.builder(32, 1).maxLength(maxLength).cost(clock, TARGET_CALL, TARGET_TOKEN).build();
    }

    static ReferenceModel draft(FakeClock clock, ReferenceModel target) {
        return ReferenceModel.draftOf(target, 0.5, 2).cost(clock, DRAFT_CALL, DRAFT_TOKEN).build();
    }

    @Test
    void measuresEveryVerifySizeTheDraftStepAndThePrefillExactlyOnAQuietClock() {
        FakeClock clock = new FakeClock();
        ReferenceModel t = target(clock, 512);
        ReferenceModel d = draft(clock, t);
        CostCalibration c = Calibrator.calibrate(t, d, Calibrator.Plan.full(100, 30), clock);
        assertEquals(100, c.contextLength());
        assertEquals(17, c.maxPositions());
        for (int n = 1; n <= 17; n++) {
            assertEquals(TARGET_CALL + n * TARGET_TOKEN, c.verifyNanos(n), 1e-9, "verify of " + n + " positions");
        }
        assertEquals(DRAFT_CALL + DRAFT_TOKEN, c.draftStepNanos(), 1e-9);
        assertEquals(DRAFT_CALL + DRAFT_TOKEN, c.draftNextStepNanos(), 1e-9, "a simulated draft has no caches to warm");
        assertEquals(30, c.prefillLength());
        assertEquals(TARGET_CALL + 30 * TARGET_TOKEN, c.prefillNanos(), 1e-9);
        assertEquals(DRAFT_CALL + 30 * DRAFT_TOKEN, c.draftPrefillNanos(), 1e-9);
        assertEquals(0, c.spread());
        assertEquals(0, c.noise());
        assertEquals(0, t.openSequences(), "the calibrator closes its sequences");
        assertEquals(0, d.openSequences());
    }

    @Test
    void theQuickPlanInterpolatesTheSizesItSkipsAndNeedsNoDraftModel() {
        FakeClock clock = new FakeClock();
        CostCalibration c = Calibrator.calibrate(target(clock, 512), null, Calibrator.Plan.quick(64), clock);
        assertEquals(8, c.positions().length);
        for (int n = 1; n <= 17; n++) {
            assertEquals(TARGET_CALL + n * TARGET_TOKEN, c.verifyNanos(n), 1e-6, "a linear cost interpolates exactly");
        }
        assertTrue(Double.isNaN(c.draftStepNanos()) && !c.hasDraftModel());
        assertTrue(Double.isNaN(c.prefillNanos()), "the quick plan does not measure prefill");
        assertThrows(IllegalArgumentException.class, () -> c.stepNanos(3, 3));
        assertEquals(c.verifyNanos(4), c.stepNanos(3, 0));
    }

    @Test
    void theQuickPlanKeepsToItsBudgetWithASlowTargetButNeverTakesFewerThanThreeRepeats() {
        FakeClock clock = new FakeClock();
        assertEquals(5, Calibrator.calibrate(target(clock, 512), null, Calibrator.Plan.quick(64), clock).repeats());
        // A 1B-like target: 250 ms per call, so one pass of the quick plan takes 2.5 s, past the 1 s budget.
        ReferenceModel slow = ReferenceModel.builder(32, 1).maxLength(512).cost(clock, 250_000_000, TARGET_TOKEN).build();
        long start = clock.getAsLong();
        CostCalibration c = Calibrator.calibrate(slow, null, Calibrator.Plan.quick(64), clock);
        assertEquals(Calibrator.MIN_REPEATS, c.repeats());
        assertEquals(250_000_000 + TARGET_TOKEN, c.verifyNanos(1), 1e-6);
        // the context's prefill, one warm-up pass of 8 sizes, three repeats of 8 sizes plus the plain step's two
        // extra calls
        assertEquals(1 + 8 + 3 * 10, Math.round((clock.getAsLong() - start) / 250e6), "calls made");
        assertThrows(IllegalArgumentException.class, () -> new Calibrator.Plan(64, new int[]{1}, 3, 0, 2, 0.5, -1));
    }

    @Test
    void aPlanTooSmallToMeasureAFurtherDraftStepPricesItAsTheFirst() {
        FakeClock clock = new FakeClock();
        ReferenceModel t = target(clock, 512);
        CostCalibration c = Calibrator.calibrate(t, draft(clock, t), new Calibrator.Plan(64, new int[]{1, 2}, 3, 0, 2,
                0.5, 0), clock);
        assertEquals(c.draftStepNanos(), c.draftNextStepNanos());
        assertEquals(DRAFT_CALL + DRAFT_TOKEN, c.draftStepNanos(), 1e-9);
    }

    @Test
    void verifyCostsThatDipAreMadeNonDecreasingByPoolingTheDip() {
        assertArrayEquals(new double[]{4.42, 4.42, 4.5, 5.71, 5.71, 5.88},
                Calibrator.nonDecreasing(new double[]{4.46, 4.38, 4.5, 5.78, 5.64, 5.88}), 1e-12);
        assertArrayEquals(new double[]{2, 2, 2, 3}, Calibrator.nonDecreasing(new double[]{3, 2, 1, 3}), 1e-12);
        assertArrayEquals(new double[]{1, 2, 3}, Calibrator.nonDecreasing(new double[]{1, 2, 3}), 1e-12);
    }

    @Test
    void theContextIsClampedToWhatTheModelsHoldAndTooShortModelsAreRefused() {
        FakeClock clock = new FakeClock();
        CostCalibration c = Calibrator.calibrate(target(clock, 40), null, Calibrator.Plan.full(100, 50), clock);
        assertEquals(40 - 17, c.contextLength());
        assertEquals(40 - 17, c.prefillLength(), "the prefill is clamped to the context");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Calibrator.calibrate(target(clock, 12), null, Calibrator.Plan.full(8, 0), clock));
        assertTrue(e.getMessage().contains("12") && e.getMessage().contains("18"), e.getMessage());
    }

    @Test
    void mediansResistOutliersAndTheNoiseOfANoisyClockIsReported() {
        FakeClock clock = new FakeClock();
        SplittableRandom r = new SplittableRandom(7);
        // Every read first advances the clock by up to 40 us of jitter, and one read in 20 by a 20 ms pause.
        LongSupplier noisy = () -> {
            clock.advance(r.nextLong(40_000) + (r.nextInt(20) == 0 ? 20_000_000 : 0));
            return clock.getAsLong();
        };
        ReferenceModel t = target(clock, 512);
        CostCalibration c = Calibrator.calibrate(t, draft(clock, t), Calibrator.Plan.full(64, 0), noisy);
        for (int n = 1; n <= 17; n++) {
            double exact = TARGET_CALL + n * TARGET_TOKEN;
            assertTrue(c.verifyNanos(n) >= exact && c.verifyNanos(n) <= exact + 40_000,
                    "verify of " + n + ": " + c.verifyNanos(n) + ", exact " + exact);
        }
        assertTrue(c.draftStepNanos() >= DRAFT_CALL + DRAFT_TOKEN && c.draftStepNanos() <= DRAFT_CALL + DRAFT_TOKEN + 40_000);
        assertTrue(c.spread() > 0 && c.spread() < 0.2, "spread " + c.spread());
        assertTrue(c.noise() > 0 && c.noise() < 0.5, "noise " + c.noise());
    }

    @Test
    void onlyAnUncalibratedAdaptivePolicyCalibratesForItsModels() {
        FakeClock clock = new FakeClock();
        ReferenceModel t = target(clock, 512);
        ReferenceModel d = draft(clock, t);
        Scheduling fixed = Scheduling.fixed(3);
        assertTrue(fixed.forModels(t, d) == fixed);
        Scheduling heuristic = Scheduling.heuristic();
        assertTrue(heuristic.forModels(t, d) == heuristic);
        Scheduling adaptive = Scheduling.adaptive();
        long before = t.calls();
        Scheduling calibrated = adaptive.forModels(t, d);
        assertTrue(calibrated != adaptive && t.calls() > before + 17, "the adaptive policy measured the target");
        long after = t.calls();
        assertTrue(calibrated.forModels(t, d) == calibrated && t.calls() == after, "calibrated once, not again");
        Scheduling tiny = Scheduling.adaptive();
        assertTrue(tiny.forModels(target(clock, 16), null) == tiny, "a model too short to calibrate is left alone");
        assertEquals(0, t.openSequences());
    }
}
