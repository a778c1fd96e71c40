package dev.specula.core.sampling;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RowMathTest {
    @Test
    void bulkExpGivesExactlyTheScalarValues() {
        SplittableRandom r = new SplittableRandom(7);
        int n = 4099; // not a multiple of any vector width
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextDouble() * 120 - 100);
        }
        x[3] = Float.NEGATIVE_INFINITY;
        x[10] = -87f;
        x[11] = Math.nextDown(-87f);
        x[12] = 20f; // the shift: e^0
        float shift = 20f;
        float[] out = new float[n];
        RowMath.expShifted(x, shift, out, new float[n], n);
        for (int i = 0; i < n; i++) {
            assertEquals(Float.floatToIntBits(FastExp.expNonPositive(x[i] - shift)), Float.floatToIntBits(out[i]),
                    "at " + i + ", x - shift = " + (x[i] - shift));
        }
        assertEquals(1f, out[12]);
        assertEquals(0f, out[3]);
    }

    @Test
    void nanSurvivesTheBulkExpSoTheSumRevealsIt() {
        float[] x = {0f, Float.NaN, -200f};
        float[] out = new float[3];
        RowMath.expShifted(x, 0f, out, new float[3], 3);
        assertTrue(Float.isNaN(out[1]));
        assertEquals(0f, out[2]);
        assertTrue(Double.isNaN(RowMath.sum(out, 3)));
        assertEquals(1, RowMath.firstNonFinite(x, 3));
    }

    @Test
    void sumMatchesASequentialSumAndMaxIgnoresNan() {
        SplittableRandom r = new SplittableRandom(3);
        for (int n : new int[]{0, 1, 7, 8, 9, 4096, 4101}) {
            float[] a = new float[n];
            double naive = 0;
            float best = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                a[i] = (float) r.nextDouble();
                naive += a[i];
                best = Math.max(best, a[i]);
            }
            assertEquals(naive, RowMath.sum(a, n), 1e-12 * Math.max(1, naive), "n = " + n);
            assertEquals(best, RowMath.max(a, n), "n = " + n);
        }
        assertEquals(2f, RowMath.max(new float[]{1f, Float.NaN, 2f}, 3));
        assertEquals(-1, RowMath.firstNonFinite(new float[]{1f, Float.NEGATIVE_INFINITY}, 2));
        assertEquals(1, RowMath.firstNonFinite(new float[]{1f, Float.POSITIVE_INFINITY}, 2));
    }
}
