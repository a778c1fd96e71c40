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
        x[13] = -1e30f;
        for (float scale : new float[]{1f, 1.25f, 0.37f}) {
            float shift = 20f * scale;
            x[10] = -87f / scale + 20f;
            x[11] = Math.nextDown(x[10]);
            float[] out = new float[n];
            double sum = RowMath.expScaledShifted(x, scale, shift, out, new float[n], n);
            assertEquals(RowMath.sum(out, n), sum, 0.0, "the returned sum is sum's, bit for bit");
            for (int i = 0; i < n; i++) {
                float a = x[i] * scale - shift;
                assertEquals(Float.floatToIntBits(FastExp.expNonPositive(a)), Float.floatToIntBits(out[i]),
                        "at " + i + ", scale " + scale + ", x * scale - shift = " + a);
            }
            assertEquals(1f, out[12]);
            assertEquals(0f, out[3]);
            assertEquals(0f, out[13]);
        }
    }

    @Test
    void bulkExpIsExactlyZeroJustBelowTheFloorAndPositiveAtIt() {
        float[] x = {-87f, Math.nextDown(-87f), Math.nextUp(-87f), -87.5f, -88.7f, -200f, 0f};
        float[] out = new float[x.length];
        RowMath.expScaledShifted(x, 1f, 0f, out, new float[x.length], x.length);
        assertTrue(out[0] > 0f && out[2] > out[0], java.util.Arrays.toString(out));
        for (int i = 1; i < 6; i++) {
            if (i != 2) {
                assertEquals(0f, out[i], "at " + x[i]);
            }
        }
        assertEquals(1f, out[6]);
    }

    @Test
    void firstMaxOrNaNFindsTheFirstLargestOrTheFirstNaNAndTheLargestBefore() {
        float[] before = new float[1];
        assertEquals(1, RowMath.firstMaxOrNaN(new float[]{1f, 3f, 2f, 3f}, 4, before));
        assertEquals(1f, before[0]);
        assertEquals(4, RowMath.firstMaxOrNaN(new float[]{1f, 2.5f, 0f, 2f, 3f}, 5, before));
        assertEquals(2.5f, before[0]);
        assertEquals(2, RowMath.firstMaxOrNaN(new float[]{1f, 3f, Float.NaN, 5f}, 4, before));
        assertEquals(0, RowMath.firstMaxOrNaN(new float[]{Float.NaN, 3f}, 2, before));
        assertEquals(3, RowMath.firstMaxOrNaN(new float[]{1f, 3f, 4f, Float.NaN}, 4, before));
        float ninf = Float.NEGATIVE_INFINITY;
        assertEquals(0, RowMath.firstMaxOrNaN(new float[]{ninf, ninf}, 2, before));
        assertEquals(ninf, before[0]);
        assertEquals(0, RowMath.firstMaxOrNaN(new float[]{5f, 1f, 2f}, 3, before));
        assertEquals(ninf, before[0]);
        assertEquals(1, RowMath.firstMaxOrNaN(new float[]{ninf, Float.POSITIVE_INFINITY, 2f}, 3, before));
    }

    @Test
    void scaleAndSumWritesTheProductsAndSumsThemLikeSum() {
        SplittableRandom r = new SplittableRandom(4);
        for (int n : new int[]{0, 1, 7, 8, 9, 4101}) {
            float[] a = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = (float) r.nextDouble();
            }
            float[] expected = a.clone();
            for (int i = 0; i < n; i++) {
                expected[i] *= 0.3f;
            }
            double sum = RowMath.scaleAndSum(a, n, 0.3f);
            assertEquals(java.util.Arrays.toString(expected), java.util.Arrays.toString(a));
            assertEquals(RowMath.sum(expected, n), sum, 0.0, "n = " + n);
        }
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
