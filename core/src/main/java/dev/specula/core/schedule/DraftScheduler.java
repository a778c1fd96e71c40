package dev.specula.core.schedule;

import dev.specula.core.StepOutcome;

/**
 * Chooses the draft length (and an early-stop confidence) step by step for one generation. Created by a
 * {@link Scheduling} per generation; driven by one thread.
 */
public interface DraftScheduler {

    /** The plan for the next step. */
    DraftPlan plan();

    /** Receives the outcome of the step just verified. */
    void feedback(StepOutcome outcome);

    /** Called once when the generation completes (not when it fails): a scheduler may pass on what it learned. */
    default void finish() {
    }
}
