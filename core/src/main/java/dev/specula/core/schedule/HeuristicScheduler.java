package dev.specula.core.schedule;

import dev.specula.core.StepOutcome;

/**
 * Hugging Face's "heuristic" schedule for assisted generation: two more draft tokens after a fully accepted
 * draft, one fewer otherwise, never below 1.
 */
public final class HeuristicScheduler implements DraftScheduler {
    private final int max;
    private int k;

    public HeuristicScheduler(int initial, int max) {
        this.k = initial;
        this.max = max;
    }

    @Override
    public DraftPlan plan() {
        return DraftPlan.of(k);
    }

    @Override
    public void feedback(StepOutcome outcome) {
        if (outcome.verdict().drafted() == 0) {
            return; // nothing was proposed: no evidence either way
        }
        if (outcome.verdict().allAccepted() && outcome.verdict().drafted() >= outcome.plan().maxDraftTokens()) {
            k = Math.min(max, k + 2);
        } else {
            k = Math.max(1, k - 1);
        }
    }
}
