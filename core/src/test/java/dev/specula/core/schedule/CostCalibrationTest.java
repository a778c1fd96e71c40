package dev.specula.core.schedule;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CostCalibrationTest {

    /** The simulated pair of {@link SchedulerSimulationTest}: verify costs T * ratio(n), draft steps c * T. */
    static CostCalibration simulated(double c) {
        int[] positions = new int[17];
        double[] verify = new double[17];
        for (int n = 1; n <= 17; n++) {
            positions[n - 1] = n;
            verify[n - 1] = SchedulerSimulationTest.T * SchedulerSimulationTest.verifyRatio(n);
        }
        return new CostCalibration(64, positions, verify, c * SchedulerSimulationTest.T, c * SchedulerSimulationTest.T, 0,
                Double.NaN, Double.NaN,
                0, 0, 1);
    }

    @Test
    void expectedTokensIsLeviathansSumOfAcceptedPrefixes() {
        for (double a : new double[]{0, 0.3, 0.7, 0.95, 1}) {
            for (int k = 0; k <= 16; k++) {
                double sum = 0;
                for (int j = 0; j <= k; j++) {
                    sum += Math.pow(a, j);
                }
                assertEquals(sum, CostCalibration.expectedTokens(a, k), 1e-12, "a=" + a + " k=" + k);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> CostCalibration.expectedTokens(1.2, 3));
    }

    @Test
    void theOracleDraftLengthIsTheSimulationsBestFixedLength() {
        for (double c : new double[]{0.02, 0.1, 0.4}) {
            CostCalibration cal = simulated(c);
            for (double a : new double[]{0.3, 0.6, 0.8, 0.95}) {
                int best = 0;
                for (int k = 1; k <= 16; k++) {
                    if (SchedulerSimulationTest.analyticRate(k, a, c) > SchedulerSimulationTest.analyticRate(best, a, c)) {
                        best = k;
                    }
                }
                assertEquals(best, cal.bestFixedDraftLength(a, true, 16), "a=" + a + " c=" + c);
                assertEquals(SchedulerSimulationTest.analyticRate(best, a, c) / SchedulerSimulationTest.analyticRate(0, a, c),
                        cal.predictedSpeedup(a, best, best), 1e-9);
            }
        }
        assertEquals(1, simulated(0.1).predictedSpeedup(0.5, 0, 0), 1e-12, "k = 0 is plain decoding");
    }

    @Test
    void freeDraftsCostOnlyTheirVerification() {
        CostCalibration cal = simulated(0.1);
        assertEquals(cal.verifyNanos(5), cal.stepNanos(4, 0));
        assertEquals(cal.verifyNanos(5) + 4 * cal.draftStepNanos(), cal.stepNanos(4, 4), 1e-9);
        assertTrue(cal.bestFixedDraftLength(0.9, false, 16) > cal.bestFixedDraftLength(0.9, true, 16));
    }

    @Test
    void aDraftCostsItsFirstStepThenTheCheaperFurtherOnes() {
        CostCalibration c = new CostCalibration(10, new int[]{1, 2}, new double[]{10, 12}, 3, 1, 0, Double.NaN,
                Double.NaN, 0, 0, 1);
        assertEquals(0, c.draftNanos(0));
        assertEquals(3, c.draftNanos(1));
        assertEquals(3 + 4 * 1, c.draftNanos(5));
        assertEquals(3 + 2 + 12, c.stepNanos(1, 3), 1e-12, "draft of 3 steps, then a call over 2 positions");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new CostCalibration(10,
                new int[]{1}, new double[]{1}, Double.NaN, Double.NaN, 0, 0, 0, 0, 0, 1).draftNanos(2));
        assertTrue(e.getMessage().contains("no draft model"), e.getMessage());
    }

    @Test
    void verifyCostsBetweenAndBeyondMeasuredSizesAreInterpolatedAndExtrapolated() {
        CostCalibration c = new CostCalibration(10, new int[]{1, 3, 5}, new double[]{10, 20, 24}, 1, 1, 0, Double.NaN,
                Double.NaN, 0, 0, 1);
        assertEquals(15, c.verifyNanos(2), 1e-12);
        assertEquals(22, c.verifyNanos(4), 1e-12);
        assertEquals(28, c.verifyNanos(7), 1e-12);
        assertArrayEquals(new int[]{1, 3, 5}, c.positions());
    }

    @Test
    void invalidCalibrationsAreRefusedWithTheBadValue() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new CostCalibration(10,
                new int[]{2, 3}, new double[]{1, 2}, 1, 1, 0, 0, 0, 0, 0, 1));
        assertTrue(e.getMessage().contains("got 2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new CostCalibration(10, new int[]{1, 3}, new double[]{1, -2},
                1, 1, 0, 0, 0, 0, 0, 1));
        assertTrue(e.getMessage().contains("-2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new CostCalibration(10, new int[]{1, 1}, new double[]{1, 2},
                1, 1, 0, 0, 0, 0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new CostCalibration(10, new int[]{1}, new double[]{1},
                -1, -1, 0, 0, 0, 0, 0, 1));
        e = assertThrows(IllegalArgumentException.class, () -> new CostCalibration(10, new int[]{1}, new double[]{1},
                1, Double.NaN, 0, 0, 0, 0, 0, 1));
        assertTrue(e.getMessage().contains("both"), e.getMessage());
    }

    @Test
    void pooledPassesTakeEachCostsMedianAndCountTheirDriftAsNoise() {
        CostCalibration a = new CostCalibration(96, new int[]{1, 2, 4}, new double[]{10, 12, 15}, 3, 1, 32, 40, 8,
                0.05, 0.01, 9);
        CostCalibration b = new CostCalibration(96, new int[]{1, 2, 4}, new double[]{12, 13, 14}, 4, 2, 32, 44, 9,
                0.07, 0.02, 9);
        CostCalibration c = new CostCalibration(96, new int[]{1, 2, 4}, new double[]{20, 21, 22}, 5, 1, 32, 42, 7,
                0.06, 0.03, 9);
        CostCalibration p = CostCalibration.pooled(java.util.List.of(a, b, c));
        // per size the median over passes (12, 13, 15), then non-decreasing: already
        assertArrayEquals(new double[]{12, 13, 15}, p.verifyNanos(), 1e-12);
        assertEquals(4, p.draftStepNanos(), 1e-12);
        assertEquals(1, p.draftNextStepNanos(), 1e-12);
        assertEquals(42, p.prefillNanos(), 1e-12);
        assertEquals(8, p.draftPrefillNanos(), 1e-12);
        assertEquals(0.06, p.spread(), 1e-12);
        assertEquals(27, p.repeats());
        // drift between passes: plain step 10, 12, 20 -> IQR 5 over median 12; the noise is the median over the five
        // costs of 0.93 IQR / (median sqrt 3), far above the passes' own 0.02 / sqrt 3
        double[] between = {
                0.93 * (16 - 11) / 12.0 / Math.sqrt(3),   // verify 1: 10 12 20
                0.93 * (17 - 12.5) / 13.0 / Math.sqrt(3), // verify 2: 12 13 21
                0.93 * (18.5 - 14.5) / 15.0 / Math.sqrt(3), // verify 4: 15 14 22
                0.93 * (4.5 - 3.5) / 4.0 / Math.sqrt(3),  // draft first: 3 4 5
                0.93 * (1.5 - 1) / 1.0 / Math.sqrt(3)};   // draft next: 1 2 1
        java.util.Arrays.sort(between);
        assertEquals(between[2], p.noise(), 1e-12);
        assertTrue(p.noise() > 0.02 / Math.sqrt(3));
        assertEquals(a, CostCalibration.pooled(java.util.List.of(a)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CostCalibration.pooled(
                java.util.List.of(a, new CostCalibration(128, new int[]{1, 2, 4}, new double[]{1, 2, 3}, 1, 1, 32, 4, 1,
                        0, 0, 9))));
        assertTrue(e.getMessage().contains("same context"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CostCalibration.pooled(java.util.List.of()));
    }
}
