package dev.specula.core.schedule;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Measured costs of a model pair at one context length, from a {@link Calibrator}: what one target call over n
 * positions costs (the verification of n - 1 draft tokens; n = 1 is a plain decoding step), what the forward steps of
 * a draft cost, and how noisy those measurements were. Schedulers seed their cost estimates from it
 * ({@link Scheduling#adaptive(CostCalibration)}); the benchmark predicts speedups from it
 * ({@link #predictedSpeedup}).
 *
 * <pre>{@code
 * CostCalibration c = Calibrator.calibrate(target, draft, Calibrator.Plan.full(300, 200));   // draft may be null
 * double plainStep = c.verifyNanos(1);
 * double k4 = c.predictedSpeedup(0.7, 4, 4);   // Leviathan's tokens per step at a = 0.7, over the step's cost
 * }</pre>
 *
 * @param contextLength     tokens in the sequences when measured
 * @param positions         the measured numbers of verified positions, ascending, starting at 1
 * @param verifyNanos       wall time of one target call over {@code positions[i]} positions (the calibration plan's
 *                          quantile of its repeats, usually the median; non-decreasing in the positions)
 * @param draftStepNanos    wall time of the draft model's first single-token step after a target call (the same
 *                          quantile); NaN without a draft model
 * @param draftNextStepNanos wall time of each further step of the same draft (cheaper: the draft's weights are back in
 *                          the caches); NaN without a draft model
 * @param prefillLength     the prompt length whose prefill was measured; 0 if not measured
 * @param prefillNanos      median wall time of prefilling the target with that many tokens; NaN if not measured
 * @param draftPrefillNanos the same for the draft model; NaN if not measured or without a draft model
 * @param spread            the median over measured sizes of the relative interquartile range (IQR / median) of
 *                          single calls: how much one call varies
 * @param noise             the median over measured costs of the relative standard error of a median (about
 *                          0.93 IQR / (median sqrt(samples)) for near-normal samples): how far a calibrated cost may be off
 * @param repeats           measurements per size
 */
public record CostCalibration(int contextLength, int[] positions, double[] verifyNanos, double draftStepNanos,
                              double draftNextStepNanos, int prefillLength, double prefillNanos, double draftPrefillNanos, double spread, double noise,
                              int repeats) {

    public CostCalibration {
        if (contextLength < 0) {
            throw new IllegalArgumentException("contextLength must be >= 0, got " + contextLength);
        }
        if (positions.length == 0 || positions.length != verifyNanos.length) {
            throw new IllegalArgumentException("need one verify cost per measured size, got " + positions.length
                    + " sizes and " + verifyNanos.length + " costs");
        }
        if (positions[0] != 1) {
            throw new IllegalArgumentException("the first measured size must be 1 position (a plain step), got "
                    + positions[0]);
        }
        for (int i = 0; i < positions.length; i++) {
            if (i > 0 && positions[i] <= positions[i - 1]) {
                throw new IllegalArgumentException("measured sizes must ascend, got " + Arrays.toString(positions));
            }
            if (!(verifyNanos[i] > 0) || Double.isInfinite(verifyNanos[i])) {
                throw new IllegalArgumentException("verify cost of " + positions[i] + " positions must be finite and > 0, got "
                        + verifyNanos[i]);
            }
        }
        if (Double.isNaN(draftStepNanos) != Double.isNaN(draftNextStepNanos)
                || !Double.isNaN(draftStepNanos) && !(draftStepNanos >= 0 && draftStepNanos < Double.POSITIVE_INFINITY
                && draftNextStepNanos >= 0 && draftNextStepNanos < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("draft step costs must both be finite and >= 0, or both NaN without a"
                    + " draft model, got " + draftStepNanos + " and " + draftNextStepNanos);
        }
        if (!(spread >= 0) || !(noise >= 0)) {
            throw new IllegalArgumentException("spread and noise must be >= 0, got " + spread + ", " + noise);
        }
        if (prefillLength < 0 || prefillLength > 0 && !(prefillNanos >= 0)) {
            throw new IllegalArgumentException("a measured prefill needs a length >= 1 and a cost >= 0, got "
                    + prefillLength + " tokens, " + prefillNanos + " ns");
        }
        if (repeats < 1) {
            throw new IllegalArgumentException("repeats must be >= 1, got " + repeats);
        }
        positions = positions.clone();
        verifyNanos = verifyNanos.clone();
    }

    @Override
    public int[] positions() {
        return positions.clone();
    }

    @Override
    public double[] verifyNanos() {
        return verifyNanos.clone();
    }

    /** The most positions measured in one call. */
    public int maxPositions() {
        return positions[positions.length - 1];
    }

    /** Whether a draft model was measured. */
    public boolean hasDraftModel() {
        return !Double.isNaN(draftStepNanos);
    }

    /**
     * The cost of one target call over n positions: measured, or interpolated linearly between the nearest measured
     * sizes (extrapolated from the last two beyond the largest, never below the largest measured cost).
     */
    public double verifyNanos(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("a target call verifies at least 1 position, got " + n);
        }
        int i = Arrays.binarySearch(positions, n);
        if (i >= 0) {
            return verifyNanos[i];
        }
        int hi = -i - 1;
        if (hi == positions.length) {
            if (positions.length == 1) {
                return verifyNanos[0];
            }
            int a = positions.length - 2;
            int b = positions.length - 1;
            double slope = Math.max(0, (verifyNanos[b] - verifyNanos[a]) / (positions[b] - positions[a]));
            return verifyNanos[b] + slope * (n - positions[b]);
        }
        int lo = hi - 1;
        double t = (double) (n - positions[lo]) / (positions[hi] - positions[lo]);
        return verifyNanos[lo] + t * (verifyNanos[hi] - verifyNanos[lo]);
    }

    /** A plain decoding step: one target call over one position. */
    public double plainStepNanos() {
        return verifyNanos[0];
    }

    /**
     * The calibrated cost of one draft of {@code draftModelSteps} consecutive draft model steps after a target call:
     * the first step, then the cheaper further ones.
     */
    public double draftNanos(int draftModelSteps) {
        if (draftModelSteps < 0 || draftModelSteps > 0 && !hasDraftModel()) {
            throw new IllegalArgumentException("a draft of " + draftModelSteps + " draft model steps"
                    + (draftModelSteps < 0 ? " (must be >= 0)" : ", but no draft model was calibrated"));
        }
        return draftModelSteps == 0 ? 0 : draftStepNanos + (draftModelSteps - 1) * draftNextStepNanos;
    }

    /**
     * The calibrated cost of one speculative step: {@code draftModelSteps} forward steps of the draft model (0 for a
     * lookup draft) and one target call over k + 1 positions.
     */
    public double stepNanos(int k, int draftModelSteps) {
        return draftNanos(draftModelSteps) + verifyNanos(k + 1);
    }

    /**
     * Leviathan et al.'s expected tokens from a step that drafts k tokens, each accepted with probability a given
     * the ones before it were: (1 - a^(k+1)) / (1 - a).
     */
    public static double expectedTokens(double a, int k) {
        if (!(a >= 0 && a <= 1) || k < 0) {
            throw new IllegalArgumentException("need acceptance in [0, 1] and k >= 0, got " + a + ", " + k);
        }
        return a == 1 ? k + 1 : (1 - Math.pow(a, k + 1)) / (1 - a);
    }

    /**
     * The speedup over plain decoding that drafting k tokens every step predicts at per-position acceptance a:
     * expected tokens per step over the calibrated step cost, against one token per plain step.
     *
     * @param draftModelSteps draft model steps per step (k for a model draft, 0 for a lookup)
     */
    public double predictedSpeedup(double a, int k, int draftModelSteps) {
        return expectedTokens(a, k) / stepNanos(k, draftModelSteps) * plainStepNanos();
    }

    /**
     * The fixed draft length in [0, maxDraftLength] with the highest {@link #predictedSpeedup} at acceptance a: an
     * oracle a scheduler is compared with.
     *
     * @param modelDraft whether each draft token costs a draft model step (else drafts are free lookups)
     */
    public int bestFixedDraftLength(double a, boolean modelDraft, int maxDraftLength) {
        int best = 0;
        double bestSpeedup = 1;
        for (int k = 1; k <= maxDraftLength; k++) {
            double s = predictedSpeedup(a, k, modelDraft ? k : 0);
            if (s > bestSpeedup) {
                best = k;
                bestSpeedup = s;
            }
        }
        return best;
    }

    /**
     * One calibration from several passes of the same plan taken at different moments (before each repeat of a
     * benchmark and after the last, say): each cost is the median over the passes, so that it describes the machine
     * over the whole period rather than the moment of one pass. Its noise is the larger of the passes' own noise
     * over the square root of their number and the standard error of the median over passes (0.93 x IQR over
     * passes / (median sqrt(passes)), median over the costs): drift between passes counts as noise.
     *
     * @throws IllegalArgumentException when the passes measured different things (context, sizes, prefill, draft)
     */
    public static CostCalibration pooled(List<CostCalibration> passes) {
        if (passes.isEmpty()) {
            throw new IllegalArgumentException("need at least one calibration pass to pool");
        }
        CostCalibration first = passes.get(0);
        if (passes.size() == 1) {
            return first;
        }
        for (CostCalibration c : passes) {
            if (c.contextLength != first.contextLength || !Arrays.equals(c.positions, first.positions)
                    || c.prefillLength != first.prefillLength || c.hasDraftModel() != first.hasDraftModel()) {
                throw new IllegalArgumentException("calibration passes to pool must measure the same context, sizes,"
                        + " prefill and draft; got " + first + " and " + c);
            }
        }
        int n = passes.size();
        List<double[]> series = new ArrayList<>();
        double[] verify = new double[first.positions.length];
        for (int i = 0; i < verify.length; i++) {
            int size = i;
            double[] v = passes.stream().mapToDouble(c -> c.verifyNanos[size]).toArray();
            series.add(v);
            verify[i] = Calibrator.quantile(v, 0.5);
        }
        double draftFirst = Double.NaN;
        double draftNext = Double.NaN;
        if (first.hasDraftModel()) {
            double[] f = passes.stream().mapToDouble(CostCalibration::draftStepNanos).toArray();
            double[] x = passes.stream().mapToDouble(CostCalibration::draftNextStepNanos).toArray();
            series.add(f);
            series.add(x);
            draftFirst = Calibrator.quantile(f, 0.5);
            draftNext = Calibrator.quantile(x, 0.5);
        }
        double between = Calibrator.quantile(series.stream()
                .mapToDouble(v -> 0.93 * Calibrator.relativeIqr(v) / Math.sqrt(n)).toArray(), 0.5);
        double within = Calibrator.quantile(passes.stream().mapToDouble(CostCalibration::noise).toArray(), 0.5)
                / Math.sqrt(n);
        double prefill = medianOfMeasured(passes.stream().mapToDouble(CostCalibration::prefillNanos).toArray());
        double draftPrefill = medianOfMeasured(passes.stream().mapToDouble(CostCalibration::draftPrefillNanos).toArray());
        return new CostCalibration(first.contextLength, first.positions, Calibrator.nonDecreasing(verify), draftFirst,
                draftNext, first.prefillLength, prefill, draftPrefill,
                Calibrator.quantile(passes.stream().mapToDouble(CostCalibration::spread).toArray(), 0.5),
                Math.max(within, between), passes.stream().mapToInt(CostCalibration::repeats).sum());
    }

    /** The median of the values that are not NaN (passes that did not measure it); NaN if none did. */
    private static double medianOfMeasured(double[] values) {
        double[] measured = Arrays.stream(values).filter(v -> !Double.isNaN(v)).toArray();
        return measured.length == 0 ? Double.NaN : Calibrator.quantile(measured, 0.5);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CostCalibration c && contextLength == c.contextLength && Arrays.equals(positions, c.positions)
                && Arrays.equals(verifyNanos, c.verifyNanos) && Double.compare(draftStepNanos, c.draftStepNanos) == 0
                && Double.compare(draftNextStepNanos, c.draftNextStepNanos) == 0
                && prefillLength == c.prefillLength && Double.compare(prefillNanos, c.prefillNanos) == 0
                && Double.compare(draftPrefillNanos, c.draftPrefillNanos) == 0 && Double.compare(spread, c.spread) == 0
                && Double.compare(noise, c.noise) == 0 && repeats == c.repeats;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * contextLength + Arrays.hashCode(positions)) + Arrays.hashCode(verifyNanos);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("CostCalibration[context ").append(contextLength).append(", verify");
        for (int i = 0; i < positions.length; i++) {
            s.append(String.format(java.util.Locale.ROOT, " %d:%.3fms", positions[i], verifyNanos[i] / 1e6));
        }
        s.append(String.format(java.util.Locale.ROOT, ", draft step %.3fms then %.3fms, spread %.1f%%, noise %.1f%%,"
                + " %d repeats]", draftStepNanos / 1e6, draftNextStepNanos / 1e6, 100 * spread, 100 * noise, repeats));
        return s.toString();
    }
}
