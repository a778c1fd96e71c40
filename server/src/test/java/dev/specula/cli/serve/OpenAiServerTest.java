package dev.specula.cli.serve;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.specula.Completion;
import dev.specula.core.decode.FinishReason;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The HTTP server over a {@link FakeEngine}: routing, errors, streaming, admission control, metrics, access log. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class OpenAiServerTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String MODEL = "fake-model";

    private final FakeEngine engine = new FakeEngine();
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private OpenAiServer server;

    private OpenAiServer start(OpenAiServer.Config.Builder config) throws Exception {
        server = OpenAiServer.bind(config.port(0).build());
        server.start(engine);
        return server;
    }

    private OpenAiServer start() throws Exception {
        return start(config());
    }

    private static OpenAiServer.Config.Builder config() {
        return OpenAiServer.Config.builder(List.of(MODEL, "alias"), m -> MAPPER.createObjectNode()
                .put("generated_tokens", m.generatedTokens()));
    }

    @AfterEach
    void stop() {
        engine.gate.release(10_000);
        if (server != null) {
            server.stop(Duration.ofSeconds(5));
        }
    }

    // --- routing and errors ------------------------------------------------------------------------------------

    @Test
    void unknownPathIs404ListingThePathsAndWrongMethodIs405WithAllow() throws Exception {
        start();
        JsonNode notFound = error(get("/nope"), 404, "not_found_error");
        assertTrue(notFound.path("message").asText().contains("POST /v1/completions"), notFound.toString());
        HttpResponse<String> r = send(request("/v1/completions").GET());
        error(r, 405, "invalid_request_error");
        assertEquals("POST", r.headers().firstValue("Allow").orElse(""));
        HttpResponse<String> r2 = post("/health", "{}");
        error(r2, 405, "invalid_request_error");
        assertEquals("GET", r2.headers().firstValue("Allow").orElse(""));
    }

    @Test
    void bodiesOverTheLimitAre413WhetherTheirLengthIsDeclaredOrNot() throws Exception {
        start();
        String big = "{\"prompt\": \"" + "a".repeat(OpenAiServer.MAX_BODY_BYTES) + "\"}";
        error(post("/v1/completions", big), 413, "invalid_request_error");
        HttpRequest.BodyPublisher chunked = HttpRequest.BodyPublishers.ofInputStream(
                () -> new ByteArrayInputStream(big.getBytes(StandardCharsets.UTF_8)));
        error(send(request("/v1/completions").POST(chunked)), 413, "invalid_request_error");
        assertEquals(200, post("/v1/completions", completion("ok", 2).toString()).statusCode());
    }

    @Test
    void anEngineFailureIsA500WithItsMessageAndTheServerKeepsServing() throws Exception {
        start();
        JsonNode e = error(post("/v1/completions", completion("bug", 2).toString()), 500, "server_error");
        assertTrue(e.path("message").asText().contains("a bug in the engine"), e.toString());
        JsonNode rejected = error(post("/v1/completions", completion("reject", 2).toString()), 400,
                "invalid_request_error");
        assertTrue(rejected.path("message").asText().contains("context"), rejected.toString());
        error(post("/v1/completions", "{\"prompt\": "), 400, "invalid_request_error");
        assertEquals(200, post("/v1/completions", completion("ok", 2).toString()).statusCode());
    }

    @Test
    void unknownModelIs404ModelNotFoundAndEveryServedNameIsAccepted() throws Exception {
        start();
        JsonNode e = error(post("/v1/completions", completion("ok", 2).put("model", "gpt-4").toString()), 404,
                "invalid_request_error");
        assertEquals("model_not_found", e.path("code").asText());
        assertEquals("model", e.path("param").asText());
        assertTrue(e.path("message").asText().contains("gpt-4") && e.path("message").asText().contains(MODEL), e.toString());
        JsonNode viaAlias = MAPPER.readTree(post("/v1/completions", completion("ok", 2).put("model", "alias")
                .toString()).body());
        assertEquals(MODEL, viaAlias.path("model").asText(), "responses carry the first served name");
        JsonNode models = MAPPER.readTree(get("/v1/models").body());
        assertEquals(MODEL, models.path("data").path(0).path("id").asText());
        assertEquals("alias", models.path("data").path(1).path("id").asText());
    }

    @Test
    void unsupportedParametersAre400NamingThemUnlessTheyAreNoOps() throws Exception {
        start();
        JsonNode e = error(post("/v1/completions", completion("ok", 2).put("logprobs", 3).toString()), 400,
                "invalid_request_error");
        assertEquals("logprobs", e.path("param").asText());
        assertEquals("unsupported_parameter", e.path("code").asText());
        assertEquals("presence_penalty", error(post("/v1/chat/completions", chat().put("presence_penalty", 0.5)
                .toString()), 400, "invalid_request_error").path("param").asText());
        assertEquals(200, post("/v1/chat/completions", chat().put("presence_penalty", 0).put("logprobs", false)
                .put("n", 1).toString()).statusCode());
    }

    @Test
    void requestIdsAreEchoedOrMade() throws Exception {
        start();
        HttpResponse<String> mine = send(request("/health").header("X-Request-Id", "abc-123").GET());
        assertEquals("abc-123", mine.headers().firstValue("X-Request-Id").orElse(""));
        String made = get("/health").headers().firstValue("X-Request-Id").orElse("");
        assertTrue(made.startsWith("req-"), made);
    }

    @Test
    void aGenerationThatWritesNothingForLongerThanTheIdleTimeoutStillAnswers() throws Exception {
        start().idleTimeout(Duration.ofMillis(500));
        assertEquals(200, get("/health").statusCode()); // warms the client, whose first send may take long
        CompletableFuture<HttpResponse<String>> r = postAsync(completion("prefill", 2));
        awaitTrue(() -> engine.running.get() == 1, "the generation should run");
        Thread.sleep(2000); // silent for four idle timeouts
        engine.gate.release();
        HttpResponse<String> response = r.get(30, TimeUnit.SECONDS);
        assertEquals(200, response.statusCode(), response.body());
        assertEquals("t0 t1 ", MAPPER.readTree(response.body()).path("choices").path(0).path("text").asText());
    }

    // --- streaming -----------------------------------------------------------------------------------------

    @Test
    void aStreamIsFramedExactlyAsOpenAiFramesIt() throws Exception {
        start();
        HttpResponse<String> r = post("/v1/completions", completion("ok", 3).put("stream", true).toString());
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        assertTrue(r.body().matches("(data: \\{[^\\n]*\\}\\n\\n){4}data: \\[DONE\\]\\n\\n"),
                "three text events, the last one, [DONE]: " + r.body());
        StringBuilder text = new StringBuilder();
        for (String data : r.body().split("\n\n")) {
            if (!data.equals("data: [DONE]")) {
                text.append(MAPPER.readTree(data.substring(6)).path("choices").path(0).path("text").asText());
            }
        }
        assertEquals("t0 t1 t2 ", text.toString());

        HttpResponse<String> chat = post("/v1/chat/completions", chat().put("stream", true).toString());
        String first = chat.body().substring(6, chat.body().indexOf("\n\n"));
        assertEquals("assistant", MAPPER.readTree(first).path("choices").path(0).path("delta").path("role").asText());
        assertTrue(chat.body().endsWith("data: [DONE]\n\n"), chat.body());
    }

    @Test
    void aClientLeavingMidStreamCancelsItsGeneration() throws Exception {
        start();
        HttpResponse<InputStream> r = client.send(request("/v1/completions").POST(HttpRequest.BodyPublishers.ofString(
                completion("slow", 100_000).put("stream", true).toString())).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        try (BufferedReader events = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            for (int data = 0; data < 3; ) {
                String line = events.readLine();
                assertNotNull(line, "the stream ended early");
                if (line.startsWith("data: ")) {
                    data++;
                }
            }
        } // closing the body before its end closes the connection
        awaitTrue(() -> !engine.finished.isEmpty(), "the generation did not end after the client left");
        Completion c = engine.finished.get(0);
        assertEquals(FinishReason.CANCELLED, c.finishReason());
        assertTrue(c.tokenIds().length < 100_000, "cancelled after " + c.tokenIds().length + " tokens");
    }

    // --- admission control ---------------------------------------------------------------------------------

    @Test
    void pastTheRunningAndWaitingLimitsRequestsGet429WithRetryAfterAndTheQueueDrains() throws Exception {
        start(config().maxRunning(2).maxWaiting(2));
        List<CompletableFuture<HttpResponse<String>>> admitted = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            admitted.add(postAsync(completion("gate", 1)));
        }
        awaitTrue(() -> engine.running.get() == 2, "two generations should run");
        for (int i = 0; i < 2; i++) {
            admitted.add(postAsync(completion("gate", 1)));
        }
        awaitTrue(unchecked(() -> gauge("specula_num_requests_waiting") == 2), "two requests should wait");
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> refused = post("/v1/completions", completion("gate", 1).toString());
            JsonNode e = error(refused, 429, "requests");
            assertEquals("rate_limit_exceeded", e.path("code").asText());
            int retryAfter = Integer.parseInt(refused.headers().firstValue("Retry-After").orElse("-1"));
            assertTrue(retryAfter >= 1 && retryAfter <= Admission.MAX_RETRY_AFTER_SECONDS, "Retry-After " + retryAfter);
        }
        assertEquals(2, engine.running.get(), "the refused requests never reached the engine");
        engine.gate.release(4);
        for (CompletableFuture<HttpResponse<String>> f : admitted) {
            HttpResponse<String> r = f.get(30, TimeUnit.SECONDS);
            assertEquals(200, r.statusCode(), r.body());
        }
        assertEquals(4, engine.finished.size());
        assertEquals(0, gauge("specula_num_requests_waiting"));
        assertEquals(0, gauge("specula_num_requests_running"));
    }

    @Test
    void theRequestTimeoutEndsAGenerationWithLengthAndAWaitWith503() throws Exception {
        start(config().maxRunning(1).maxWaiting(4).requestTimeout(Duration.ofMillis(300)));
        // A prefill the timeout cannot cut (the flag is polled between steps) outlives the next request's wait.
        CompletableFuture<HttpResponse<String>> running = postAsync(completion("prefill slow", 100_000));
        awaitTrue(() -> engine.running.get() == 1, "the first generation should run");
        HttpResponse<String> waited = post("/v1/completions", completion("ok", 2).toString());
        JsonNode e = error(waited, 503, "server_error");
        assertEquals("timeout", e.path("code").asText());
        assertTrue(waited.headers().firstValue("Retry-After").isPresent());
        engine.gate.release();

        HttpResponse<String> r = running.get(30, TimeUnit.SECONDS);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode json = MAPPER.readTree(r.body());
        assertEquals("length", json.path("choices").path(0).path("finish_reason").asText());
        assertTrue(json.path("specula").path("timed_out").asBoolean(), json.toString());
        assertTrue(json.path("usage").path("completion_tokens").asInt() < 100_000, json.toString());

        JsonNode quick = MAPPER.readTree(post("/v1/completions", completion("ok", 2).toString()).body());
        assertFalse(quick.path("specula").has("timed_out"), quick.toString());
    }

    @Test
    void stoppingCancelsRunningGenerationsAndAnswersWaitingOnesWith503() throws Exception {
        start(config().maxRunning(1).maxWaiting(4));
        CompletableFuture<HttpResponse<String>> running = postAsync(completion("gate", 1000));
        awaitTrue(() -> engine.running.get() == 1, "the first generation should run");
        CompletableFuture<HttpResponse<String>> waiting = postAsync(completion("ok", 2));
        awaitTrue(unchecked(() -> gauge("specula_num_requests_waiting") == 1), "the second request should wait");
        CompletableFuture<Boolean> stopped = CompletableFuture.supplyAsync(() -> server.stop(Duration.ofSeconds(10)));
        HttpResponse<String> refused = waiting.get(30, TimeUnit.SECONDS);
        assertEquals("server_shutting_down", error(refused, 503, "server_error").path("code").asText());
        assertTrue(refused.headers().firstValue("Retry-After").isPresent());
        assertTrue(stopped.get(30, TimeUnit.SECONDS), "the running generation ended");
        assertEquals(FinishReason.CANCELLED, engine.finished.get(0).finishReason());
        running.handle((r, t) -> null).get(30, TimeUnit.SECONDS);
    }

    // --- metrics and access log ----------------------------------------------------------------------------

    @Test
    void metricsCountTheRequestsMadeAndTheirTokens() throws Exception {
        Logger access = (Logger) LoggerFactory.getLogger("dev.specula.cli.serve.access");
        ListAppender<ILoggingEvent> lines = new ListAppender<>();
        lines.start();
        access.addAppender(lines);
        try {
            start();
            assertEquals(200, post("/v1/completions", completion("ok", 3).toString()).statusCode());
            assertEquals(200, post("/v1/completions", completion("ok", 5).put("stream", true).toString()).statusCode());
            assertEquals(200, post("/v1/chat/completions", chat().toString()).statusCode());
            assertEquals(400, post("/v1/completions", "{}").statusCode());
            int steps = 3 + 5 + 4; // chat(): max_tokens 4

            HttpResponse<String> scrape = get("/metrics");
            assertEquals(200, scrape.statusCode());
            assertTrue(scrape.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
            String text = scrape.body();
            assertEquals(2, value(text, "specula_requests_total{endpoint=\"/v1/completions\",status=\"200\"}"));
            assertEquals(1, value(text, "specula_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"}"));
            assertEquals(1, value(text, "specula_requests_total{endpoint=\"/v1/completions\",status=\"400\"}"));
            assertEquals(3, value(text, "specula_request_success_total{finished_reason=\"length\"}"));
            assertEquals(3 * FakeEngine.PROMPT_TOKENS, value(text, "specula_prompt_tokens_total"));
            assertEquals(steps, value(text, "specula_generation_tokens_total"));
            assertEquals(steps, value(text, "specula_spec_decode_num_drafts_total"));
            assertEquals(FakeEngine.DRAFT * steps, value(text, "specula_spec_decode_num_draft_tokens_total"));
            assertEquals(FakeEngine.ACCEPTED * steps, value(text, "specula_spec_decode_num_accepted_tokens_total"));
            assertEquals((double) FakeEngine.ACCEPTED / FakeEngine.DRAFT,
                    value(text, "specula_spec_decode_draft_acceptance_rate"), 1e-9);
            assertEquals(1 + FakeEngine.ACCEPTED, value(text, "specula_spec_decode_mean_acceptance_length"), 1e-9);
            assertEquals(steps, value(text, "specula_spec_decode_draft_length_count"));
            assertEquals(0, value(text, "specula_spec_decode_draft_length_bucket{le=\"3.0\"}"));
            assertEquals(steps, value(text, "specula_spec_decode_draft_length_bucket{le=\"4.0\"}"));
            assertEquals(steps, value(text, "specula_step_latency_seconds_count"), "one observation per step");
            assertEquals(3, value(text, "specula_e2e_request_latency_seconds_count"));
            assertEquals(3, value(text, "specula_time_to_first_token_seconds_count"));
            assertEquals(3, value(text, "specula_request_queue_time_seconds_count"));

            List<String> logged = lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
            assertEquals(4, logged.stream().filter(l -> l.contains(" POST /v1/")).count(), "one line each: " + logged);
            assertTrue(logged.stream().anyMatch(l -> l.matches("req-\\w+ POST /v1/completions 200 prompt=5 completion=3"
                    + " acceptance=0\\.500 \\(6/12\\) finish=length \\d+ ms")), "" + logged);
            assertTrue(logged.stream().anyMatch(l -> l.matches("req-\\w+ POST /v1/completions 400 prompt=- completion=-"
                    + " acceptance=- \\d+ ms")), "" + logged);
        } finally {
            access.detachAppender(lines);
        }
    }

    // --- helpers -------------------------------------------------------------------------------------------

    private static ObjectNode completion(String prompt, int maxTokens) {
        return MAPPER.createObjectNode().put("prompt", prompt).put("max_tokens", maxTokens);
    }

    private static ObjectNode chat() {
        ObjectNode body = MAPPER.createObjectNode().put("max_tokens", 4);
        body.putArray("messages").addObject().put("role", "user").put("content", "hi");
        return body;
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(Duration.ofSeconds(30));
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(String path) throws Exception {
        return send(request(path).GET());
    }

    private HttpResponse<String> post(String path, String body) throws Exception {
        return send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    private CompletableFuture<HttpResponse<String>> postAsync(ObjectNode body) {
        return client.sendAsync(request("/v1/completions").POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode error(HttpResponse<String> r, int status, String type) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), r.headers().toString());
        JsonNode error = MAPPER.readTree(r.body()).path("error");
        assertFalse(error.path("message").asText().isEmpty(), r.body());
        assertEquals(type, error.path("type").asText(), r.body());
        assertTrue(error.has("param") && error.has("code"), r.body());
        return error;
    }

    private double gauge(String name) throws Exception {
        return value(get("/metrics").body(), name);
    }

    /** The value of the sample {@code name} (with its labels, as written) in a Prometheus text exposition. */
    private static double value(String exposition, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + " (\\S+)$").matcher(exposition);
        if (!m.find()) {
            fail("no sample " + name + " in\n" + exposition);
        }
        return Double.parseDouble(m.group(1));
    }

    private static void awaitTrue(BooleanSupplier condition, String message) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail(message);
            }
            Thread.sleep(10);
        }
    }

    private static BooleanSupplier unchecked(java.util.concurrent.Callable<Boolean> c) {
        return () -> {
            try {
                return c.call();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
    }
}
