package dev.specula.cli.bench;

import dev.specula.core.schedule.Calibrator;
import dev.specula.core.schedule.CostCalibration;

import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;

/**
 * Sizes a workload's calibration to a time budget, so that a 1B-parameter target (a step of 0.2-0.5 s on 2 cores)
 * calibrates in minutes, not the better part of an hour, while a small pair keeps the full plan. A pilot calibration
 * (one plain step, one 17-position call, a draft of two steps and one prefill, measured once after a warm-up call of each)
 * prices every candidate plan; the first that fits is chosen:
 * <ol>
 *     <li>{@link Calibrator.Plan#full}: every size for drafts of 0..16 tokens, 9 repeats;</li>
 *     <li>{@link #SPARSE} sizes (drafts of 0..6, 8, 12 and 16 tokens; {@link CostCalibration#verifyNanos(int)}
 *     interpolates the others), with as many repeats as fit, from 9 down to {@link #MIN_REPEATS};</li>
 *     <li>the sparse sizes with {@link #MIN_REPEATS} repeats even when they overrun: a median and a spread need
 *     that many.</li>
 * </ol>
 * Every candidate measures the same things (each verify size, the draft steps, the prefill), so the calibrated
 * bound means the same whichever is chosen; a smaller plan only has more noise, which the calibration reports.
 * Nothing here looks at a timed run: the pilot is a calibration of its own.
 */
public final class CalibrationPlanner {
    /** Verify sizes of the sparse plan: dense where draft lengths usually end up, every fourth beyond. */
    public static final int[] SPARSE = {1, 2, 3, 4, 5, 6, 7, 9, 13, 17};
    /** Fewest repeats of a plan: a median of three and an interquartile range. */
    public static final int MIN_REPEATS = Calibrator.MIN_REPEATS;
    /** The positions a pilot measures: the smallest and the largest call of every plan. */
    static final int[] PILOT_SIZES = {1, 17};
    /** Draft steps after each target call of every plan: as many as the longest draft. */
    static final int DRAFT_RUN = 16;

    private CalibrationPlanner() {
    }

    /** The chosen plan, what it is expected to cost, and why it was chosen (for the progress log and reports). */
    public record Choice(Calibrator.Plan plan, double estimatedSeconds, String reason) {
    }

    /** The pilot: warm-up passes, then one measured call of each {@link #PILOT_SIZES} size, each with its draft, one prefill. */
    public static Calibrator.Plan pilot(int contextLength, int prefillLength) {
        return new Calibrator.Plan(contextLength, PILOT_SIZES.clone(), 1, prefillLength, 2, 0.5, 0);
    }

    /**
     * The largest plan whose estimated cost fits {@code budget}, priced from {@code pilot}'s costs (target calls
     * interpolated linearly between its sizes; the prefill of the calibration's context priced per token from the
     * pilot's measured prefill, or as that many plain steps when none was measured).
     *
     * @param budget the time the calibration may take; {@link Duration#ZERO} for the full plan whatever it costs
     */
    public static Choice choose(CostCalibration pilot, int contextLength, int prefillLength, Duration budget) {
        if (budget.isNegative()) {
            throw new IllegalArgumentException("budget must be >= 0 (0 for the full plan), got " + budget);
        }
        Calibrator.Plan full = Calibrator.Plan.full(contextLength, prefillLength);
        double fullSeconds = seconds(pilot, full);
        double budgetSeconds = budget.toNanos() / 1e9;
        if (budget.isZero() || fullSeconds <= budgetSeconds) {
            return new Choice(full, fullSeconds, budget.isZero() ? "full plan (no budget)"
                    : String.format(Locale.ROOT, "full plan: about %.0f s, within the %.0f s budget", fullSeconds,
                    budgetSeconds));
        }
        for (int repeats = full.repeats(); repeats >= MIN_REPEATS; repeats--) {
            Calibrator.Plan sparse = new Calibrator.Plan(contextLength, SPARSE, repeats, prefillLength, DRAFT_RUN, 0.5, 0);
            double s = seconds(pilot, sparse);
            if (s <= budgetSeconds) {
                return new Choice(sparse, s, String.format(Locale.ROOT, "sparse sizes %s, %d repeats: about %.0f s"
                                + " (the full plan would take about %.0f s, over the %.0f s budget)",
                        Arrays.toString(SPARSE), repeats, s, fullSeconds, budgetSeconds));
            }
        }
        Calibrator.Plan least = new Calibrator.Plan(contextLength, SPARSE, MIN_REPEATS, prefillLength, DRAFT_RUN, 0.5, 0);
        double s = seconds(pilot, least);
        return new Choice(least, s, String.format(Locale.ROOT, "sparse sizes %s, %d repeats: about %.0f s, over the"
                + " %.0f s budget (no smaller plan gives a median and a spread)", Arrays.toString(SPARSE), MIN_REPEATS, s,
                budgetSeconds));
    }

    /**
     * What {@code plan} costs at {@code pilot}'s prices: the prefill of the context into target and draft, warm-up
     * passes (each size once, each followed by its draft) until {@link Calibrator#WARM_UP_NANOS} have passed, then per
     * repeat each size with its draft, the plain step's extra calls ({@link Calibrator#PLAIN_RUN}) and one measured
     * prefill of the prompt length into each model.
     */
    static double seconds(CostCalibration pilot, Calibrator.Plan plan) {
        double draftStep = pilot.hasDraftModel() ? pilot.draftStepNanos() : 0;
        double pass = 0;
        for (int n : plan.positions()) {
            pass += pilot.verifyNanos(n) + (pilot.hasDraftModel() ? pilot.draftNanos(plan.draftSteps(n)) : 0);
        }
        double warmUp = Math.max(1, Math.ceil(Calibrator.WARM_UP_NANOS / pass)) * pass; // whole passes, >= 300 ms
        double plainRun = (Calibrator.PLAIN_RUN - 1) * pilot.verifyNanos(1); // a repeat's extra plain calls
        double perToken = pilot.prefillLength() > 0 ? pilot.prefillNanos() / pilot.prefillLength() : pilot.verifyNanos(1);
        double draftPerToken = !pilot.hasDraftModel() ? 0 : pilot.prefillLength() > 0 && !Double.isNaN(pilot.draftPrefillNanos())
                ? pilot.draftPrefillNanos() / pilot.prefillLength() : draftStep;
        double contextPrefill = plan.contextLength() * (perToken + draftPerToken);
        double prefill = plan.prefillLength() * (perToken + draftPerToken);
        return (contextPrefill + warmUp + plan.repeats() * (pass + plainRun + prefill)) / 1e9;
    }
}
