package dev.specula.core.sampling;

import dev.specula.core.model.Logits;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The selection-based {@link SamplingTransform} against two oracles on random rows of 10 to 151,936 entries
 * (Gaussian, tied, masked with -Infinity, huge, tiny, peaked, flat) under every combination of temperature,
 * top-k, top-p and min-p: a full-sort implementation of the definition, and the previous implementation
 * ({@link ReferenceSamplingTransform}). Supports must be equal token for token; probabilities equal up to the
 * float rounding of a differently ordered sum.
 */
class SelectionMatchesFullSortTest {
    private static final double[] TEMPERATURES = {0.5, 1, 1.7};
    private static final int[] TOP_KS = {0, 1, 2, 40, 1000};
    private static final double[] TOP_PS = {1, 0.999, 0.9, 0.5, 0.05};
    private static final double[] MIN_PS = {0, 0.05, 0.3};
    private static final String[] KINDS = {"gaussian", "ties", "masked", "mostly-masked", "huge", "offset", "tiny",
            "peaked", "flat"};

    /**
     * The definition, by sorting whole rows: scaled scores x * (1/T) in float, weights FastExp(score - best),
     * top-k by the k-th largest score of the sorted row, top-p by the running mass over every token sorted by
     * decreasing weight (ties by decreasing id) until it reaches topP of the total, min-p on weights.
     */
    static float[] fullSort(float[] logits, SamplingParams params) {
        int n = logits.length;
        float inv = (float) (1.0 / params.temperature());
        float[] s = new float[n];
        float max = Float.NEGATIVE_INFINITY;
        for (int t = 0; t < n; t++) {
            s[t] = logits[t] * inv;
            max = Math.max(max, s[t]);
        }
        float[] w = new float[n];
        for (int t = 0; t < n; t++) {
            w[t] = FastExp.expNonPositive(s[t] - max);
        }
        if (params.topK() > 0 && params.topK() < n) {
            float[] sorted = s.clone();
            Arrays.sort(sorted);
            float kth = sorted[n - params.topK()];
            for (int t = 0; t < n; t++) {
                if (s[t] < kth) {
                    w[t] = 0f;
                }
            }
        }
        if (params.topP() < 1) {
            double total = 0;
            for (float v : w) {
                total += v;
            }
            long[] keys = new long[n];
            int m = 0;
            for (int t = 0; t < n; t++) {
                if (w[t] >= 0x1p-100f) {
                    keys[m++] = ((long) Float.floatToRawIntBits(w[t]) << 32) | t;
                }
            }
            Arrays.sort(keys, 0, m);
            double target = total * params.topP();
            double cum = 0;
            float boundary = 0f;
            for (int i = m - 1; i >= 0; i--) {
                boundary = Float.intBitsToFloat((int) (keys[i] >>> 32));
                cum += boundary;
                if (cum >= target) {
                    break;
                }
            }
            for (int t = 0; t < n; t++) {
                if (w[t] < boundary) {
                    w[t] = 0f;
                }
            }
        }
        float cut = (float) params.minP();
        double kept = 0;
        for (int t = 0; t < n; t++) {
            if (w[t] < cut) {
                w[t] = 0f;
            }
            kept += w[t];
        }
        float scale = (float) (1.0 / kept);
        for (int t = 0; t < n; t++) {
            w[t] *= scale;
        }
        return w;
    }

    static float[] row(String kind, int n, SplittableRandom r) {
        float[] x = new float[n];
        for (int t = 0; t < n; t++) {
            double g = r.nextGaussian();
            x[t] = switch (kind) {
                case "gaussian" -> (float) (g * 3);
                case "ties" -> Math.round(g * 4) / 2f; // about 25 distinct values
                case "masked" -> r.nextInt(10) == 0 ? Float.NEGATIVE_INFINITY : (float) (g * 3);
                case "mostly-masked" -> r.nextInt(n) < 5 ? (float) g : Float.NEGATIVE_INFINITY;
                case "huge" -> (float) (g * 1e6);
                case "offset" -> (float) (1e6 + g * 3); // float spacing 0.0625 at 1e6: scores collide
                case "tiny" -> (float) (g * 1e-7); // all weights round to about 1
                case "peaked" -> t == n / 3 ? 30f : (float) (g * 2);
                case "flat" -> (float) (g * 0.05);
                default -> throw new IllegalArgumentException(kind);
            };
        }
        if (kind.equals("mostly-masked")) {
            x[r.nextInt(n)] = 1f; // at least one finite score
        }
        return x;
    }

    static List<SamplingParams> everyCombination() {
        List<SamplingParams> all = new ArrayList<>();
        for (double temperature : TEMPERATURES) {
            for (int topK : TOP_KS) {
                for (double topP : TOP_PS) {
                    for (double minP : MIN_PS) {
                        all.add(SamplingParams.builder().temperature(temperature).topK(topK).topP(topP).minP(minP)
                                .build());
                    }
                }
            }
        }
        return all;
    }

