package dev.specula.core.schedule;

import dev.specula.core.model.CausalLanguageModel;

import java.util.Objects;

/**
 * A draft-length policy for generations stepped together: shared and thread-safe, it starts a {@link BatchScheduler}
 * per batched engine.
 *
 * <pre>{@code
 * BatchScheduling.perRow(Scheduling.fixed(4));   // every row drafts 4, each row its own DraftScheduler
 * BatchScheduling.goodput();                      // lengths that maximize the batch's accepted tokens per second
 * }</pre>
 */
public interface BatchScheduling {

    /** A scheduler for one engine holding at most {@code capacity} rows. */
    BatchScheduler start(int capacity);

    /** A short name for metrics and reports. */
    String name();

    /**
     * This policy made ready for a loaded model pair ({@code draft} may be null), e.g. seeded with measured costs of
     * batched calls; policies that need nothing return themselves. Call it once when the models load.
     */
    default BatchScheduling forModels(CausalLanguageModel target, CausalLanguageModel draft, int capacity) {
        return this;
    }

    /**
     * Draft lengths that maximize the batch's expected accepted tokens per second ({@link GoodputScheduler}), from
     * default cost priors until {@link #forModels} calibrates it; every engine started from the calibrated policy
     * begins with the measured costs and keeps measuring.
     */
    static BatchScheduling goodput() {
        return goodput(GoodputScheduler.Options.defaults(), null);
    }

    /**
     * The goodput policy with these options, seeded from {@code calibrated}'s measurements (null: from the priors, and
     * {@link #forModels} measures them).
     */
    static BatchScheduling goodput(GoodputScheduler.Options options, BatchCostModel calibrated) {
        Objects.requireNonNull(options, "options");
        return new BatchScheduling() {
            @Override
            public BatchScheduler start(int capacity) {
                return new GoodputScheduler(options, calibrated == null ? BatchCostModel.defaults()
                        : calibrated.copy());
            }

            @Override
            public String name() {
                return options.measuredSteps() ? "goodput" : "goodput-cost-model-only";
            }

            @Override
            public BatchScheduling forModels(CausalLanguageModel target, CausalLanguageModel draft, int capacity) {
                if (calibrated != null || draft == null) {
                    return this; // measured already, or nothing to draft with (lookups cost no model calls)
                }
                return goodput(options, BatchCalibrator.calibrate(target, draft, capacity, System::nanoTime));
            }
        };
    }

    /**
     * {@code single}'s own scheduler for a generation while it runs alone (so one stream decodes exactly as it would
     * unbatched), goodput scheduling of the batch ({@link #goodput}) while several run.
     */
    static BatchScheduling goodputOr(Scheduling single) {
        return goodputOr(single, GoodputScheduler.Options.defaults(), null);
    }

    /** {@link #goodputOr(Scheduling)} with these goodput options. */
    static BatchScheduling goodputOr(Scheduling single, GoodputScheduler.Options options) {
        return goodputOr(single, Objects.requireNonNull(options, "options"), null);
    }

    private static BatchScheduling goodputOr(Scheduling single, GoodputScheduler.Options options,
                                             BatchCostModel calibrated) {
        Objects.requireNonNull(single, "single");
        BatchScheduling goodput = goodput(options, calibrated);
        return new BatchScheduling() {
            @Override
            public BatchScheduler start(int capacity) {
                return new SingleRowAwareScheduler(single, (GoodputScheduler) goodput.start(capacity));
            }

            @Override
            public String name() {
                return single.name() + "-alone-" + goodput.name() + "-batched";
            }

            @Override
            public BatchScheduling forModels(CausalLanguageModel target, CausalLanguageModel draft, int capacity) {
                if (calibrated != null || draft == null) {
                    return this;
                }
                return goodputOr(single.forModels(target, draft), options,
                        BatchCalibrator.calibrate(target, draft, capacity, System::nanoTime));
            }
        };
    }

    /**
     * Each row schedules itself with its own {@link DraftScheduler} from {@code scheduling}, fed the batch's
     * outcomes for that row. Right for fixed and heuristic lengths; a cost-measuring policy sees batch call times.
     */
    static BatchScheduling perRow(Scheduling scheduling) {
        Objects.requireNonNull(scheduling, "scheduling");
        return new BatchScheduling() {
            @Override
            public BatchScheduler start(int capacity) {
                return new PerRowBatchScheduler(scheduling);
            }

            @Override
            public String name() {
                return "per-row-" + scheduling.name();
            }
        };
    }
}
