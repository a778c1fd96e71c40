package dev.specula.core.sampling;

import dev.specula.core.SpeculaException;
import dev.specula.core.model.Logits;
import dev.specula.core.model.NonFiniteLogitsException;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplingTransformTest {

    /** Straightforward double-precision reference of temperature, top-k, top-p, min-p (HF warper order). */
    static double[] reference(float[] logits, SamplingParams params) {
        int v = logits.length;
        double[] x = new double[v];
        for (int i = 0; i < v; i++) {
            x[i] = (float) (logits[i] * (float) (1.0 / params.temperature()));
        }
        boolean[] keep = new boolean[v];
        Arrays.fill(keep, true);
        if (params.topK() > 0 && params.topK() < v) {
            double[] sorted = x.clone();
            Arrays.sort(sorted);
            double kth = sorted[v - params.topK()];
            for (int i = 0; i < v; i++) {
                keep[i] = x[i] >= kth;
            }
        }
        double max = Arrays.stream(x).max().orElseThrow();
        double[] w = new double[v];
        double total = 0;
        for (int i = 0; i < v; i++) {
            w[i] = keep[i] ? Math.exp(x[i] - max) : 0;
            total += w[i];
        }
        if (params.topP() < 1) {
            Integer[] order = IntStream.range(0, v).boxed().toArray(Integer[]::new);
            Arrays.sort(order, Comparator.comparingDouble(i -> -w[i]));
            double cum = 0;
            double boundary = 0;
            for (int i : order) {
                cum += w[i];
                boundary = w[i];
                if (cum >= params.topP() * total) {
                    break;
                }
            }
            for (int i = 0; i < v; i++) {
                if (w[i] < boundary) {
                    w[i] = 0;
                }
            }
        }
        if (params.minP() > 0) {
            for (int i = 0; i < v; i++) {
                if (w[i] < params.minP()) {
                    w[i] = 0;
                }
            }
        }
        double kept = Arrays.stream(w).sum();
        for (int i = 0; i < v; i++) {
            w[i] /= kept;
        }
        return w;
    }

    @Test
    void matchesReferenceForTemperatureTopKTopPMinP() {
        SplittableRandom r = new SplittableRandom(1);
        SamplingParams[] settings = {
                SamplingParams.builder().temperature(1).build(),
                SamplingParams.builder().temperature(0.7).build(),
                SamplingParams.builder().temperature(1.3).topK(5).build(),
                SamplingParams.builder().temperature(0.9).topP(0.8).build(),
                SamplingParams.builder().temperature(1).topP(0.3).build(),
                SamplingParams.builder().temperature(0.8).minP(0.1).build(),
                SamplingParams.builder().temperature(1).topK(20).topP(0.9).minP(0.02).build(),
        };
        for (int vocab : new int[]{7, 64, 32000}) {
            for (SamplingParams params : settings) {
                SamplingTransform transform = new SamplingTransform(params, vocab);
                Distribution out = new Distribution(vocab);
                for (int trial = 0; trial < 5; trial++) {
                    float[] row = new float[vocab];
                    for (int i = 0; i < vocab; i++) {
                        row[i] = (float) (r.nextGaussian() * 3);
                    }
                    transform.apply(Logits.of(row), 0, out);
                    double[] expected = reference(row, params);
                    for (int i = 0; i < vocab; i++) {
                        assertEquals(expected[i], out.prob(i), 2e-6, params + " token " + i);
                    }
                }
            }
        }
    }

    @Test
    void topKKeepsTiesAndExactlyKOtherwise() {
        SamplingTransform t = new SamplingTransform(SamplingParams.builder().temperature(1).topK(2).build(), 5);
        Distribution d = t.apply(Logits.of(new float[]{1, 3, 2, 0, -1}), 0, new Distribution(5));
        assertEquals(2, IntStream.range(0, 5).filter(i -> d.prob(i) > 0).count());
        Distribution ties = t.apply(Logits.of(new float[]{1, 3, 1, 0, 1}), 0, new Distribution(5));
        assertEquals(4, IntStream.range(0, 5).filter(i -> ties.prob(i) > 0).count());
    }

    @Test
    void greedyIsOneHotOnTheLowestArgmax() {
        SamplingTransform t = new SamplingTransform(SamplingParams.greedy(1), 4);
        Distribution d = t.apply(Logits.of(new float[]{0, 5, 5, 1}), 0, new Distribution(4));
        assertEquals(1f, d.prob(1));
        assertEquals(0f, d.prob(2));
        assertEquals(1, d.argmax());
    }

    @Test
    void negativeInfinityExcludesTokensButNaNAndPositiveInfinityFail() {
        SamplingTransform t = new SamplingTransform(SamplingParams.builder().temperature(1).build(), 3);
        Distribution d = t.apply(Logits.of(new float[]{Float.NEGATIVE_INFINITY, 0, 0}), 0, new Distribution(3));
        assertEquals(0f, d.prob(0));
        assertEquals(0.5f, d.prob(1), 1e-7);
        assertThrows(NonFiniteLogitsException.class,
                () -> t.apply(Logits.of(new float[]{0, Float.NaN, 0}), 0, new Distribution(3)));
        assertThrows(NonFiniteLogitsException.class,
                () -> t.apply(Logits.of(new float[]{0, Float.POSITIVE_INFINITY, 0}), 0, new Distribution(3)));
        SamplingTransform greedy = new SamplingTransform(SamplingParams.greedy(1), 3);
        assertThrows(NonFiniteLogitsException.class,
                () -> greedy.apply(Logits.of(new float[]{0, Float.NaN, 0}), 0, new Distribution(3)));
        float ninf = Float.NEGATIVE_INFINITY;
        assertThrows(SpeculaException.class, () -> t.apply(Logits.of(new float[]{ninf, ninf, ninf}), 0, new Distribution(3)));
        float nan = Float.NaN;
        NonFiniteLogitsException e = assertThrows(NonFiniteLogitsException.class,
                () -> t.apply(Logits.of(new float[]{nan, nan, nan}), 0, new Distribution(3)));
        assertTrue(e.getMessage().contains("NaN"), e.getMessage());
        assertThrows(NonFiniteLogitsException.class,
                () -> t.apply(Logits.of(new float[]{ninf, nan, ninf}), 0, new Distribution(3)));
        SamplingTransform topK = new SamplingTransform(SamplingParams.builder().temperature(1).topK(2).build(), 3);
        assertThrows(NonFiniteLogitsException.class,
                () -> topK.apply(Logits.of(new float[]{0, Float.NaN, 1}), 0, new Distribution(3)));
    }

    @Test
    void kthLargestAgreesWithSorting() {
        SplittableRandom r = new SplittableRandom(5);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + r.nextInt(300);
            float[] a = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = r.nextInt(10) == 0 ? 1f : (float) r.nextGaussian();
            }
            int k = 1 + r.nextInt(n);
            float[] sorted = a.clone();
            Arrays.sort(sorted);
            assertEquals(sorted[n - k], Candidates.kthLargest(a.clone(), n, k));
        }
    }

    /** The transform's argmax is Logits.argmax's choice on rows with ties, -Infinity, and on non-finite rows. */
    @Test
    void argmaxMatchesLogitsArgmaxIncludingTiesAndNonFiniteRows() {
        SplittableRandom r = new SplittableRandom(11);
        int vocab = 257;
        SamplingTransform t = new SamplingTransform(SamplingParams.greedy(8), vocab);
        for (int trial = 0; trial < 400; trial++) {
            float[] row = new float[vocab];
            for (int i = 0; i < vocab; i++) {
                row[i] = r.nextInt(4) == 0 ? Float.NEGATIVE_INFINITY : (float) r.nextInt(-20, 21); // many ties
            }
            if (trial % 5 == 1) {
                row[r.nextInt(vocab)] = Float.NaN;
            }
            if (trial % 7 == 2) {
                row[r.nextInt(vocab)] = Float.POSITIVE_INFINITY;
            }
            if (trial % 11 == 3) {
                Arrays.fill(row, Float.NEGATIVE_INFINITY);
            }
            Logits logits = Logits.of(new float[vocab], row);
            Integer expected = null;
            NonFiniteLogitsException expectedFailure = null;
            try {
                expected = logits.argmax(1);
            } catch (NonFiniteLogitsException e) {
                expectedFailure = e;
            }
            if (expected != null) {
                assertEquals(expected, t.argmax(logits, 1), "trial " + trial);
                assertEquals(expected, t.apply(logits, 1, new Distribution(vocab)).argmax(), "trial " + trial);
            } else {
                NonFiniteLogitsException got = assertThrows(NonFiniteLogitsException.class, () -> t.argmax(logits, 1));
                assertEquals(expectedFailure.getMessage(), got.getMessage(), "trial " + trial);
            }
        }
    }
}
