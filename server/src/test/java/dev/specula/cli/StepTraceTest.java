package dev.specula.cli;

import dev.specula.core.StepOutcome;
import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.Proposal;
import dev.specula.core.schedule.DraftPlan;
import dev.specula.core.schedule.DraftScheduler;
import dev.specula.core.schedule.Scheduling;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** generate --trace-steps: one line per step with the wrapped policy's plan and the step's outcome and times. */
class StepTraceTest {

    @Test
    void printsEachStepsPlanOutcomeAndTimesAndPassesEverythingThrough() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        long[] now = {0};
        // Each clock read advances 1 ms: plan takes 1 ms; feedback reads twice around the wrapped call.
        StepTrace trace = new StepTrace(Scheduling.fixed(3), new PrintStream(bytes, true, StandardCharsets.UTF_8),
                () -> now[0] += 1_000_000, "fixed-3");
        DraftScheduler s = trace.start();
        DraftPlan plan = s.plan();
        assertEquals(3, plan.maxDraftTokens(), "the wrapped policy's plan");
        now[0] += 10_000_000; // the draft (4 ms) and the verify (5 ms) and 1 ms of other work
        s.feedback(new StepOutcome(plan, new Proposal(new int[3], null, null, 3, "model:draft"), new Verdict(3, 2, 0),
                4_000_000, 5_000_000));
        String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals("trace fixed-3: generation 1", lines[0]);
        assertEquals("trace fixed-3: step planned drafted accepted source draft_ms verify_ms sched_ms other_ms", lines[1]);
        // step 1: planned 3, drafted 3, accepted 2; 2 ms in the scheduler (plan, feedback); 11 ms from the plan's
        // end to the feedback minus 9 ms of draft and verify leaves 2 ms.
        assertEquals("trace fixed-3: 1 3 3 2 model:draft 4.00 5.00 2.000 2.00", lines[2]);
        assertEquals("fixed-3", trace.name());
    }
}
