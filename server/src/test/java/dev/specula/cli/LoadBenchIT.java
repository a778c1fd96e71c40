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
}