    @Test
    void everyCombinationOnSmallAndMidSizeRows() {
        SplittableRandom r = new SplittableRandom(11);
        List<SamplingParams> all = everyCombination();
        for (int n : new int[]{10, 11, 57, 300, 1001, 4096}) {
            for (SamplingParams params : all) {
                SamplingTransform transform = new SamplingTransform(params, n);
                ReferenceSamplingTransform previous = new ReferenceSamplingTransform(params, n);
                for (String kind : KINDS) {
                    check(row(kind, n, r), params, transform, previous, kind);
                }
            }
        }
    }

    @Test
    void largeVocabulariesUnderSampledCombinations() {
        SplittableRandom r = new SplittableRandom(12);
        List<SamplingParams> all = everyCombination();
        for (int n : new int[]{32000, 151936, 10 + r.nextInt(151927)}) {
            for (int trial = 0; trial < 24; trial++) {
                SamplingParams params = all.get(r.nextInt(all.size()));
                SamplingTransform transform = new SamplingTransform(params, n);
                ReferenceSamplingTransform previous = new ReferenceSamplingTransform(params, n);
                // Two rows per transform, so the nucleus search starts from the previous row's size.
                for (int i = 0; i < 2; i++) {
                    String kind = KINDS[r.nextInt(KINDS.length)];
                    check(row(kind, n, r), params, transform, previous, kind);
                }
            }
        }
    }

    @Test
    void theReportedModesAtQwenVocabulary() {
        SplittableRandom r = new SplittableRandom(13);
        int n = 151_936;
        SamplingParams[] modes = {
                SamplingParams.builder().temperature(0.8).build(),
                SamplingParams.builder().temperature(0.8).topK(40).build(),
                SamplingParams.builder().temperature(0.8).topP(0.9).build(),
                SamplingParams.builder().temperature(0.8).minP(0.05).build(),
                SamplingParams.builder().temperature(0.8).topK(40).topP(0.9).minP(0.05).build(),
        };
        for (SamplingParams params : modes) {
            SamplingTransform transform = new SamplingTransform(params, n);
            ReferenceSamplingTransform previous = new ReferenceSamplingTransform(params, n);
            for (String kind : new String[]{"gaussian", "ties", "flat", "peaked", "gaussian"}) {
                check(row(kind, n, r), params, transform, previous, kind);
            }
        }
    }

    /** A nucleus larger than the search's first guess, after a row whose nucleus was small, must still be whole. */
    @Test
    void nucleusSearchWidensPastItsFirstGuess() {
        int n = 20_000;
        SamplingParams params = SamplingParams.builder().temperature(1).topP(0.95).build();
        SamplingTransform transform = new SamplingTransform(params, n);
        ReferenceSamplingTransform previous = new ReferenceSamplingTransform(params, n);
        SplittableRandom r = new SplittableRandom(14);
        check(row("peaked", n, r), params, transform, previous, "peaked");
        float[] flat = row("flat", n, r);
        Distribution d = check(flat, params, transform, previous, "flat");
        long support = countPositive(d);
        assertTrue(support > 15_000, "a flat row's 0.95-nucleus holds most tokens, got " + support);
    }

    /** Many tokens tied at the k-th score: all are kept, however many. */
    @Test
    void topKKeepsEveryTieEvenWhenTiesFillTheRow() {
        int n = 5000;
        float[] x = new float[n];
        Arrays.fill(x, 2f);
        x[17] = 3f;
        x[4000] = 1f;
        SamplingParams params = SamplingParams.builder().temperature(1).topK(3).build();
        Distribution d = new SamplingTransform(params, n).apply(Logits.of(x), 0, new Distribution(n));
        assertEquals(n - 1, countPositive(d));
        assertEquals(0f, d.prob(4000));
        assertEquals(17, d.argmax());
        assertEquals(fullSort(x, params)[0], d.prob(0), 1e-12);
    }

    private static Distribution check(float[] x, SamplingParams params, SamplingTransform transform,
                                      ReferenceSamplingTransform previous, String kind) {
        int n = x.length;
        Logits logits = Logits.of(x);
        Distribution got = transform.apply(logits, 0, new Distribution(n));
        float[] expected = fullSort(x, params);
        Distribution old = previous.apply(logits, 0, new Distribution(n));
        String what = params + ", " + kind + " row of " + n;
        int argmax = 0;
        double sum = 0;
        for (int t = 0; t < n; t++) {
            float p = got.prob(t);
            sum += p;
            if ((p > 0) != (expected[t] > 0) || (p > 0) != (old.prob(t) > 0)) {
                fail("support differs at token " + t + ": selection " + p + ", full sort " + expected[t]
                        + ", previous " + old.prob(t) + " (" + what + ")");
            }
            if (Math.abs(p - expected[t]) > 1e-6 * expected[t] || Math.abs(p - old.prob(t)) > 1e-6 * old.prob(t)) {
                fail("probability of token " + t + ": selection " + p + ", full sort " + expected[t] + ", previous "
                        + old.prob(t) + " (" + what + ")");
            }
            if (p > got.prob(argmax)) {
                argmax = t;
            }
        }
        assertEquals(argmax, got.argmax(), "argmax is the first most likely token (" + what + ")");
        assertEquals(1.0, sum, 1e-5, what);
        return got;
    }

    private static long countPositive(Distribution d) {
        long count = 0;
        for (float p : d.probabilities()) {
            if (p > 0) {
                count++;
            }
        }
        return count;
    }
}
