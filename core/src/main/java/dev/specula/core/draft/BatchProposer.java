package dev.specula.core.draft;

import dev.specula.core.StepOutcome;
import dev.specula.core.schedule.DraftPlan;

/**
 * Proposes draft tokens for several generations stepped together (the batched form of {@link DraftProposer}): a
 * draft model makes ONE forward call of its {@link dev.specula.core.model.SequenceBatch} per draft position for all
 * rows still drafting; lookup drafters stay per-row CPU work. Rows join and leave between calls.
 *
 * <p>Not thread-safe: one engine thread drives it. Owned by whoever called {@link Drafter#startBatch}; {@code close()}
 * is idempotent and releases every row still held.
 */
public interface BatchProposer extends AutoCloseable {

    /**
     * Starts proposing for a new generation.
     *
     * @return the row's handle, valid until {@link #leave}
     */
    int join(DraftContext context);

    /**
     * Proposes for every listed row at once: up to {@code plans[i].maxDraftTokens()} tokens to follow
     * {@code histories[i]}, each row's plan at least 1.
     *
     * @return one proposal or failure per listed row, in order; proposals valid until the next call
     */
    BatchProposals propose(int[] rows, TokenHistory[] histories, DraftPlan[] plans);

    /** The outcome of verifying the row's last proposal. */
    default void feedback(int row, StepOutcome outcome) {
    }

    /** Called once when the row's generation ends normally, with everything it produced. */
    default void finish(int row, TokenHistory output) {
    }

    /** Removes the row and releases what it held. */
    void leave(int row);

    @Override
    void close();
}
