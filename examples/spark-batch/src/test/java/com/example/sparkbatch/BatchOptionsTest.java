package com.example.sparkbatch;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BatchOptionsTest {
    @Test
    void defaultsToTheEmbeddedPairAndJsonLines() {
        BatchOptions o = BatchOptions.parse("--input", "in.jsonl", "--output", "out");
        assertEquals(new BatchOptions("in.jsonl", "out", BatchOptions.OutputFormat.JSON, ModelSource.embedded(), 128,
                0, 0, false), o);
        assertTrue(o.models().isEmbedded());
    }

    @Test
    void parsesEveryOption() {
        BatchOptions o = BatchOptions.parse("--input", "in", "--output", "out", "--format", "parquet", "--target",
                "/m/t", "--draft", "/m/d", "--no-prompt-lookup", "--max-tokens", "32", "--seed", "-5",
                "--partitions", "8", "--overwrite");
        assertEquals(new BatchOptions("in", "out", BatchOptions.OutputFormat.PARQUET,
                new ModelSource("/m/t", "/m/d", false), 32, -5, 8, true), o);
    }

    @Test
    void errorsNameTheFlagAndTheValue() {
        assertMessage("--format must be json or parquet, got 'csv'",
                "--input", "i", "--output", "o", "--format", "csv");
        assertMessage("--max-tokens must be in [1, 2147483647], got 0", "--input", "i", "--output", "o",
                "--max-tokens", "0");
        assertMessage("--partitions must be an integer, got 'two'", "--input", "i", "--output", "o",
                "--partitions", "two");
        assertMessage("--output is required", "--input", "i");
        assertMessage("--seed needs a value", "--input", "i", "--output", "o", "--seed");
        assertMessage("--draft /d needs --target too (without both, the embedded pair is used)",
                "--input", "i", "--output", "o", "--draft", "/d");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BatchOptions.parse("--inptu", "i"))
                .getMessage().startsWith("unknown argument '--inptu'; expected one of --input"));
    }

    @Test
    void aMissingModelDirectoryIsNamed() {
        ModelSource source = new ModelSource("/no/such/target", null, true);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, source::load);
        assertTrue(e.getMessage().startsWith("target model directory /no/such/target does not exist"),
                e.getMessage());
    }

    private static void assertMessage(String expected, String... args) {
        assertEquals(expected, assertThrows(IllegalArgumentException.class, () -> BatchOptions.parse(args))
                .getMessage());
    }
}
