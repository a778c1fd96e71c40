package dev.specula.cli.bench;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Limiting the shipped workloads' prompts (bench --prompts), for large models. */
class WorkloadTest {

    @Test
    void promptLimitKeepsTheFirstPromptsOfEachWorkload() {
        List<Workload> all = Workload.load(List.of("code", "edit"), false, 0);
        List<Workload> three = Workload.load(List.of("code", "edit"), false, 0, 3);
        for (int i = 0; i < all.size(); i++) {
            assertEquals(all.get(i).prompts().subList(0, 3), three.get(i).prompts());
            assertEquals(all.get(i).params(), three.get(i).params());
        }
        assertEquals(all, Workload.load(List.of("code", "edit"), false, 0, 0), "0 keeps every prompt");
        assertEquals(all.get(0).prompts(), Workload.load(List.of("code"), false, 0, 1000).get(0).prompts());
        assertEquals(1, Workload.load(List.of("code"), true, 0, 1).get(0).prompts().size(), "the smaller of the two");
        assertEquals(2, Workload.load(List.of("code"), true, 0, 5).get(0).prompts().size(), "quick keeps 2");
        assertThrows(IllegalArgumentException.class, () -> Workload.load(List.of("code"), false, 0, -1));
    }
}
