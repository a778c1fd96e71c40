package dev.specula.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A smoke run of {@code specula bench}, so the harness keeps working (the full run is a command, not CI). */
class BenchIT {
    @Test
    void quickRunWritesTableJsonAndReport(@TempDir Path tmp) throws Exception {
        Path json = tmp.resolve("bench.json");
        Path report = tmp.resolve("report");
        GenerateCommandIT.Run r = GenerateCommandIT.specula("bench", "--quick", "--max-new-tokens", "12",
                "--json", json.toString(), "--report", report.toString());
        assertEquals(0, r.exit(), "exit 0 also means every greedy output equalled plain decoding's\n" + r.err());
        assertTrue(r.out().contains("== code") && r.out().contains("== edit") && r.out().contains("== sampled"), r.out());
        assertTrue(r.out().contains("adaptive / best fixed k or heuristic"), r.out());
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertEquals(3, root.get("workloads").size());
        for (JsonNode w : root.get("workloads")) {
            JsonNode plain = w.get("configs").get(0);
            assertEquals("plain", plain.get("config").asText());
            assertEquals(1.0, plain.get("speedup").asDouble(), 1e-9);
            for (JsonNode c : w.get("configs")) {
                assertTrue(c.get("tokensPerSecond").asDouble() > 0, c.toString());
                assertTrue(c.get("outsideRuntime").asDouble() >= 0 && c.get("outsideRuntime").asDouble() < 1, c.toString());
                assertTrue(c.get("predicted").asDouble() > 0, c.toString());
                assertTrue(c.get("priced").asDouble() > 0, c.toString());
            }
            JsonNode cal = w.get("calibration");
            assertEquals(17, cal.get("positions").size(), cal.toString());
            assertTrue(cal.get("verifyNanos").get(0).asDouble() > 0 && cal.get("draftStepNanos").asDouble() > 0
                    && cal.get("noise").asDouble() >= 0, cal.toString());
        }
        String md = Files.readString(report.resolve("benchmarks.md"));
        assertTrue(md.contains("## code") && md.contains("The prediction") && md.contains("Calibration at"), md);
        assertTrue(root.get("schedulers").size() >= 3, root.get("schedulers").toString());
        for (JsonNode c : root.get("schedulers")) {
            assertTrue(c.get("pricedOverBest").asDouble() > 0, c.toString());
        }
        assertTrue(md.contains("priced: adaptive"), md);
        assertTrue(Files.size(report.resolve("benchmarks-speedup.png")) > 1000);
    }

    @Test
    void badOptionsExitWithTwo() throws Exception {
        assertEquals(2, GenerateCommandIT.specula("bench", "--workloads", "poetry").exit());
        assertEquals(2, GenerateCommandIT.specula("bench", "--repeats", "0").exit());
        assertEquals(2, GenerateCommandIT.specula("bench", "--prompts", "-1").exit());
        assertEquals(2, GenerateCommandIT.specula("bench", "--calibration-budget", "-5").exit());
    }
}
