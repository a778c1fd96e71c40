package dev.specula.core.sampling;

import dev.specula.core.model.Logits;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A row's bounds agree with the full transform: they hold every probability, and the draws they settle match. */
class RowBoundsTest {

    /** Gaussian scores of a spread from flat to peaked, some with one planted favourite, some with -Infinity. */
    static float[] row(SplittableRandom r, int vocab) {
        float[] x = new float[vocab];
        double sd = 0.3 + r.nextDouble() * 6;
        for (int t = 0; t < vocab; t++) {
            x[t] = (float) (r.nextGaussian() * sd);
        }
        if (r.nextBoolean()) {
            x[r.nextInt(vocab)] += (float) (r.nextDouble() * 30);
        }
        if (r.nextInt(4) == 0) {
            for (int t = r.nextInt(vocab); t < vocab; t += 1 + r.nextInt(50)) {
                x[t] = Float.NEGATIVE_INFINITY;
            }
        }
        return x;
    }

    @Test
    void boundsHoldEveryProbabilityAndSettledDrawsMatchTheDistribution() {
        SplittableRandom r = new SplittableRandom(11);
        int settled = 0;
        int draws = 0;
        for (int trial = 0; trial < 300; trial++) {
            int vocab = 1 + r.nextInt(3000);
            double temperature = 0.3 + r.nextDouble() * 1.5;
            Logits logits = Logits.of(row(r, vocab));
            SamplingParams params = SamplingParams.builder().temperature(temperature).build();
            SamplingTransform transform = new SamplingTransform(params, vocab);
            Distribution p = transform.apply(logits, 0, new Distribution(vocab));
            float[] exact = p.probabilities().clone();
            RowBounds b = transform.bounds(logits, 0);
            assertNotNull(b, "trial " + trial);
            for (int t = 0; t < vocab; t++) {
                assertTrue(b.probabilityLow(t) <= exact[t] && exact[t] <= b.probabilityHigh(t),
                        "trial " + trial + " token " + t + ": " + exact[t] + " outside [" + b.probabilityLow(t) + ", "
                                + b.probabilityHigh(t) + "]");
            }
            KeyedNoise noise = new KeyedNoise(trial);
            for (int position = 0; position < 20; position++) {
                for (KeyedNoise.Use use : KeyedNoise.Use.values()) {
                    int fast = noise.gumbelMax(transform.bounds(logits, 0), position, use);
                    draws++;
                    if (fast >= 0) {
                        settled++;
                        assertEquals(noise.gumbelMax(p, position, use), fast, "trial " + trial + " position " + position);
                    }
                }
            }
        }
        assertTrue(settled > 0.99 * draws, "bounds settled only " + settled + " of " + draws + " draws");
    }

    @Test
    void rowsTheTransformRejectsAndRowsWithCutsGetNoBounds() {
        SamplingTransform dense = new SamplingTransform(SamplingParams.builder().temperature(1).build(), 3);
        assertNull(dense.bounds(Logits.of(new float[]{0f, Float.NaN, 1f}), 0));
        assertNull(dense.bounds(Logits.of(new float[]{0f, Float.POSITIVE_INFINITY, 1f}), 0));
        assertNull(dense.bounds(Logits.of(new float[]{Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY,
                Float.NEGATIVE_INFINITY}), 0));
        SamplingTransform cold = new SamplingTransform(SamplingParams.builder().temperature(1e-4).build(), 3);
        assertNull(cold.bounds(Logits.of(new float[]{0f, 3e38f, 1f}), 0), "a score that overflows at this temperature");
        assertNotNull(dense.bounds(Logits.of(new float[]{0f, 2f, 1f}), 0));
        for (SamplingParams cut : new SamplingParams[]{SamplingParams.greedy(1),
                SamplingParams.builder().temperature(1).topK(2).build(),
                SamplingParams.builder().temperature(1).topP(0.9).build(),
                SamplingParams.builder().temperature(1).minP(0.1).build()}) {
            assertNull(new SamplingTransform(cut, 3).bounds(Logits.of(new float[]{0f, 2f, 1f}), 0), cut.toString());
        }
    }
}
