package dev.specula.core.schedule;

/**
 * A draft-length policy: shared and thread-safe, it starts a {@link DraftScheduler} per generation.
 *
 * <pre>{@code
 * Scheduling.fixed(4);      // always draft 4 tokens
 * Scheduling.heuristic();   // Hugging Face's: +2 after a fully accepted draft, -1 otherwise
 * Scheduling.adaptive();    // maximizes measured tokens per second, including k = 0
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

    /** The throughput-maximizing scheduler with default options. */
    static Scheduling adaptive() {
        return adaptive(AdaptiveScheduler.Options.defaults());
    }

    /**
     * The throughput-maximizing scheduler. Each generation starts from what the last finished generation of this
     * policy learned (costs, and acceptance as a weak prior), so a server's requests need no cold start.
     */
    static Scheduling adaptive(AdaptiveScheduler.Options options) {
        java.util.concurrent.atomic.AtomicReference<AdaptiveScheduler.Snapshot> learned =
                new java.util.concurrent.atomic.AtomicReference<>();
        return new Scheduling() {
            @Override
            public DraftScheduler start() {
                return new AdaptiveScheduler(options, learned.get(), learned::set);
            }

            @Override
            public String name() {
                return "adaptive";
            }
        };
    }
}
