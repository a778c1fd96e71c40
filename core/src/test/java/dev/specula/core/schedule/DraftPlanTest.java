package dev.specula.core.schedule;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DraftPlanTest {
    @Test
    void sourcesGetTheirOwnPlanOrTheStepsPlan() {
        DraftPlan plan = new DraftPlan(12, 0.3, Map.of("lookup", DraftPlan.of(12), "model", new DraftPlan(3, 0.4)));
        assertEquals(12, plan.forSource("lookup").maxDraftTokens());
        assertEquals(3, plan.forSource("model").maxDraftTokens());
        assertEquals(0.4, plan.forSource("model").minConfidence());
        assertEquals(12, plan.forSource("other").maxDraftTokens());
        DraftPlan simple = DraftPlan.of(4);
        assertSame(simple, simple.forSource("anything"));
    }

    @Test
    void cappingShortensEverySource() {
        DraftPlan plan = new DraftPlan(12, 0, Map.of("lookup", DraftPlan.of(12), "model", DraftPlan.of(3)));
        DraftPlan capped = plan.capped(5);
        assertEquals(5, capped.maxDraftTokens());
        assertEquals(5, capped.forSource("lookup").maxDraftTokens());
        assertEquals(3, capped.forSource("model").maxDraftTokens());
        assertEquals(0, plan.capped(0).forSource("model").maxDraftTokens());
        assertSame(plan, plan.capped(20));
    }

    @Test
    void invalidPlansAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> DraftPlan.of(-1));
        assertThrows(IllegalArgumentException.class, () -> new DraftPlan(2, 1.5));
        assertThrows(IllegalArgumentException.class, () -> new DraftPlan(2, 0, Map.of("x", DraftPlan.of(3))));
    }
}
