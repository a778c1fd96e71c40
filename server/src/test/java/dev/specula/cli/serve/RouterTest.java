package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The router on a real {@link HttpServer} with one worker thread: failures become JSON errors, the worker lives. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RouterTest {
    private final ObjectMapper mapper = new ObjectMapper();
    private final ByteArrayOutputStream log = new ByteArrayOutputStream();
    private final List<Thread> workers = new CopyOnWriteArrayList<>();
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private ExecutorService executor;
    private HttpServer server;

    @BeforeEach
    void start() throws Exception {
        Router router = new Router(mapper, new ServerLog(new PrintStream(log, true, StandardCharsets.UTF_8), false))
                .route("GET", "/ok", exchange -> {
                    workers.add(Thread.currentThread());
                    Exchanges.sendJson(exchange, 200, mapper.createObjectNode().put("ok", true), mapper);
                })
                .route("GET", "/bug", exchange -> {
                    workers.add(Thread.currentThread());
                    throw new IllegalStateException("a bug in a handler");
                })
                .route("POST", "/echo", exchange -> Exchanges.sendJson(exchange, 200,
                        mapper.createObjectNode().put("bytes", Exchanges.readBody(exchange, 10).length), mapper));
        executor = Executors.newSingleThreadExecutor();
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", router);
        server.setExecutor(executor);
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
        executor.shutdownNow();
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return client.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path));
    }

    private JsonNode error(HttpResponse<String> r, int status) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(""));
        return mapper.readTree(r.body()).path("error");
    }

    @Test
    void anExceptionIsA500WithItsMessageAndTheWorkerKeepsServing() throws Exception {
        JsonNode error = error(send(request("/bug")), 500);
        assertEquals("server_error", error.path("type").asText());
        assertTrue(error.path("message").asText().contains("a bug in a handler"), error.toString());
        assertTrue(error.path("param").isNull() && error.has("code"), error.toString());
        assertTrue(log.toString(StandardCharsets.UTF_8).contains("a bug in a handler"), "logged: " + log);

        assertEquals(200, send(request("/ok")).statusCode());
        assertEquals(2, workers.size());
        assertSame(workers.get(0), workers.get(1), "the worker thread survived the exception");
    }

    @Test
    void unknownPathIs404AndWrongMethodIs405() throws Exception {
        JsonNode notFound = error(send(request("/nope")), 404);
        assertEquals("not_found_error", notFound.path("type").asText());
        assertTrue(notFound.path("message").asText().contains("GET /ok"), "lists the paths: " + notFound);
        HttpResponse<String> r = send(request("/ok").POST(HttpRequest.BodyPublishers.ofString("{}")));
        assertEquals("invalid_request_error", error(r, 405).path("type").asText());
        assertEquals("GET", r.headers().firstValue("Allow").orElse(""));
    }

    @Test
    void bodiesOverTheLimitAre413WhetherTheirLengthIsDeclaredOrNot() throws Exception {
        assertEquals(200, send(request("/echo").POST(HttpRequest.BodyPublishers.ofString("0123456789"))).statusCode());
        error(send(request("/echo").POST(HttpRequest.BodyPublishers.ofString("0123456789A"))), 413);
        // A publisher of unknown length: chunked transfer, no Content-Length to go by.
        HttpRequest.BodyPublisher chunked = HttpRequest.BodyPublishers.ofInputStream(
                () -> new ByteArrayInputStream(new byte[100_000]));
        error(send(request("/echo").POST(chunked)), 413);
        assertEquals(200, send(request("/ok")).statusCode());
    }
}
