package dev.specula.cli;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A short version of {@code specula soak} (the full one runs 10,000 generations, outside CI). */
class SoakIT {
    @Test
    void residentMemoryAndFileDescriptorsStayFlat() throws Exception {
        GenerateCommandIT.Run r = GenerateCommandIT.specula("soak", "--generations", "600", "--samples", "30",
                "--max-new-tokens", "12", "--max-rss-slope-kib", "20000");
        assertEquals(0, r.exit(), r.out() + r.err());
        List<String> lines = r.out().lines().toList();
        assertTrue(lines.get(lines.size() - 1).startsWith("summary: 600 generations"), r.out());
        assertEquals(32, lines.size(), "header, 30 samples, summary");
    }
}
