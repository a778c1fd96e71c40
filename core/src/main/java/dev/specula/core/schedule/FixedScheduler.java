package dev.specula.core.schedule;

import dev.specula.core.StepOutcome;

/** Always the same draft length. */
public final class FixedScheduler implements DraftScheduler {
    /** The longest draft any scheduler asks for. */
    public static final int MAX_DRAFT_LENGTH = 64;

    private final DraftPlan plan;

    public FixedScheduler(int k) {
        this.plan = DraftPlan.of(k);
    }

    @Override
    public DraftPlan plan() {
        return plan;
    }

    @Override
    public void feedback(StepOutcome outcome) {
    }
}
