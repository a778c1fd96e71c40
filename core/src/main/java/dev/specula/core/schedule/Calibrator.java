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
 * verification of n - 1 draft tokens) and the draft model's single-token steps, at a given context length. After
 * unrecorded warm-up passes (a fresh process's first calls are slow), every repeat measures every size once, in an
 * order rotated per repeat, so slow drift of the machine spreads over all sizes alike. As in speculative decoding, each
 * target call over n positions is followed by a draft of n - 1 tokens (at least 1, at most the plan's
 * {@code draftRun}), one step per token: the first step after a target call and the steps after it are measured
 * apart, because the first finds the draft's weights evicted from the CPU caches by the target. A cost is a quantile
 * of its repeats (the plan's); the verify costs are then made non-decreasing in n (pooling adjacent values that
 * violate it), since scoring more positions never costs less and a dip is noise. The sequences are filled with
 * seeded pseudo-random tokens (a call's cost does not depend on which tokens it scores) and rolled back after each
 * call, so every call sees the same context.
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
     * @param draftRun       the most draft steps measured after one target call (at least 2; a step after the first
     *                       is measured only after sizes of 3 positions and more, else it is priced as the first)
     * @param quantile       the quantile of a size's repeats that is its cost: the median for a benchmark's typical
     *                       cost, a lower one where other work may share the cores (a fresh process compiling its
     *                       code), since that only ever adds time
     * @param budgetNanos    repeats after the {@value #MIN_REPEATS}th start only while less than this has passed
     *                       since the warm-up began; 0: every repeat runs
     */
    public record Plan(int contextLength, int[] positions, int repeats, int prefillLength, int draftRun,
                       double quantile, long budgetNanos) {
        public Plan {
            if (budgetNanos < 0) {
                throw new IllegalArgumentException("budgetNanos must be >= 0 (0: no budget), got " + budgetNanos);
            }
            if (!(quantile > 0 && quantile <= 0.5)) {
                throw new IllegalArgumentException("quantile must be in (0, 0.5], got " + quantile);
            }
            if (draftRun < 2) {
                throw new IllegalArgumentException("draftRun must be >= 2, got " + draftRun);
            }
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

        /**
         * Every size for drafts of 0..16 tokens, each followed by a draft of as many tokens, 9 repeats, and a prefill
         * of {@code prefillLength}: for a benchmark.
         */
        public static Plan full(int contextLength, int prefillLength) {
            return new Plan(contextLength, IntStream.rangeClosed(1, 17).toArray(), 9, prefillLength, 16, 0.5, 0);
        }

        /**
         * Eight sizes for drafts of 0..16 tokens (the rest interpolated), drafts of at most 3 steps, 5 repeats (3 or 4
         * once a second has passed since the warm-up began: a 1B-parameter target's pass takes seconds), no prefill,
         * lower quartiles: for
         * seeding a scheduler when models load (50 target calls and 95 draft steps after at least 300 ms of warm-up
         * passes).
         * In a fresh command-line process the JIT compiles on the same cores meanwhile: single calls spread by up
         * to 35%, and medians of 3 repeats put the first extra positions' cost 0-20% over a plain step on the
         * embedded pair, where it is 0-5%, enough to switch speculation off at the acceptance a generation starts
         * with.
         */
        public static Plan quick(int contextLength) {
            return new Plan(contextLength, new int[]{1, 2, 3, 4, 6, 9, 13, 17}, 5, 0, 3, 0.25, 1_000_000_000L);
        }

        /** The draft steps measured after a target call over {@code n} positions. */
        public int draftSteps(int n) {
            return Math.max(1, Math.min(n - 1, draftRun));
        }
    }

    /**
     * Warm-up passes run until this much time has passed (one pass at least). In a fresh process the first few
     * hundred calls run partly interpreted while the JIT compiles on the same cores: after one pass, the quick plan
     * priced a call over 2 positions 8-19% over a plain step on the embedded pair, where it costs 0-5% more.
     */
    public static final long WARM_UP_NANOS = 300_000_000;
    /** Repeats a plan runs whatever its budget: a median and an interquartile range need three. */
    public static final int MIN_REPEATS = 3;
    /**
     * A plain step is measured as the last of this many consecutive single-position calls, as plain decoding runs
     * them, not right after a draft or a call of another size. The calibrated plain step was above what plain
     * decoding took per token in the same bench run (4.36 against 3.16 ms on the embedded pair; 3.45 against 2.89 ms
     * in the next run, with this rule), which overpriced plain decoding in the predicted speedups.
     */
    public static final int PLAIN_RUN = 3;

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
        int reach = Math.max(maxPositions, draft == null ? 0 : plan.draftSteps(maxPositions));
        int room = Math.min(target.maxSequenceLength(), draft == null ? Integer.MAX_VALUE : draft.maxSequenceLength());
        if (room < reach + 1) {
            throw new IllegalArgumentException("models hold " + room + " tokens; calibrating " + maxPositions
                    + " positions needs at least " + (reach + 1));
        }
        int context = Math.min(plan.contextLength(), room - reach);
        int prefillLength = Math.min(plan.prefillLength(), context);
        int vocab = Math.min(target.vocabSize(), draft == null ? Integer.MAX_VALUE : draft.vocabSize());
        SplittableRandom random = new SplittableRandom(0x5EEDL);
        int[] tokens = random.ints(context + reach, 0, vocab).toArray();

        double[][] verify = new double[sizes.length][plan.repeats()];
        double[] firstSteps = new double[sizes.length * plan.repeats()];
        int further = 0;
        for (int n : sizes) {
            further += plan.draftSteps(n) - 1;
        }
        double[] nextSteps = new double[further * plan.repeats()];
        int next = 0;
        double[] prefill = new double[plan.repeats()];
        double[] draftPrefill = new double[plan.repeats()];
        int repeats = 0;
        try (ModelSequence t = target.newSequence();
             ModelSequence d = draft == null ? null : draft.newSequence()) {
            t.prefill(tokens, 0, context);
            if (d != null) {
                d.prefill(tokens, 0, context);
            }
            double[] run = new double[plan.draftRun()];
            long warmUpStart = clock.getAsLong();
            do { // warm-up passes, not recorded
                for (int n : sizes) {
                    time(t, tokens, context, n, clock);
                    if (d != null) {
                        timeDraft(d, tokens, context, plan.draftSteps(n), run, clock);
                    }
                }
            } while (clock.getAsLong() - warmUpStart < WARM_UP_NANOS);
            for (int r = 0; r < plan.repeats(); r++) {
                if (r >= MIN_REPEATS && plan.budgetNanos() > 0 && clock.getAsLong() - warmUpStart >= plan.budgetNanos()) {
                    break;
                }
                repeats = r + 1;
                if (prefillLength > 0) {
                    prefill[r] = timePrefill(t, tokens, prefillLength, context, clock);
                    if (d != null) {
                        draftPrefill[r] = timePrefill(d, tokens, prefillLength, context, clock);
                    }
                }
                for (int j = 0; j < sizes.length; j++) {
                    int i = (j + r) % sizes.length;
                    verify[i][r] = time(t, tokens, context, sizes[i], clock);
                    for (int p = 1; sizes[i] == 1 && p < PLAIN_RUN; p++) {
                        verify[i][r] = time(t, tokens, context, 1, clock); // the last of a run of plain steps
                    }
                    if (d != null) {
                        int steps = plan.draftSteps(sizes[i]);
                        timeDraft(d, tokens, context, steps, run, clock);
                        firstSteps[r * sizes.length + j] = run[0];
                        System.arraycopy(run, 1, nextSteps, next, steps - 1);
                        next += steps - 1;
                    }
                }
            }
        }
        for (int i = 0; i < sizes.length; i++) {
            verify[i] = Arrays.copyOf(verify[i], repeats);
        }
        firstSteps = Arrays.copyOf(firstSteps, repeats * sizes.length);
        nextSteps = Arrays.copyOf(nextSteps, next);
        prefill = Arrays.copyOf(prefill, repeats);
        draftPrefill = Arrays.copyOf(draftPrefill, repeats);
        double[] medians = new double[sizes.length];
        List<double[]> samples = new ArrayList<>(Arrays.asList(verify));
        for (int i = 0; i < sizes.length; i++) {
            medians[i] = Math.max(1, quantile(verify[i], plan.quantile()));
        }
        medians = nonDecreasing(medians);
        if (draft != null) {
            samples.add(firstSteps);
            if (next > 0) {
                samples.add(nextSteps);
            }
        }
        double[] spreads = samples.stream().mapToDouble(Calibrator::relativeIqr).toArray();
        double noise = quantile(samples.stream().mapToDouble(s -> 0.93 * relativeIqr(s) / Math.sqrt(s.length)).toArray(), 0.5);
        return new CostCalibration(context, sizes, medians,
                draft == null ? Double.NaN : quantile(firstSteps, plan.quantile()),
                draft == null ? Double.NaN : quantile(next > 0 ? nextSteps : firstSteps, plan.quantile()), prefillLength,
                prefillLength > 0 ? quantile(prefill, 0.5) : Double.NaN,
                prefillLength > 0 && draft != null ? quantile(draftPrefill, 0.5) : Double.NaN,
                quantile(spreads, 0.5), noise, repeats);
    }

    /** One forward call over {@code n} positions after the context, then a rollback to it. */
    private static double time(ModelSequence s, int[] tokens, int context, int n, LongSupplier clock) {
        long t0 = clock.getAsLong();
        s.append(tokens, context, n);
        long t1 = clock.getAsLong();
        s.rollback(context);
        return t1 - t0;
    }

    /**
     * A draft of {@code steps} single-token forward steps after the context, each timed into {@code nanos}, then a
     * rollback to the context.
     */
    private static void timeDraft(ModelSequence s, int[] tokens, int context, int steps, double[] nanos,
                                  LongSupplier clock) {
        for (int i = 0; i < steps; i++) {
            long t0 = clock.getAsLong();
            s.append(tokens, context + i, 1);
            nanos[i] = clock.getAsLong() - t0;
        }
        s.rollback(context);
    }

    /**
     * The closest non-decreasing sequence to {@code v} in least squares (pool adjacent violators, equal weights):
     * each run of values that dips is replaced by its mean.
     */
    static double[] nonDecreasing(double[] v) {
        double[] mean = new double[v.length];
        int[] count = new int[v.length];
        int blocks = 0;
        for (double x : v) {
            mean[blocks] = x;
            count[blocks] = 1;
            blocks++;
            while (blocks > 1 && mean[blocks - 2] > mean[blocks - 1]) {
                int n = count[blocks - 2] + count[blocks - 1];
                mean[blocks - 2] = (mean[blocks - 2] * count[blocks - 2] + mean[blocks - 1] * count[blocks - 1]) / n;
                count[blocks - 2] = n;
                blocks--;
            }
        }
        double[] out = new double[v.length];
        for (int b = 0, i = 0; b < blocks; b++) {
            for (int j = 0; j < count[b]; j++) {
                out[i++] = mean[b];
            }
        }
        return out;
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

    /** IQR / median of {@code v} (0 for a median of 0). */
    static double relativeIqr(double[] v) {
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
