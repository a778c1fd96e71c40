package dev.specula.cli.bench;

import dev.specula.core.StepOutcome;
import dev.specula.core.schedule.DraftPlan;
import dev.specula.core.schedule.DraftScheduler;
import dev.specula.core.schedule.Scheduling;

import java.util.ArrayList;
import java.util.List;

/**
 * A draft-length policy that records what every step drafted and kept, passing everything else to the policy it
 * wraps: the counts the calibrated bound is computed from (never the step's clock). One generation at a time.
 */
public final class StepLog implements Scheduling {

    /**
     * One decoding step.
     *
     * @param source     where the draft came from ({@link dev.specula.core.draft.Proposal#source()}); "" if none
     * @param drafted    draft tokens verified
     * @param accepted   of them accepted
     * @param modelCalls forward steps of the draft model it took (0 for a lookup)
     */
    public record Step(String source, int drafted, int accepted, int modelCalls) {
    }

    private final Scheduling inner;
    private List<Step> steps = new ArrayList<>();

    StepLog(Scheduling inner) {
        this.inner = inner;
    }

    /** The steps recorded since the last call. */
    List<Step> take() {
        List<Step> out = steps;
        steps = new ArrayList<>();
        return List.copyOf(out);
    }

    @Override
    public DraftScheduler start() {
        DraftScheduler s = inner.start();
        return new DraftScheduler() {
            @Override
            public DraftPlan plan() {
                return s.plan();
            }

            @Override
            public void feedback(StepOutcome o) {
                int drafted = o.verdict().drafted();
                steps.add(new Step(drafted == 0 ? "" : o.proposal().source(), drafted, o.verdict().accepted(),
                        drafted == 0 ? 0 : o.proposal().modelCalls()));
                s.feedback(o);
            }

            @Override
            public void finish() {
                s.finish();
            }
        };
    }

    @Override
    public String name() {
        return inner.name();
    }
}
