package dev.specula.core.schedule;

/**
 * Whether speculation pays at a batch size, from measured whole steps rather than the cost model's prediction: per
 * row-count bucket (1, 2-3, 4-7, ..., powers of two, because rows join and leave every few steps) it keeps the
 * throughput of plain steps (nobody drafted) and of speculative steps, and speculates where speculative steps were
 * faster. Each step's throughput is taken relative to the plain throughput the cost model predicts at its row count
 * (tokens &times; V(R, 1) / R over the step's time), so steps of different row counts in one bucket compare; the
 * sums decay by {@value #DECAY} per step of the same kind, so the last few steps decide.
 *
 * <p>Exploration: a bucket first measures {@value #MIN_STEPS} speculative steps, then {@value #MIN_STEPS} plain ones;
 * afterwards the losing kind runs after 4, 8, 16, 32, then every {@value #MAX_INTERVAL} steps of the winner (the
 * interval restarts at 4 when the winner changes), so a change in acceptance or load is noticed at a bounded cost:
 * plain decoding for one step, speculation for two; and the winner runs at least as long as that many of the last
 * exploration's steps took (at 64 rows one speculative step can cost ten plain ones), so exploring takes about the
 * same share of the time however costly the losing kind's steps are. The first speculative step after
 * plain ones is not measured: its drafter first catches up with the tokens the plain steps produced, a cost
 * speculating steadily does not pay. A bucket whose nearest smaller measured bucket found plain steps faster starts
 * from plain decoding (a bigger batch is more compute-bound) and explores speculation on that schedule.
 *
 * <p>Not thread-safe: one engine's scheduler owns it.
 */
final class MeasuredGoodput {
    static final int MIN_STEPS = 3;
    static final int FIRST_INTERVAL = 4;
    static final int MAX_INTERVAL = 64;
    private static final double DECAY = 0.85;
    private static final int BUCKETS = 31;

    private final Bucket[] buckets = new Bucket[BUCKETS];
    private boolean lastSpeculative;

    /** Decayed evidence of one kind of step in one bucket. */
    private static final class Rate {
        double tokens; // relative tokens: tokens x V(R, 1) / R
        double nanos;
        int steps;

        void add(double relativeTokens, double stepNanos) {
            tokens = tokens * DECAY + relativeTokens;
            nanos = nanos * DECAY + stepNanos;
            steps++;
        }

        double rate() {
            return tokens / nanos;
        }
    }

    private static final class Bucket {
        final Rate plain = new Rate();
        final Rate speculative = new Rate();
        boolean speculationWon;
        int sinceExplored;
        int exploring;
        boolean compared;
        double winnerNanos;      // time of the winning kind's steps since the last exploration
        double explorationNanos; // time of the last exploration's steps
        int explorationSteps;
        int interval = FIRST_INTERVAL;
    }

    /** The bucket of a row count: floor(log2(rows)). */
    static int bucket(int rows) {
        if (rows < 1) {
            throw new IllegalArgumentException("rows must be >= 1, got " + rows);
        }
        return 31 - Integer.numberOfLeadingZeros(rows);
    }

    /**
     * Whether this step at {@code rows} rows should run the cost model's plan (true) or plain decoding (false), given
     * that the plan drafts. Counts the step towards the next exploration.
     */
    boolean speculate(int rows) {
        Bucket b = bucketOf(rows);
        boolean won;
        if (b.speculative.steps >= MIN_STEPS && b.plain.steps >= MIN_STEPS) {
            won = b.speculative.rate() > b.plain.rate();
        } else if (b.speculative.steps < MIN_STEPS && smallerBatchFoundPlainFaster(bucket(rows))) {
            // Bigger batches are more compute-bound: start from plain decoding and explore speculation as scheduled.
            won = b.speculative.steps > 0 && b.plain.steps > 0 && b.speculative.rate() > b.plain.rate();
        } else if (b.speculative.steps < MIN_STEPS) {
            return true;
        } else {
            return false;
        }
        b.compared = true;
        if (won != b.speculationWon) {
            b.speculationWon = won;
            b.interval = FIRST_INTERVAL;
            b.sinceExplored = 0;
            b.exploring = 0;
        }
        if (b.exploring > 0) {
            b.exploring--;
            return !won;
        }
        double explorationStep = b.explorationSteps == 0 ? 0 : b.explorationNanos / b.explorationSteps;
        if (++b.sinceExplored > b.interval && b.winnerNanos >= b.interval * explorationStep) {
            b.sinceExplored = 0;
            b.interval = Math.min(2 * b.interval, MAX_INTERVAL);
            b.exploring = won ? 0 : 1; // speculation is explored for two steps: the first one is not measured
            b.winnerNanos = 0;
            b.explorationNanos = 0;
            b.explorationSteps = 0;
            return !won;
        }
        return won;
    }

    /** Whether the nearest smaller bucket that measured both kinds of step found plain steps faster. */
    private boolean smallerBatchFoundPlainFaster(int bucket) {
        for (int i = bucket - 1; i >= 0; i--) {
            Bucket b = buckets[i];
            if (b != null && b.speculative.steps > 0 && b.plain.steps > 0) {
                return b.speculative.rate() < b.plain.rate();
            }
        }
        return false;
    }

    /**
     * Records a step.
     *
     * @param rows             rows that stepped
     * @param speculative      whether any of them drafted
     * @param tokens           tokens the step produced (accepted drafts and the target's own)
     * @param plainStepNanos   the cost model's time of a plain step at this row count, V(R, 1)
     * @param stepNanos        what the whole step took (planning, drafting, verification, handing out tokens)
     */
    void record(int rows, boolean speculative, int tokens, double plainStepNanos, double stepNanos) {
        boolean afterPlain = !lastSpeculative;
        lastSpeculative = speculative;
        Bucket b = bucketOf(rows);
        if (b.compared && stepNanos > 0) {
            if (speculative == b.speculationWon) {
                b.winnerNanos += stepNanos;
            } else {
                b.explorationNanos += stepNanos;
                b.explorationSteps++;
            }
        }
        if (stepNanos <= 0 || tokens <= 0 || !(plainStepNanos > 0) || speculative && afterPlain) {
            return; // the first speculative step after plain ones also pays the drafter's catch-up: not measured
        }
        (speculative ? b.speculative : b.plain).add(tokens * plainStepNanos / rows, stepNanos);
    }

    /**
     * Measured speculative throughput over plain throughput at this row count: above 1 where speculation paid; NaN
     * until both kinds were measured.
     */
    double speedup(int rows) {
        Bucket b = bucketOf(rows);
        return b.plain.steps == 0 || b.speculative.steps == 0 ? Double.NaN : b.speculative.rate() / b.plain.rate();
    }

    private Bucket bucketOf(int rows) {
        int i = bucket(rows);
        Bucket b = buckets[i];
        if (b == null) {
            b = new Bucket();
            buckets[i] = b;
        }
        return b;
    }
}
