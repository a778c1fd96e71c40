package dev.specula.core.schedule;

import dev.specula.core.StepOutcome;

/**
 * Chooses the draft length of every row of a batched engine, step by step. Created by a {@link BatchScheduling} per
 * engine; driven by the engine's one thread. Rows are the engine's handles.
 */
public interface BatchScheduler {

    /** A row joins the batch. */
    void join(int row);

    /**
     * The plans for the rows about to step, in order.
     *
     * @param rows the rows stepping now, all joined
     */
    DraftPlan[] plan(int[] rows);

    /**
     * The outcome of the step just run.
     *
     * @param rows     the rows that stepped, in order (a row that failed during the step is missing)
     * @param outcomes {@code outcomes[i]} for {@code rows[i]}; its times are those of the batched calls
     * @param costs    what the step's batched calls cost
     */
    void feedback(int[] rows, StepOutcome[] outcomes, BatchStepCosts costs);

    /**
     * A row leaves the batch.
     *
     * @param completed true when its generation ended normally (not failed), so what it taught may be kept
     */
    void leave(int row, boolean completed);
}
