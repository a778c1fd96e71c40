package com.example.sparkbatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.specula.Completion;
import dev.specula.Specula;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.models.EmbeddedModels;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The batch job in Spark's local mode with two worker threads, on the embedded pair: every row's text must equal
 * what plain (non-speculative) decoding of the target gives for the same prompt and parameters in this JVM.
 */
class SparkBatchTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DEFAULT_MAX_TOKENS = 16;

    /** id, prompt, max_tokens (null = the job's default), temperature (null = greedy), seed (null = derived). */
    private record Prompt(String id, String prompt, Integer maxTokens, Double temperature, Long seed) {
    }

    private static final List<Prompt> PROMPTS = List.of(
            new Prompt("fib", "def fibonacci(n):", null, null, null),
            new Prompt("stack", "class Stack:", 24, null, null),
            new Prompt("loop", "for i in range(10):", null, null, null),
            new Prompt("read", "def read_file(path):", 32, null, null),
            new Prompt("sampled", "import os", 20, 0.8, 7L),
            new Prompt("sampled-no-seed", "def main():", 20, 0.8, null));

    private static SparkSession spark;
    private static Specula plain;

    @TempDir
    static Path dir;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("specula-batch-test")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", "2")
                .getOrCreate();
    }

    /**
     * The oracle: the target alone, no drafter, so no speculation. Loaded after a job has run, so that the job's
     * task thread is the first in this JVM to use ONNX Runtime, as on a real executor.
     */
    private static synchronized Specula plain() {
        if (plain == null) {
            plain = Specula.builder().target(EmbeddedModels.target()).build();
        }
        return plain;
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
        if (plain != null) {
            plain.close();
        }
        ExecutorSpecula.closeAll();
        ExecutorSpecula.closeAll(); // idempotent
    }

    @Test
    void generatesEveryPromptAsPlainDecodingWouldWithOneSpeculaForBothTasks() throws IOException {
        Path input = dir.resolve("prompts.jsonl");
        List<String> lines = new ArrayList<>();
        for (Prompt p : PROMPTS) {
            Map<String, Object> line = new HashMap<>();
            line.put("id", p.id());
            line.put("prompt", p.prompt());
            if (p.maxTokens() != null) {
                line.put("max_tokens", p.maxTokens());
            }
            if (p.temperature() != null) {
                line.put("temperature", p.temperature());
            }
            if (p.seed() != null) {
                line.put("seed", p.seed());
            }
            lines.add(JSON.writeValueAsString(line));
        }
        lines.add("{\"id\": \"no-prompt\"}");
        lines.add("{\"id\": \"bad-temperature\", \"prompt\": \"def f(x):\", \"temperature\": -1}");
        lines.add("{\"id\": \"bad-max-tokens\", \"prompt\": \"def f(x):\", \"max_tokens\": 0}");
        lines.add("{\"id\": \"broken\", \"prompt\": ");
        Files.write(input, lines, StandardCharsets.UTF_8);
        Path output = dir.resolve("out-json");

        ExecutorSpecula.closeAll();
        int loadsBefore = ExecutorSpecula.loads();
        BatchJob.BatchSummary summary = BatchJob.run(spark, BatchOptions.parse("--input", input.toString(),
                "--output", output.toString(), "--max-tokens", String.valueOf(DEFAULT_MAX_TOKENS),
                "--partitions", "2"));

        assertEquals(1, ExecutorSpecula.loads() - loadsBefore, "both tasks must share one Specula");
        List<Path> parts;
        try (Stream<Path> files = Files.list(output)) {
            parts = files.filter(f -> f.getFileName().toString().startsWith("part-")).sorted().toList();
        }
        assertEquals(2, parts.size(), "one part file per partition: " + parts);
        Map<String, JsonNode> rows = new HashMap<>();
        List<JsonNode> unnamed = new ArrayList<>();
        for (Path part : parts) {
            List<String> partLines = Files.readAllLines(part, StandardCharsets.UTF_8);
            assertFalse(partLines.isEmpty(), part + " is empty: the rows were not spread over both partitions");
            for (String line : partLines) {
                JsonNode row = JSON.readTree(line);
                if (row.hasNonNull("id")) {
                    assertNull(rows.put(row.get("id").asText(), row), "duplicate id " + row);
                } else {
                    unnamed.add(row);
                }
            }
        }
        assertEquals(lines.size(), rows.size() + unnamed.size());

        long tokens = 0;
        long accepted = 0;
        for (Prompt p : PROMPTS) {
            JsonNode row = rows.get(p.id());
            assertNotNull(row, "no output row for " + p.id());
            assertFalse(row.has("error"), p.id() + " failed: " + row);
            int requested = p.maxTokens() == null ? DEFAULT_MAX_TOKENS : p.maxTokens();
            SamplingParams.Builder params = SamplingParams.builder().maxNewTokens(requested);
            if (p.temperature() != null) {
                long seed = p.seed() != null ? p.seed() : GeneratePartition.derivedSeed(0, p.id());
                params.temperature(p.temperature()).seed(seed);
                assertEquals(seed, row.get("seed").asLong(), p.id() + " reports the seed it was sampled with");
            } else {
                assertFalse(row.has("seed"), "a greedy row has no seed: " + row);
            }
            Completion expected = plain().generate(p.prompt(), params.build());
            assertEquals(expected.text(), row.get("text").asText(), p.id() + ": text differs from plain decoding");
            assertEquals(expected.finishReason().name().toLowerCase(), row.get("finish_reason").asText(), p.id());
            assertEquals(expected.promptTokens(), row.get("prompt_tokens").asInt(), p.id());

            int generated = row.get("generated_tokens").asInt();
            assertEquals(expected.tokenIds().length, generated, p.id());
            if (row.get("finish_reason").asText().equals("max_tokens")) {
                assertEquals(requested, generated, p.id());
            } else {
                assertEquals("end_of_sequence", row.get("finish_reason").asText(), p.id());
                assertTrue(generated < requested, p.id() + ": " + row);
            }
            int drafted = row.get("drafted_tokens").asInt();
            int acceptedHere = row.get("accepted_tokens").asInt();
            assertTrue(acceptedHere >= 0 && acceptedHere <= drafted, p.id() + ": " + row);
            double acceptance = row.get("acceptance_rate").asDouble();
            assertTrue(acceptance >= 0 && acceptance <= 1, p.id() + ": acceptance " + acceptance);
            assertEquals(drafted == 0 ? 0 : (double) acceptedHere / drafted, acceptance, 1e-12, p.id());
            int targetCalls = row.get("target_calls").asInt();
            // a prefill, then each call emits at least one token (or the end of the sequence)
            assertTrue(targetCalls >= 1 && targetCalls <= generated + 2, p.id() + ": " + row);
            assertTrue(row.get("tokens_per_target_call").asDouble() >= 1, p.id() + ": " + row);
            assertTrue(row.get("tokens_per_second").asDouble() > 0, p.id() + ": " + row);
            assertTrue(row.get("duration_ms").asDouble() > 0, p.id() + ": " + row);
            tokens += generated;
            accepted += acceptedHere;
        }
        assertTrue(accepted > 0, "the drafters proposed nothing the target accepted: no speculation happened");

        assertTrue(rows.get("no-prompt").get("error").asText().contains("missing \"prompt\""), rows.toString());
        assertTrue(rows.get("bad-temperature").get("error").asText().contains("temperature"), rows.toString());
        assertTrue(rows.get("bad-max-tokens").get("error").asText().contains("max_tokens must be in [1,"),
                rows.toString());
        assertFalse(rows.get("bad-max-tokens").has("text"), rows.toString());
        assertEquals(1, unnamed.size(), "the malformed line has no id: " + unnamed);
        assertTrue(unnamed.get(0).get("error").asText().startsWith("line is not a JSON object"), unnamed.toString());

        assertEquals(new BatchJob.BatchSummary(lines.size(), 4, tokens), summary);
    }

    @Test
    void writesParquet() throws IOException {
        Path input = dir.resolve("one.jsonl");
        Files.writeString(input, "{\"id\": \"p\", \"prompt\": \"def fibonacci(n):\", \"max_tokens\": 16}\n");
        Path output = dir.resolve("out-parquet");
        BatchJob.BatchSummary summary = BatchJob.run(spark, BatchOptions.parse("--input", input.toString(),
                "--output", output.toString(), "--format", "parquet", "--partitions", "1"));
        assertEquals(new BatchJob.BatchSummary(1, 0, 16), summary);
        Row row = spark.read().parquet(output.toString()).first();
        assertEquals("p", row.getAs("id"));
        assertEquals(plain().generate("def fibonacci(n):", SamplingParams.greedy(16)).text(), row.getAs("text"));
    }
}
