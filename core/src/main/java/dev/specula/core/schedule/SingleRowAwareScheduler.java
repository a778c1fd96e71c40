package dev.specula.core.schedule;

import dev.specula.core.StepOutcome;

import java.util.HashMap;
import java.util.Map;

/**
 * Goodput scheduling for a batch, and a single generation's own scheduler while it runs alone: with one row the
 * batched step is the single-generation step, so the row is planned exactly as an unbatched generation would be
 * (e.g. {@link AdaptiveScheduler}, with its per-source lengths and early stop); with two rows or more the
 * {@link GoodputScheduler} plans the batch. Each row's own scheduler learns only from the steps it ran alone, where the
 * costs it measures are its own; the goodput scheduler learns from every step.
 */
final class SingleRowAwareScheduler implements BatchScheduler {
    private final Scheduling single;
    private final GoodputScheduler batch;
    private final Map<Integer, DraftScheduler> rows = new HashMap<>();

    SingleRowAwareScheduler(Scheduling single, GoodputScheduler batch) {
        this.single = single;
        this.batch = batch;
    }

    @Override
    public void join(int row) {
        batch.join(row);
        rows.put(row, single.start());
    }

    @Override
    public DraftPlan[] plan(int[] rowIds) {
        if (rowIds.length == 1) {
            DraftScheduler s = rows.get(rowIds[0]);
            if (s == null) {
                throw new IllegalArgumentException("row " + rowIds[0] + " has not joined this scheduler");
            }
            return new DraftPlan[]{s.plan()};
        }
        return batch.plan(rowIds);
    }

    @Override
    public void feedback(int[] rowIds, StepOutcome[] outcomes, BatchStepCosts costs) {
        batch.feedback(rowIds, outcomes, costs);
        if (rowIds.length == 1 && costs.verifyRows() == 1) {
            DraftScheduler s = rows.get(rowIds[0]);
            if (s != null) {
                s.feedback(outcomes[0]);
            }
        }
    }

    @Override
    public void leave(int row, boolean completed) {
        batch.leave(row, completed);
        DraftScheduler s = rows.remove(row);
        if (s != null && completed) {
            s.finish();
        }
    }
}
