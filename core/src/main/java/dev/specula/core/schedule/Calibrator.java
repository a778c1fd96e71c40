package dev.specula.core.schedule;

import dev.specula.core.model.CausalLanguageModel;
import dev.specula.core.model.ModelSequence;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongSupplier;
import java.util.stream.IntStream;

/**
 * Measures a model pair's costs ({@link CostCalibration}): the target's forward call over n positions (a
 * verification of n - 1 draft tokens) and the draft model's single-token step, at a given context length. After
 * one unrecorded pass (a fresh session's first calls are slow), every repeat measures every size once, in an order
 * rotated per repeat, each target call followed by a draft step, so slow drift of the machine spreads over all sizes
 * alike; costs are medians over repeats. The sequences are filled with seeded pseudo-random tokens (a call's cost
 * does not depend on which tokens it scores) and rolled back after each call, so every call sees the same context.
 *
 * <pre>{@code
 * CostCalibration quick = Calibrator.calibrate(target, draft, Calibrator.Plan.quick(64));       // at load time
 * CostCalibration full = Calibrator.calibrate(target, null, Calibrator.Plan.full(300, 200));    // a benchmark
 * }</pre>
 *
 * <p>The caller keeps owning the models; the calibrator opens and closes its own sequences.
 */
public final class Calibrator {

    /**
     * What to measure.
     *
     * @param contextLength  tokens in the sequences while measuring (clamped to what the models hold)
     * @param positions      the numbers of positions per target call to measure, ascending, starting at 1
     * @param repeats        measurements per size
     * @param prefillLength  also measure prefilling this many tokens (at most the context), once per repeat; 0 not
     */
    public record Plan(int contextLength, int[] positions, int repeats, int prefillLength) {
        public Plan {
            if (contextLength < 1) {
                throw new IllegalArgumentException("contextLength must be >= 1, got " + contextLength);
            }
            if (prefillLength < 0 || prefillLength > contextLength) {
                throw new IllegalArgumentException("prefillLength must be in [0, contextLength = " + contextLength
                        + "], got " + prefillLength);
            }
            if (positions.length == 0 || positions[0] != 1) {
                throw new IllegalArgumentException("positions must start at 1, got " + Arrays.toString(positions));
            }
            for (int i = 1; i < positions.length; i++) {
                if (positions[i] <= positions[i - 1]) {
                    throw new IllegalArgumentException("positions must ascend, got " + Arrays.toString(positions));
                }
            }
            if (repeats < 1) {
                throw new IllegalArgumentException("repeats must be >= 1, got " + repeats);
            }
            positions = positions.clone();
        }

        @Override
        public int[] positions() {
            return positions.clone();
        }

        /** Every size for drafts of 0..16 tokens, 9 repeats, and a prefill of {@code prefillLength}: for a benchmark. */
        public static Plan full(int contextLength, int prefillLength) {
            return new Plan(contextLength, IntStream.rangeClosed(1, 17).toArray(), 9, prefillLength);
        }

        /**
         * Eight sizes for drafts of 0..16 tokens (the rest interpolated), 3 repeats, no prefill: for seeding a
         * scheduler when models load (about 32 target calls).
         */
        public static Plan quick(int contextLength) {
            return new Plan(contextLength, new int[]{1, 2, 3, 4, 6, 9, 13, 17}, 3, 0);
        }
    }

    private Calibrator() {
    }

    /** Measures with the system's nanosecond clock; {@code draft} may be null (target costs only). */
    public static CostCalibration calibrate(CausalLanguageModel target, CausalLanguageModel draft, Plan plan) {
        return calibrate(target, draft, plan, System::nanoTime);
    }

