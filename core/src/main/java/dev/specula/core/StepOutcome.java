package dev.specula.core;

import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.Proposal;
import dev.specula.core.schedule.DraftPlan;

/**
 * Everything one decoding step measured, handed to every feedback receiver (drafters and schedulers) through
 * one method signature.
 *
 * @param plan        the plan the drafter was given (the scheduler's, capped by the tokens left)
 * @param proposal    what the drafter proposed (its distributions are valid only during the feedback call)
 * @param verdict     what the target kept
 * @param draftNanos  wall time spent proposing
 * @param verifyNanos wall time of the verification: one target call over k+1 positions, acceptance, rollback
 */
public record StepOutcome(DraftPlan plan, Proposal proposal, Verdict verdict, long draftNanos, long verifyNanos) {
}
