package dev.specula.core.sampling;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FastExpTest {
    @Test
    void matchesMathExpToFloatPrecisionOverTheSoftmaxRange() {
        double worst = 0;
        for (int i = 0; i <= 2_000_000; i++) {
            float x = -87f * i / 2_000_000;
            double exact = Math.exp(x);
            worst = Math.max(worst, Math.abs(FastExp.expNonPositive(x) - exact) / exact);
        }
        assertTrue(worst < 3e-7, "max relative error " + worst);
    }

    @Test
    void excludedTokensGetExactlyZero() {
        assertEquals(1f, FastExp.expNonPositive(0f));
        assertEquals(0f, FastExp.expNonPositive(Float.NEGATIVE_INFINITY));
        assertEquals(0f, FastExp.expNonPositive(-100f));
        assertEquals(0f, FastExp.expNonPositive(Float.NaN));
    }
}
