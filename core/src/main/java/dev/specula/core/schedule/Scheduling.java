package dev.specula.core.schedule;

import dev.specula.core.model.CausalLanguageModel;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A draft-length policy: shared and thread-safe, it starts a {@link DraftScheduler} per generation.
 *
 * <pre>{@code
 * Scheduling.fixed(4);      // always draft 4 tokens
 * Scheduling.heuristic();   // Hugging Face's: +2 after a fully accepted draft, -1 otherwise
 * Scheduling.adaptive();    // maximizes measured tokens per second, including k = 0
 * Scheduling.adaptive(Calibrator.calibrate(target, draft, Calibrator.Plan.quick(64)));  // from the first step
 * }</pre>
 */
public interface Scheduling {

    DraftScheduler start();

    /** A short name for metrics and reports. */
    String name();

    /** Always {@code k} draft tokens; {@code fixed(0)} is plain decoding. */
    static Scheduling fixed(int k) {
        if (k < 0 || k > FixedScheduler.MAX_DRAFT_LENGTH) {
            throw new IllegalArgumentException("fixed draft length must be in [0, " + FixedScheduler.MAX_DRAFT_LENGTH
                    + "], got " + k);
        }
        return new Scheduling() {
            @Override
            public DraftScheduler start() {
                return new FixedScheduler(k);
            }

            @Override
            public String name() {
                return "fixed-" + k;
            }
        };
    }

    /** Hugging Face's heuristic schedule, starting at 5 tokens, between 1 and 16. */
    static Scheduling heuristic() {
        return heuristic(5, 16);
    }

    static Scheduling heuristic(int initial, int max) {
        if (max < 1 || max > FixedScheduler.MAX_DRAFT_LENGTH || initial < 1 || initial > max) {
            throw new IllegalArgumentException("heuristic needs 1 <= initial <= max <= " + FixedScheduler.MAX_DRAFT_LENGTH
                    + ", got initial " + initial + ", max " + max);
        }
        return new Scheduling() {
            @Override
            public DraftScheduler start() {
                return new HeuristicScheduler(initial, max);
            }

            @Override
            public String name() {
                return "heuristic";
            }
        };
    }

    /**
     * This policy made ready for a loaded model pair ({@code draft} may be null): the uncalibrated adaptive policy
     * measures the pair's costs ({@link Calibrator.Plan#quick}, tens of target calls), runs its own code over
     * simulated steps so that it is compiled before the first generation ({@link AdaptiveScheduler#exercise}), and
     * returns {@link #adaptive(AdaptiveScheduler.Options, CostCalibration)}; every other policy returns itself. Call it
     * once when the models load, not per generation.
     */
    default Scheduling forModels(CausalLanguageModel target, CausalLanguageModel draft) {
        return this;
    }

    /**
     * The throughput-maximizing scheduler with default options; it starts from its cost priors until
     * {@link #forModels} calibrates it.
     */
    static Scheduling adaptive() {
        return adaptive(AdaptiveScheduler.Options.defaults());
    }

    /** The throughput-maximizing scheduler, uncalibrated (see {@link #forModels}). */
    static Scheduling adaptive(AdaptiveScheduler.Options options) {
        return adaptive(options, null);
    }

    /** The throughput-maximizing scheduler with default options, its costs seeded from {@code calibration}. */
    static Scheduling adaptive(CostCalibration calibration) {
        return adaptive(AdaptiveScheduler.Options.defaults(), Objects.requireNonNull(calibration, "calibration"));
    }

    /**
     * The throughput-maximizing scheduler. The first generation starts from {@code calibration}'s costs (null: from
     * the cost priors); each later one starts from what the last finished generation of this policy learned (costs,
     * and acceptance as a weak prior), so a server's requests need no cold start.
     */
    static Scheduling adaptive(AdaptiveScheduler.Options options, CostCalibration calibration) {
        Objects.requireNonNull(options, "options");
        AtomicReference<AdaptiveScheduler.Snapshot> learned = new AtomicReference<>();
        return new Scheduling() {
            @Override
            public DraftScheduler start() {
                return new AdaptiveScheduler(options, calibration, learned.get(), learned::set);
            }

            @Override
            public String name() {
                return "adaptive";
            }

            @Override
            public Scheduling forModels(CausalLanguageModel target, CausalLanguageModel draft) {
                Calibrator.Plan quick = Calibrator.Plan.quick(64);
                int[] sizes = quick.positions();
                int room = Math.min(target.maxSequenceLength(),
                        draft == null ? Integer.MAX_VALUE : draft.maxSequenceLength());
                if (calibration != null || room <= sizes[sizes.length - 1]) {
                    return this; // calibrated already, or the models cannot hold a calibration's calls
                }
                CostCalibration measured = Calibrator.calibrate(target, draft, quick);
                AdaptiveScheduler.exercise(options, measured);
                return adaptive(options, measured);
            }
        };
    }
}