    /** Measures with the given clock (nanoseconds). */
    public static CostCalibration calibrate(CausalLanguageModel target, CausalLanguageModel draft, Plan plan,
                                            LongSupplier clock) {
        int[] sizes = plan.positions();
        int maxPositions = sizes[sizes.length - 1];
        int room = Math.min(target.maxSequenceLength(), draft == null ? Integer.MAX_VALUE : draft.maxSequenceLength());
        if (room < maxPositions + 1) {
            throw new IllegalArgumentException("models hold " + room + " tokens; calibrating " + maxPositions
                    + " positions needs at least " + (maxPositions + 1));
        }
        int context = Math.min(plan.contextLength(), room - maxPositions);
        int prefillLength = Math.min(plan.prefillLength(), context);
        int vocab = Math.min(target.vocabSize(), draft == null ? Integer.MAX_VALUE : draft.vocabSize());
        SplittableRandom random = new SplittableRandom(0x5EEDL);
        int[] tokens = random.ints(context + maxPositions, 0, vocab).toArray();

        double[][] verify = new double[sizes.length][plan.repeats()];
        double[] draftSteps = new double[sizes.length * plan.repeats()];
        double[] prefill = new double[plan.repeats()];
        double[] draftPrefill = new double[plan.repeats()];
        try (ModelSequence t = target.newSequence();
             ModelSequence d = draft == null ? null : draft.newSequence()) {
            t.prefill(tokens, 0, context);
            if (d != null) {
                d.prefill(tokens, 0, context);
            }
            for (int n : sizes) { // warm-up pass, not recorded
                time(t, tokens, context, n, clock);
                if (d != null) {
                    time(d, tokens, context, 1, clock);
                }
            }
            for (int r = 0; r < plan.repeats(); r++) {
                if (prefillLength > 0) {
                    prefill[r] = timePrefill(t, tokens, prefillLength, context, clock);
                    if (d != null) {
                        draftPrefill[r] = timePrefill(d, tokens, prefillLength, context, clock);
                    }
                }
                for (int j = 0; j < sizes.length; j++) {
                    int i = (j + r) % sizes.length;
                    verify[i][r] = time(t, tokens, context, sizes[i], clock);
                    if (d != null) {
                        draftSteps[r * sizes.length + j] = time(d, tokens, context, 1, clock);
                    }
                }
            }
        }
        double[] medians = new double[sizes.length];
        List<double[]> samples = new ArrayList<>(Arrays.asList(verify));
        for (int i = 0; i < sizes.length; i++) {
            medians[i] = Math.max(1, quantile(verify[i], 0.5));
        }
        if (draft != null) {
            samples.add(draftSteps);
        }
        double[] spreads = samples.stream().mapToDouble(Calibrator::relativeIqr).toArray();
        double noise = quantile(samples.stream().mapToDouble(s -> 0.93 * relativeIqr(s) / Math.sqrt(s.length)).toArray(), 0.5);
        return new CostCalibration(context, sizes, medians, draft == null ? Double.NaN : quantile(draftSteps, 0.5),
                prefillLength,
                prefillLength > 0 ? quantile(prefill, 0.5) : Double.NaN,
                prefillLength > 0 && draft != null ? quantile(draftPrefill, 0.5) : Double.NaN,
                quantile(spreads, 0.5), noise, plan.repeats());
    }

    /** One forward call over {@code n} positions after the context, then a rollback to it. */
    private static double time(ModelSequence s, int[] tokens, int context, int n, LongSupplier clock) {
        long t0 = clock.getAsLong();
        s.append(tokens, context, n);
        long t1 = clock.getAsLong();
        s.rollback(context);
        return t1 - t0;
    }

    /** Prefills {@code length} tokens into an emptied sequence, timed, then refills it up to the context. */
    private static double timePrefill(ModelSequence s, int[] tokens, int length, int context, LongSupplier clock) {
        s.rollback(0);
        long t0 = clock.getAsLong();
        s.prefill(tokens, 0, length);
        double nanos = clock.getAsLong() - t0;
        if (length < context) {
            s.prefill(tokens, length, context - length);
        }
        return nanos;
    }

    private static double relativeIqr(double[] v) {
        double m = quantile(v, 0.5);
        return m <= 0 ? 0 : (quantile(v, 0.75) - quantile(v, 0.25)) / m;
    }

    /** The q-quantile by linear interpolation between order statistics. */
    static double quantile(double[] values, double q) {
        double[] s = values.clone();
        Arrays.sort(s);
        double pos = q * (s.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(s.length - 1, lo + 1);
        return s[lo] + (pos - lo) * (s[hi] - s[lo]);
    }
}
