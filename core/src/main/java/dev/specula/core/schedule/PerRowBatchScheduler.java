package dev.specula.core.schedule;

import dev.specula.core.StepOutcome;

import java.util.HashMap;
import java.util.Map;

/** Each row its own {@link DraftScheduler}; see {@link BatchScheduling#perRow}. */
final class PerRowBatchScheduler implements BatchScheduler {
    private final Scheduling scheduling;
    private final Map<Integer, DraftScheduler> rows = new HashMap<>();

    PerRowBatchScheduler(Scheduling scheduling) {
        this.scheduling = scheduling;
    }

    @Override
    public void join(int row) {
        rows.put(row, scheduling.start());
    }

    @Override
    public DraftPlan[] plan(int[] rowIds) {
        DraftPlan[] plans = new DraftPlan[rowIds.length];
        for (int i = 0; i < rowIds.length; i++) {
            plans[i] = scheduler(rowIds[i]).plan();
        }
        return plans;
    }

    @Override
    public void feedback(int[] rowIds, StepOutcome[] outcomes, BatchStepCosts costs) {
        for (int i = 0; i < rowIds.length; i++) {
            scheduler(rowIds[i]).feedback(outcomes[i]);
        }
    }

    @Override
    public void leave(int row, boolean completed) {
        DraftScheduler s = rows.remove(row);
        if (s != null && completed) {
            s.finish();
        }
    }

    private DraftScheduler scheduler(int row) {
        DraftScheduler s = rows.get(row);
        if (s == null) {
            throw new IllegalArgumentException("row " + row + " has not joined this scheduler; rows: " + rows.keySet());
        }
        return s;
    }
}
