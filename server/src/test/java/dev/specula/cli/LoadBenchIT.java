package dev.specula.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A smoke run of {@code specula bench --workloads load}: the table, the report, identical outputs. */
class LoadBenchIT {
    @Test
    void quickLoadRunPrintsAndWritesTheTable(@TempDir Path tmp) throws Exception {
        Path report = tmp.resolve("report");
        GenerateCommandIT.Run r = GenerateCommandIT.specula("bench", "--workloads", "load", "--quick",
                "--max-new-tokens", "8", "--report", report.toString());
        assertEquals(0, r.exit(), "exit 0 also means every stream's output equalled plain decoding's\n" + r.err());
        long rows = r.out().lines().filter(l -> l.matches("\\| [0-9]+ \\| .*")).count();
        assertEquals(2 * 4, rows, "levels 1 and 4, four ways of serving each:\n" + r.out());
        assertTrue(r.out().contains("batched, speculative (goodput)") && r.out().contains("independent, plain"),
                r.out());
        assertTrue(Files.readString(report.resolve("load.md")).contains("TPOT p99"));
        assertEquals(2, GenerateCommandIT.specula("bench", "--workloads", "load,code").exit());
    }

    @Test
    void chosenLevelsAndModesRunRepeatedWithTheRatioToBatchedPlain() throws Exception {
        GenerateCommandIT.Run r = GenerateCommandIT.specula("bench", "--workloads", "load", "--streams", "3",
                "--configs", "batched", "--repeats", "2", "--max-new-tokens", "8");
        assertEquals(0, r.exit(), r.err());
        var rows = r.out().lines().filter(l -> l.matches("\\| [0-9]+ \\| .*")).toList();
        assertEquals(3, rows.size(), "3 streams; batched plain, speculative and the cost-model-only A/B mode:\n"
                + r.out());
        assertTrue(rows.stream().allMatch(l -> l.startsWith("| 3 | batched")), r.out());
        assertTrue(rows.get(0).contains("| batched, plain |") && rows.get(0).contains("| 1.00x |"), rows.get(0));
        assertTrue(rows.get(2).contains("cost model only"), rows.get(2));
        // At least 8 generations a level: 3 rounds of 3 streams, twice.
        assertTrue(rows.stream().allMatch(l -> l.contains("| 18 | yes |")), "2 repeats x 9 generations, identical:\n"
                + r.out());
        GenerateCommandIT.Run none = GenerateCommandIT.specula("bench", "--workloads", "load", "--configs", "nothing");
        assertEquals(2, none.exit(), none.err());
        assertTrue(none.err().contains("matches no load mode"), none.err());
    }
}
