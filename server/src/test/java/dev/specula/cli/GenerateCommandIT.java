package dev.specula.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code specula generate} as a user runs it: a process over the shaded jar. */
class GenerateCommandIT {

    record Run(int exit, String out, String err) {
    }

    static Run specula(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", System.getProperty("specula.jar")));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Path out = Files.createTempFile("specula-out", ".txt");
        Path err = Files.createTempFile("specula-err", ".txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = pb.start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("specula " + String.join(" ", args) + " did not finish in 180 s");
        }
        Run r = new Run(p.exitValue(), Files.readString(out), Files.readString(err));
        Files.delete(out);
        Files.delete(err);
        return r;
    }

    @Test
    void generatesWithNoArguments() throws Exception {
        Run r = specula("generate", "--max-new-tokens", "24");
        assertEquals(0, r.exit(), r.err());
        assertFalse(r.out().isBlank(), "streamed text on stdout");
        assertTrue(r.err().contains("tokens/s") && r.err().contains("acceptance"), r.err());
    }

    @Test
    void compareRunsPlainDecodingAndReportsIdenticalOutput() throws Exception {
        Run r = specula("generate", "--compare", "--max-new-tokens", "32", "--prompt", "def add(a, b):\n");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().contains("speedup:"), r.err());
        assertTrue(r.err().contains("outputs identical: yes"), r.err());
    }

    @Test
    void jsonPrintsOneObjectWithBaselineSpeedupAndIdentity() throws Exception {
        Run r = specula("generate", "--json", "--compare", "--no-warm-up", "--max-new-tokens", "20", "--draft-length", "3");
        assertEquals(0, r.exit(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(20, j.get("token_ids").size());
        assertTrue(j.get("prompt_tokens").asInt() > 0);
        assertTrue(j.get("metrics").get("tokens_per_second").asDouble() > 0);
        assertEquals(20, j.get("metrics").get("draft_lengths").size() + j.get("metrics").get("accepted_tokens").asInt());
        assertTrue(j.get("baseline_metrics").get("tokens_per_second").asDouble() > 0);
        assertTrue(j.get("speedup").asDouble() > 0);
        assertTrue(j.get("identical").asBoolean());
        assertEquals(j.get("text").asText().isEmpty(), false);
    }

    @Test
    void aSeedGivesTheSameSampledTokensWithAndWithoutADraft() throws Exception {
        List<JsonNode> runs = new ArrayList<>();
        for (String draft : List.of("none", "model", "composite")) {
            Run r = specula("generate", "--json", "--temperature", "0.8", "--seed", "7", "--max-new-tokens", "40",
                    "--draft", draft);
            assertEquals(0, r.exit(), draft + ": " + r.err());
            JsonNode j = new ObjectMapper().readTree(r.out());
            assertEquals(7, j.get("metrics").get("seed").asLong());
            assertEquals(7, j.get("sampling").get("seed").asLong());
            runs.add(j);
        }
        for (JsonNode j : runs) {
            assertEquals(runs.get(0).get("token_ids"), j.get("token_ids"), j.get("drafter").asText());
        }
        // Without --seed: a fresh seed, reported, and it replays.
        Run fresh = specula("generate", "--json", "--temperature", "0.8", "--max-new-tokens", "16");
        assertEquals(0, fresh.exit(), fresh.err());
        JsonNode f = new ObjectMapper().readTree(fresh.out());
        long seed = f.get("metrics").get("seed").asLong();
        Run replay = specula("generate", "--json", "--temperature", "0.8", "--max-new-tokens", "16", "--draft", "none",
                "--seed", Long.toString(seed));
        assertEquals(f.get("token_ids"), new ObjectMapper().readTree(replay.out()).get("token_ids"), "seed " + seed);
    }

    @Test
    void plainAndNgramDraftsWork() throws Exception {
        for (String draft : List.of("none", "lookup", "ngram", "composite")) {
            Run r = specula("generate", "--draft", draft, "--max-new-tokens", "16", "--json");
            assertEquals(0, r.exit(), draft + ": " + r.err());
            assertTrue(new ObjectMapper().readTree(r.out()).get("drafter").asText().length() > 0);
        }
    }

    @Test
    void promptLookupElseTheDraftModelGivesPlainDecodingsTokens() throws Exception {
        String prompt = "def area(w, h):\n    return w * h\n\n\ndef perimeter(w, h):\n    return";
        Run plain = specula("generate", "--draft", "none", "--prompt", prompt, "--max-new-tokens", "40", "--json");
        Run both = specula("generate", "--draft", "lookup-model", "--prompt", prompt, "--max-new-tokens", "40",
                "--draft-length", "3", "--json");
        assertEquals(0, both.exit(), both.err());
        JsonNode b = new ObjectMapper().readTree(both.out());
        assertEquals(new ObjectMapper().readTree(plain.out()).get("token_ids"), b.get("token_ids"));
        String drafter = b.get("drafter").asText();
        assertTrue(drafter.contains("lookup") && drafter.contains("draft"), drafter);
        assertTrue(b.get("metrics").get("drafted_tokens").asInt() > 0, b.toString());
    }

    @Test
    void promptFilesAreReadAsStrictUtf8(@TempDir Path tmp) throws Exception {
        Path good = tmp.resolve("good.txt");
        Files.writeString(good, "def café():\n", StandardCharsets.UTF_8);
        assertEquals(0, specula("generate", "--prompt-file", good.toString(), "--max-new-tokens", "8").exit());
        Path bad = tmp.resolve("bad.txt");
        Files.write(bad, new byte[]{'d', 'e', 'f', ' ', (byte) 0xC3, (byte) 0x28, '\n'});
        Run r = specula("generate", "--prompt-file", bad.toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().startsWith("error: ") && r.err().contains("not valid UTF-8"), r.err());
    }

    @Test
    void badArgumentsExitWithTwoAndOneLine() throws Exception {
        String[][] cases = {
                {"generate", "--temperature", "-1"},
                {"generate", "--temperature", "abc"},
                {"generate", "--top-p", "1.5"},
                {"generate", "--top-k", "-3"},
                {"generate", "--max-new-tokens", "0"},
                {"generate", "--max-new-tokens", "99999999"},
                {"generate", "--draft-length", "100"},
                {"generate", "--draft-length", "often"},
                {"generate", "--draft", "no-such-dir"},
                {"generate", "--no-such-option"},
                {"generate", "--prompt", "x", "--prompt-file", "y"},
                {"generate", "--prompt-file", "/no/such/file"},
                {"generate", "--prompt", ""},
                {"generate", "--threads", "0"},
        };
        for (String[] args : cases) {
            Run r = specula(args);
            assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.err());
            assertTrue(r.err().startsWith("error: "), String.join(" ", args) + ": " + r.err());
            assertFalse(r.err().contains("\tat "), "no stack trace without --verbose: " + r.err());
        }
    }

    @Test
    void failuresExitWithOneAndVerboseAddsTheStackTrace(@TempDir Path tmp) throws Exception {
        Files.createDirectories(tmp.resolve("empty-model"));
        Run r = specula("generate", "--target", tmp.resolve("empty-model").toString(), "--draft", "none");
        assertEquals(1, r.exit(), r.err());
        assertTrue(r.err().startsWith("error: ") && r.err().contains("model.onnx"), r.err());
        assertFalse(r.err().contains("\tat "));
        Run verbose = specula("generate", "--target", tmp.resolve("empty-model").toString(), "--draft", "none", "--verbose");
        assertEquals(1, verbose.exit());
        assertTrue(verbose.err().contains("\tat "), verbose.err());
    }
}
