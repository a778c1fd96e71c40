package dev.specula.cli;

import dev.specula.core.StepOutcome;
import dev.specula.core.model.CausalLanguageModel;
import dev.specula.core.schedule.AdaptiveScheduler;
import dev.specula.core.schedule.DraftPlan;
import dev.specula.core.schedule.DraftScheduler;
import dev.specula.core.schedule.Scheduling;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * A draft-length policy that prints one line per decoding step of the policy it wraps (for {@code generate
 * --trace-steps}): the planned draft length, what was drafted and accepted, where the draft came from, the draft and
 * verify times, the time the scheduler itself took (plan and feedback), and the rest of the step (the loop's other
 * work: emitting, detokenizing, the drafter's feedback).
 */
final class StepTrace implements Scheduling {
    private final Scheduling inner;
    private final PrintStream out;
    private final LongSupplier clock;
    private final String label;
    private int generations;

    StepTrace(Scheduling inner, PrintStream out, LongSupplier clock, String label) {
        this.inner = inner;
        this.out = out;
        this.clock = clock;
        this.label = label;
    }

    @Override
    public Scheduling forModels(CausalLanguageModel target, CausalLanguageModel draft) {
        long t0 = clock.getAsLong();
        Scheduling ready = inner.forModels(target, draft);
        out.printf(Locale.ROOT, "trace %s: made ready for the models in %.1f ms%n", label, (clock.getAsLong() - t0) / 1e6);
        return new StepTrace(ready, out, clock, label);
    }

    @Override
    public DraftScheduler start() {
        DraftScheduler s = inner.start();
        out.printf("trace %s: generation %d%n", label, ++generations);
        out.printf("trace %s: step planned drafted accepted source draft_ms verify_ms sched_ms other_ms%n", label);
        return new DraftScheduler() {
            private int step;
            private long planEnd = -1;
            private long planNanos;

            @Override
            public DraftPlan plan() {
                long t0 = clock.getAsLong();
                DraftPlan p = s.plan();
                planEnd = clock.getAsLong();
                planNanos = planEnd - t0;
                return p;
            }

            @Override
            public void feedback(StepOutcome o) {
                long t0 = clock.getAsLong();
                s.feedback(o);
                long t1 = clock.getAsLong();
                // From the plan's end to this feedback: the draft, the verify and the loop's own work.
                long stepNanos = t0 - planEnd;
                long other = stepNanos - o.draftNanos() - o.verifyNanos();
                out.printf(Locale.ROOT, "trace %s: %d %d %d %d %s %.2f %.2f %.3f %.2f%n", label, ++step,
                        o.plan().maxDraftTokens(), o.verdict().drafted(), o.verdict().accepted(),
                        o.verdict().drafted() == 0 ? "-" : o.proposal().source(), o.draftNanos() / 1e6,
                        o.verifyNanos() / 1e6, (planNanos + t1 - t0) / 1e6, other / 1e6);
                if (s instanceof AdaptiveScheduler) {
                    out.printf("trace %s:   believes after step %d: %s%n", label, step, s);
                }
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
