package dev.specula.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code specula serve} as a process on the embedded pair, exercised over HTTP with {@link HttpClient}: response
 * shapes, streaming, chat, the speculative switch, errors, and concurrent requests.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ServeCommandIT {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);
    private static final Pattern LISTENING = Pattern.compile("specula serve: listening on (http://127\\.0\\.0\\.1:(\\d+))");
    private static final String PROMPT = "import os\n\n\ndef read_lines(path):\n";
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String EMBEDDED_MODEL = "specula-python-code";

    private static Process server;
    private static final Queue<String> serverLog = new ConcurrentLinkedQueue<>();
    private static String baseUrl;
    private static HttpClient http;

    @BeforeAll
    static void startServer() throws Exception {
        Path jar = Path.of(System.getProperty("specula.jar", "target/specula.jar"));
        assertTrue(Files.isRegularFile(jar), "the shaded jar " + jar + " is missing: run mvn verify");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // A fixed draft length, so that every speculative request drafts (the adaptive default may settle on 0).
        server = new ProcessBuilder(java, "-jar", jar.toString(), "serve", "--port", "0", "--draft-length", "4",
                "--verbose").start();
        drain(server.getErrorStream(), serverLog::add);
        CompletableFuture<String> url = new CompletableFuture<>();
        drain(server.getInputStream(), line -> {
            Matcher m = LISTENING.matcher(line);
            if (m.matches()) {
                url.complete(m.group(1));
            }
        });
        server.onExit().thenRun(() -> url.completeExceptionally(
                new IllegalStateException("specula serve exited with " + server.exitValue() + "; stderr: " + serverLog)));
        baseUrl = url.get(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
                .build();
    }

    @AfterAll
    static void stopServer() throws InterruptedException {
        if (server == null) {
            return;
        }
        server.destroy();
        if (!server.waitFor(20, TimeUnit.SECONDS)) {
            server.destroyForcibly();
            server.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Reads the process output on a daemon thread, line by line, so that the process never blocks on a pipe. */
    private static void drain(InputStream stream, Consumer<String> lines) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    lines.accept(line);
                }
            } catch (IOException ignored) {
                // the process ended
            }
        }, "serve-output");
        t.setDaemon(true);
        t.start();
    }

    // --- completions ---------------------------------------------------------------------------------------

    @Test
    void completionHasTheOpenAiShapeAndMetrics() throws Exception {
        ObjectNode body = greedy(PROMPT, 24).put("model", EMBEDDED_MODEL);
        HttpResponse<String> r = post("/v1/completions", body.toString());
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        JsonNode json = MAPPER.readTree(r.body());
        assertTrue(json.path("id").asText().startsWith("cmpl-"), json.toString());
        assertEquals("text_completion", json.path("object").asText());
        assertTrue(json.path("created").asLong() > 1_600_000_000L, json.toString());
        assertEquals(EMBEDDED_MODEL, json.path("model").asText());
        assertEquals(1, json.path("choices").size());
        JsonNode choice = json.path("choices").path(0);
        assertEquals(0, choice.path("index").asInt());
        assertTrue(choice.path("logprobs").isNull());
        String finish = choice.path("finish_reason").asText();
        assertTrue(finish.equals("stop") || finish.equals("length"), finish);
        assertTrue(choice.path("text").isTextual());
        if (finish.equals("length")) {
            assertFalse(choice.path("text").asText().isEmpty(), json.toString());
        }

        JsonNode usage = json.path("usage");
        int completionTokens = usage.path("completion_tokens").asInt(-1);
        assertTrue(usage.path("prompt_tokens").asInt() > 0, usage.toString());
        assertTrue(completionTokens >= 0 && completionTokens <= 24, usage.toString());
        assertEquals(usage.path("prompt_tokens").asInt() + completionTokens, usage.path("total_tokens").asInt());
        if (finish.equals("length")) {
            assertEquals(24, completionTokens);
        }

        JsonNode metrics = json.path("specula");
        assertEquals(completionTokens, metrics.path("generated_tokens").asInt(-1), metrics.toString());
        for (String field : List.of("tokens_per_second", "acceptance_rate", "drafted_tokens", "accepted_tokens",
                "target_calls", "total_ms", "draft_lengths", "seed")) {
            assertTrue(metrics.has(field), "specula." + field + " missing in " + metrics);
        }
    }

    @Test
    void theEmbeddedPairIsServedUnderItsNameAndAnUnknownModelIs404() throws Exception {
        JsonNode models = MAPPER.readTree(get("/v1/models").body());
        assertEquals("list", models.path("object").asText());
        assertEquals(EMBEDDED_MODEL, models.path("data").path(0).path("id").asText(), models.toString());
        JsonNode completion = MAPPER.readTree(post("/v1/completions", greedy(PROMPT, 2).toString()).body());
        assertEquals(EMBEDDED_MODEL, completion.path("model").asText());
        JsonNode error = assertError(post("/v1/completions", greedy(PROMPT, 2).put("model", "gpt-4o").toString()), 404,
                "invalid_request_error", "model");
        assertEquals("model_not_found", error.path("code").asText());
    }

    @Test
    void metricsCountTheRequestsAndTokensOfTheRealEngine() throws Exception {
        String before = get("/metrics").body();
        int generated = 0;
        int drafted = 0;
        int accepted = 0;
        for (int i = 0; i < 2; i++) {
            JsonNode json = MAPPER.readTree(post("/v1/completions", greedy(PROMPT, 12).toString()).body());
            generated += json.path("usage").path("completion_tokens").asInt();
            drafted += json.path("specula").path("drafted_tokens").asInt();
            accepted += json.path("specula").path("accepted_tokens").asInt();
        }
        String after = get("/metrics").body();
        String ok = "specula_requests_total{endpoint=\"/v1/completions\",status=\"200\"}";
        assertEquals(2, sample(after, ok) - sample(before, ok), after);
        assertEquals(generated, sample(after, "specula_generation_tokens_total")
                - sample(before, "specula_generation_tokens_total"), after);
        assertEquals(drafted, sample(after, "specula_spec_decode_num_draft_tokens_total")
                - sample(before, "specula_spec_decode_num_draft_tokens_total"), after);
        assertEquals(accepted, sample(after, "specula_spec_decode_num_accepted_tokens_total")
                - sample(before, "specula_spec_decode_num_accepted_tokens_total"), after);
        assertTrue(sample(after, "specula_step_latency_seconds_count") > sample(before, "specula_step_latency_seconds_count"));
        Pattern accessLine = Pattern.compile("\\d{4}-\\d\\d-\\d\\dT\\S+ INFO +\\[access\\] req-[0-9a-f]{12} POST"
                + " /v1/completions 200 prompt=\\d+ completion=12 acceptance=\\d\\.\\d{3} \\(\\d+/\\d+\\) finish=length \\d+ ms");
        assertTrue(serverLog.stream().anyMatch(l -> accessLine.matcher(l).matches()), "no access-log line in " + serverLog);
    }

    /** A sample's value in a Prometheus text exposition; 0 when absent (a counter not yet incremented). */
    private static double sample(String exposition, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + " (\\S+)$").matcher(exposition);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    @Test
    void aPromptOfTokenIdsGivesTheSameCompletionAsItsText() throws Exception {
        JsonNode fromText = MAPPER.readTree(post("/v1/completions", greedy(PROMPT, 8).toString()).body());
        int promptTokens = fromText.path("usage").path("prompt_tokens").asInt();
        try (dev.specula.onnx.HfTokenizer tokenizer = dev.specula.onnx.HfTokenizer.load(
                dev.specula.models.EmbeddedModels.target())) {
            ObjectNode request = greedy(PROMPT, 8);
            var ids = request.putArray("prompt");
            for (int id : tokenizer.encode(PROMPT)) {
                ids.add(id);
            }
            JsonNode fromIds = MAPPER.readTree(post("/v1/completions", request.toString()).body());
            assertEquals(promptTokens, fromIds.path("usage").path("prompt_tokens").asInt(), fromIds.toString());
            assertEquals(fromText.path("choices").path(0).path("text").asText(),
                    fromIds.path("choices").path(0).path("text").asText());
        }
    }

    @Test
    void healthAnswersOk() throws Exception {
        HttpResponse<String> r = get("/health");
        assertEquals(200, r.statusCode());
        assertEquals("ok", MAPPER.readTree(r.body()).path("status").asText());
    }

    @Test
    void streamedCompletionArrivesInChunksAndEqualsTheWholeOne() throws Exception {
        String whole = completionText(greedy(PROMPT, 32));
        List<JsonNode> chunks = stream("/v1/completions", greedy(PROMPT, 32).put("stream", true));
        JsonNode last = chunks.get(chunks.size() - 1);
        StringBuilder text = new StringBuilder();
        int textChunks = 0;
        for (JsonNode chunk : chunks) {
            assertEquals("text_completion", chunk.path("object").asText());
            assertEquals(last.path("id").asText(), chunk.path("id").asText(), "one id for all chunks");
            String piece = chunk.path("choices").path(0).path("text").asText();
            if (!piece.isEmpty()) {
                textChunks++;
            }
            text.append(piece);
            if (chunk != last) {
                assertTrue(chunk.path("choices").path(0).path("finish_reason").isNull(), chunk.toString());
            }
        }
        assertTrue(textChunks >= 2, "expected the text in several chunks, got " + chunks);
        assertEquals(whole, text.toString());
        assertFinalChunk(last);
    }

    @Test
    void speculationCanBeSwitchedOffPerRequestWithTheSameGreedyText() throws Exception {
        JsonNode speculative = MAPPER.readTree(post("/v1/completions", greedy(PROMPT, 32).toString()).body());
        JsonNode plain = MAPPER.readTree(post("/v1/completions",
                greedy(PROMPT, 32).put("speculative", false).toString()).body());
        assertEquals(speculative.path("choices").path(0).path("text").asText(),
                plain.path("choices").path(0).path("text").asText());
        assertEquals(0, plain.path("specula").path("drafted_tokens").asInt(-1), plain.toString());
        assertTrue(speculative.path("specula").path("drafted_tokens").asInt() > 0, speculative.toString());
    }

    @Test
    void stopSequenceEndsTheCompletion() throws Exception {
        String whole = completionText(greedy(PROMPT, 32));
        if (whole.length() < 4) {
            return; // nothing to cut
        }
        String stop = whole.substring(2, 4);
        JsonNode json = MAPPER.readTree(post("/v1/completions", greedy(PROMPT, 32).put("stop", stop).toString()).body());
        JsonNode choice = json.path("choices").path(0);
        assertEquals(whole.substring(0, whole.indexOf(stop)), choice.path("text").asText());
        assertEquals("stop", choice.path("finish_reason").asText());
    }

    // --- chat ----------------------------------------------------------------------------------------------

    @Test
    void chatCompletionAnswersWithAnAssistantMessage() throws Exception {
        HttpResponse<String> r = post("/v1/chat/completions", chat(16).toString());
        assertEquals(200, r.statusCode(), r.body());
        JsonNode json = MAPPER.readTree(r.body());
        assertTrue(json.path("id").asText().startsWith("chatcmpl-"), json.toString());
        assertEquals("chat.completion", json.path("object").asText());
        JsonNode choice = json.path("choices").path(0);
        assertEquals("assistant", choice.path("message").path("role").asText());
        assertTrue(choice.path("message").path("content").isTextual(), json.toString());
        assertFalse(choice.path("message").path("content").asText().contains("\n### "), "the turn ends at ###");
        String finish = choice.path("finish_reason").asText();
        assertTrue(finish.equals("stop") || finish.equals("length"), finish);
        assertTrue(json.path("usage").path("prompt_tokens").asInt() > 0);
        assertTrue(json.path("specula").has("generated_tokens"));
    }

    @Test
    void streamedChatStartsWithTheRoleAndEqualsTheWholeOne() throws Exception {
        String whole = MAPPER.readTree(post("/v1/chat/completions", chat(16).toString()).body())
                .path("choices").path(0).path("message").path("content").asText();
        List<JsonNode> chunks = stream("/v1/chat/completions", chat(16).put("stream", true));
        assertEquals("assistant", chunks.get(0).path("choices").path(0).path("delta").path("role").asText());
        StringBuilder text = new StringBuilder();
        for (JsonNode chunk : chunks) {
            assertEquals("chat.completion.chunk", chunk.path("object").asText());
            text.append(chunk.path("choices").path(0).path("delta").path("content").asText(""));
        }
        assertEquals(whole, text.toString());
        assertFinalChunk(chunks.get(chunks.size() - 1));
    }

    // --- errors --------------------------------------------------------------------------------------------

    @Test
    void malformedJsonIs400() throws Exception {
        assertError(post("/v1/completions", "{\"prompt\": \"x\""), 400, "invalid_request_error", null);
    }

    @Test
    void wrongTypeIs400NamingTheField() throws Exception {
        JsonNode error = assertError(post("/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": \"ten\"}"), 400,
                "invalid_request_error", "max_tokens");
        assertTrue(error.path("message").asText().contains("max_tokens"), error.toString());
    }

    @Test
    void invalidTemperatureIs400NamingTemperature() throws Exception {
        JsonNode error = assertError(post("/v1/completions", greedy(PROMPT, 4).put("temperature", -1).toString()),
                400, "invalid_request_error", "temperature");
        assertTrue(error.path("message").asText().contains("temperature"), error.toString());
    }

    @Test
    void missingPromptOrMessagesIs400() throws Exception {
        assertError(post("/v1/completions", "{\"max_tokens\": 4}"), 400, "invalid_request_error", "prompt");
        assertError(post("/v1/chat/completions", "{\"max_tokens\": 4}"), 400, "invalid_request_error", "messages");
    }

    @Test
    void unknownPathIs404() throws Exception {
        assertError(get("/v1/nothing-here"), 404, "not_found_error", null);
    }

    @Test
    void wrongMethodIs405() throws Exception {
        HttpResponse<String> r = get("/v1/completions");
        assertError(r, 405, "invalid_request_error", null);
        assertEquals("POST", r.headers().firstValue("Allow").orElse(""));
    }

    @Test
    void bodyOverOneMebibyteIs413() throws Exception {
        String big = "{\"prompt\": \"" + "a".repeat(2 << 20) + "\"}";
        assertError(post("/v1/completions", big), 413, "invalid_request_error", null);
    }

    @Test
    void promptLongerThanTheContextIs400EvenWhenStreamed() throws Exception {
        ObjectNode body = greedy("x = 1\n".repeat(6000), 4);
        assertError(post("/v1/completions", body.toString()), 400, "invalid_request_error", null);
        assertError(post("/v1/completions", body.put("stream", true).toString()), 400, "invalid_request_error", null);
    }

    @Test
    void serverKeepsAnsweringAfterErrors() throws Exception {
        post("/v1/completions", "not json");
        post("/v1/completions", "{\"prompt\": 5}");
        post("/v1/chat/completions", "{\"messages\": [{\"role\": \"robot\", \"content\": \"hi\"}]}");
        get("/missing");
        HttpResponse<String> r = post("/v1/completions", greedy(PROMPT, 4).toString());
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(200, get("/health").statusCode());
    }

    // --- concurrency and cancellation ----------------------------------------------------------------------

    @Test
    void concurrentRequestsAllSucceedWithTheSameGreedyText() throws Exception {
        String expected = completionText(greedy(PROMPT, 24));
        List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            futures.add(http.sendAsync(request("/v1/completions").POST(
                    HttpRequest.BodyPublishers.ofString(greedy(PROMPT, 24).toString())).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(90, TimeUnit.SECONDS);
        for (CompletableFuture<HttpResponse<String>> f : futures) {
            HttpResponse<String> r = f.get();
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(expected, MAPPER.readTree(r.body()).path("choices").path(0).path("text").asText());
        }
    }

    @Test
    void thirtyTwoConcurrentStreamsAllDeliverTheGreedyText() throws Exception {
        String expected = completionText(greedy(PROMPT, 16));
        List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            futures.add(http.sendAsync(request("/v1/completions").POST(HttpRequest.BodyPublishers.ofString(
                    greedy(PROMPT, 16).put("stream", true).toString())).build(), HttpResponse.BodyHandlers.ofString()));
        }
        CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
        for (CompletableFuture<HttpResponse<String>> f : futures) {
            HttpResponse<String> r = f.get();
            assertEquals(200, r.statusCode(), r.body());
            StringBuilder text = new StringBuilder();
            List<String> data = r.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
            assertEquals("[DONE]", data.get(data.size() - 1), r.body());
            for (String d : data.subList(0, data.size() - 1)) {
                text.append(MAPPER.readTree(d).path("choices").path(0).path("text").asText());
            }
            assertEquals(expected, text.toString());
        }
    }

    @Test
    void disconnectingClientCancelsItsStreamedGeneration() throws Exception {
        int maxTokens = 1500;
        ObjectNode body = greedy("x = 1\n".repeat(40), maxTokens).put("stream", true);
        HttpResponse<InputStream> r = http.send(request("/v1/completions")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        try (BufferedReader events = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            int data = 0;
            while (data < 2) {
                String line = events.readLine();
                assertNotNull(line, "the stream ended early");
                assertFalse(line.equals("data: [DONE]"), "the generation ended before the client left");
                if (line.startsWith("data: ")) {
                    data++;
                }
            }
        } // closing the body before its end closes the connection
        Pattern cancelled = Pattern.compile(".*client disconnected: generation cancelled after (\\d+) tokens.*");
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            for (String line : serverLog) {
                Matcher m = cancelled.matcher(line);
                if (m.matches()) {
                    assertTrue(Integer.parseInt(m.group(1)) < maxTokens, line);
                    return;
                }
            }
            Thread.sleep(50);
        }
        fail("the server did not report the cancelled generation; its log: " + serverLog);
    }

    @Test
    void sixteenStreamsWithHalfTheClientsLeavingMidStreamLeakNothing() throws Exception {
        String expected = completionText(greedy(PROMPT, 24));
        int streams = 16;
        java.util.concurrent.ExecutorService clients = java.util.concurrent.Executors.newFixedThreadPool(streams);
        try {
            List<java.util.concurrent.Future<String>> results = new ArrayList<>();
            for (int i = 0; i < streams; i++) {
                boolean leaves = i % 2 == 0;
                results.add(clients.submit(() -> {
                    ObjectNode body = greedy(leaves ? "x = 1\n".repeat(30) : PROMPT, leaves ? 1500 : 24)
                            .put("stream", true);
                    HttpResponse<InputStream> r = http.send(request("/v1/completions")
                            .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(),
                            HttpResponse.BodyHandlers.ofInputStream());
                    assertEquals(200, r.statusCode());
                    StringBuilder text = new StringBuilder();
                    try (BufferedReader events = new BufferedReader(
                            new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                        int data = 0;
                        for (String line = events.readLine(); line != null; line = events.readLine()) {
                            if (line.equals("data: [DONE]")) {
                                return text.toString();
                            }
                            if (line.startsWith("data: ")) {
                                text.append(MAPPER.readTree(line.substring(6)).path("choices").path(0)
                                        .path("text").asText());
                                if (leaves && ++data == 2) {
                                    return null; // closing the body before its end closes the connection
                                }
                            }
                        }
                    }
                    throw new AssertionError("the stream ended without [DONE]");
                }));
            }
            for (int i = 0; i < streams; i++) {
                String text = results.get(i).get(120, TimeUnit.SECONDS);
                if (i % 2 == 1) {
                    assertEquals(expected, text, "stream " + i);
                }
            }
        } finally {
            clients.shutdownNow();
        }
        // Every generation, finished or abandoned, must give its KV-cache sequences back.
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        String metrics = "";
        while (System.nanoTime() < deadline) {
            metrics = get("/metrics").body();
            if (gauge(metrics, "specula_open_sequences{model=\"target\"}") == 0
                    && gauge(metrics, "specula_open_sequences{model=\"draft\"}") == 0
                    && gauge(metrics, "specula_num_requests_running") == 0) {
                assertEquals(expected, completionText(greedy(PROMPT, 24)), "the server still answers correctly");
                return;
            }
            Thread.sleep(100);
        }
        fail("sequences still open after every client finished or left:\n" + metrics);
    }

    private static double gauge(String metrics, String series) {
        return metrics.lines().filter(l -> l.startsWith(series + " ")).mapToDouble(l ->
                Double.parseDouble(l.substring(series.length() + 1).trim())).findFirst()
                .orElseThrow(() -> new AssertionError("no series " + series + " in /metrics"));
    }

    // --- helpers -------------------------------------------------------------------------------------------

    private static ObjectNode greedy(String prompt, int maxTokens) {
        return MAPPER.createObjectNode().put("prompt", prompt).put("max_tokens", maxTokens).put("temperature", 0);
    }

    private static ObjectNode chat(int maxTokens) {
        ObjectNode body = MAPPER.createObjectNode().put("max_tokens", maxTokens).put("temperature", 0);
        body.putArray("messages")
                .add(MAPPER.createObjectNode().put("role", "system").put("content", "You write Python."))
                .add(MAPPER.createObjectNode().put("role", "user").put("content", "Read the lines of a file."));
        return body;
    }

    private static String completionText(ObjectNode body) throws Exception {
        HttpResponse<String> r = post("/v1/completions", body.toString());
        assertEquals(200, r.statusCode(), r.body());
        return MAPPER.readTree(r.body()).path("choices").path(0).path("text").asText();
    }

    private static HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(baseUrl + path)).timeout(REQUEST_TIMEOUT);
    }

    private static HttpResponse<String> post(String path, String body) throws Exception {
        return http.send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> get(String path) throws Exception {
        return http.send(request(path).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The JSON events of a streamed response, checked to be well-formed and to end with {@code [DONE]}. */
    private static List<JsonNode> stream(String path, ObjectNode body) throws Exception {
        HttpResponse<Stream<String>> r = http.send(request(path).POST(HttpRequest.BodyPublishers.ofString(
                body.toString())).build(), HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<JsonNode> chunks = new ArrayList<>();
        boolean done = false;
        try (Stream<String> lines = r.body()) {
            for (String line : (Iterable<String>) lines::iterator) {
                if (line.isEmpty()) {
                    continue;
                }
                assertFalse(done, "an event after [DONE]: " + line);
                assertTrue(line.startsWith("data: "), "not an SSE data line: " + line);
                String data = line.substring("data: ".length());
                if (data.equals("[DONE]")) {
                    done = true;
                } else {
                    chunks.add(MAPPER.readTree(data));
                }
            }
        }
        assertTrue(done, "the stream did not end with [DONE]");
        assertTrue(chunks.size() >= 2, "expected several chunks, got " + chunks);
        return chunks;
    }

    private static void assertFinalChunk(JsonNode last) {
        String finish = last.path("choices").path(0).path("finish_reason").asText();
        assertTrue(finish.equals("stop") || finish.equals("length"), last.toString());
        JsonNode usage = last.path("usage");
        assertEquals(usage.path("prompt_tokens").asInt() + usage.path("completion_tokens").asInt(),
                usage.path("total_tokens").asInt(-1), last.toString());
        assertTrue(last.path("specula").has("generated_tokens"), last.toString());
    }

    /** Checks an OpenAI-style error response and returns its {@code error} object. */
    private static JsonNode assertError(HttpResponse<String> r, int status, String type, String param)
            throws IOException {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        JsonNode error = MAPPER.readTree(r.body()).path("error");
        assertTrue(error.path("message").isTextual() && !error.path("message").asText().isEmpty(), r.body());
        assertEquals(type, error.path("type").asText(), r.body());
        if (param == null) {
            assertTrue(error.path("param").isNull(), r.body());
        } else {
            assertEquals(param, error.path("param").asText(), r.body());
        }
        assertTrue(error.has("code"), r.body());
        return error;
    }
}
