package dev.specula.core.draft;

import dev.specula.core.StepOutcome;
import dev.specula.core.schedule.DraftPlan;

/**
 * Proposes draft tokens for one generation (the per-generation state of a {@link Drafter}: a draft model's
 * KV cache, say). Driven by one thread; closed by the decoding loop that started it.
 */
public interface DraftProposer extends AutoCloseable {

    /**
     * Proposes up to {@code plan.maxDraftTokens()} tokens to follow {@code context}. A model drafter may stop
     * early when its confidence in the next token falls under {@code plan.minConfidence()}.
     *
     * @return a proposal, possibly empty, never null
     */
    Proposal propose(TokenHistory context, DraftPlan plan);

    /**
     * Brings the proposer's state up to {@code context} (a draft model's prefill of the prompt). The decoding loop
     * calls it once, just before the first proposal of a generation that drafts at all, and counts its time as
     * prefill: a one-off cost that must not inflate a scheduler's estimate of the per-token draft cost.
     */
    default void prefill(TokenHistory context) {
    }

    /** Receives the outcome of verifying the last proposal (the same call every feedback receiver gets). */
    default void feedback(StepOutcome outcome) {
    }

    /** Called once when the generation ends, with everything it produced. */
    default void finish(TokenHistory output) {
    }

    @Override
    default void close() {
    }
}
