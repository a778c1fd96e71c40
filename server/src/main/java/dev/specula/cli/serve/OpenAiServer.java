package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.specula.core.decode.GenerationMetrics;
import io.javalin.Javalin;
import io.javalin.compression.CompressionStrategy;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import io.javalin.util.JavalinBindException;
import io.micrometer.core.instrument.MeterRegistry;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * An OpenAI-compatible HTTP server (Javalin on Jetty) over one {@link CompletionEngine}: {@code POST /v1/completions},
 * {@code POST /v1/chat/completions} (both optionally streamed as server-sent events), {@code GET /v1/models},
 * {@code GET /health} and {@code GET /metrics} (Prometheus). At most {@code maxRunning} generations run at once
 * and {@code maxWaiting} more wait; beyond that a request gets 429 with {@code Retry-After}. Beyond OpenAI's fields,
 * a request may set {@code "speculative": false} (plain decoding), {@code top_k} and {@code min_p}, and responses
 * carry the generation's metrics under {@code "specula"}. Every request gets an {@code X-Request-Id} (the client's,
 * if it sent a plausible one) and one access-log line on the SLF4J logger {@code dev.specula.cli.serve.access}.
 *
 * <pre>{@code
 * OpenAiServer server = OpenAiServer.bind(OpenAiServer.Config.builder(List.of("my-model"),
 *         metrics -> Json.metrics(mapper, metrics)).port(8080).build());   // fails fast if the port is taken
 * server.start(specula::generate);
 * ...
 * if (server.stop(Duration.ofSeconds(5))) {
 *     specula.close();
 * }
 * }</pre>
 *
 * <p>The server does not own the engine: close it after {@link #stop(Duration)} returned true.
 */
public final class OpenAiServer {
    /** The largest request body accepted (1 MiB); a larger one is answered with 413. */
    public static final int MAX_BODY_BYTES = Bodies.MAX_BODY_BYTES;
    /** How long an idle keep-alive connection, or a request that neither reads nor writes, is kept. */
    static final Duration IDLE_TIMEOUT = Duration.ofMinutes(10);
    /** Threads beyond the running and waiting generations, for cheap requests and for refusing the excess. */
    private static final int SPARE_THREADS = 16;
    /** The least time stopping leaves requests in progress to finish their answers, whatever the grace left. */
    private static final Duration MIN_DRAIN = Duration.ofSeconds(1);
    private static final Pattern CLIENT_REQUEST_ID = Pattern.compile("[A-Za-z0-9._:-]{1,64}");
    private static final Logger LOG = LoggerFactory.getLogger(OpenAiServer.class);
    private static final Logger ACCESS = LoggerFactory.getLogger("dev.specula.cli.serve.access");
    private static final String HANDLED = "specula.handled";

    /** Handles one request; may throw {@link ApiException} for an error response. */
    @FunctionalInterface
    private interface Handler {
        void handle(Context ctx, RequestRecord record) throws Exception;
    }

    private record Route(HandlerType method, String path, Handler handler) {
    }

    /**
     * What and how to serve.
     *
     * @param host           the address to listen on (a loopback address unless the server is meant to be reachable)
     * @param port           the port; 0 picks a free one
     * @param maxRunning     the most generations running at once
     * @param maxWaiting     the most requests waiting for a generation slot; more get 429
     * @param requestTimeout the time limit of a request from its arrival, waiting included; zero for none
     * @param modelNames     the names the server answers to in {@code model}; responses carry the first
     * @param metricsJson    the JSON form of a generation's metrics
     */
    public record Config(String host, int port, int maxRunning, int maxWaiting, Duration requestTimeout,
                         List<String> modelNames, Function<GenerationMetrics, ? extends JsonNode> metricsJson) {
        public Config {
            Objects.requireNonNull(host, "host");
            Objects.requireNonNull(requestTimeout, "requestTimeout");
            Objects.requireNonNull(metricsJson, "metricsJson");
            modelNames = List.copyOf(modelNames);
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("--port must be in [0, 65535] (0 = any free port), got " + port);
            }
            if (maxRunning < 1) {
                throw new IllegalArgumentException("--max-running must be >= 1, got " + maxRunning);
            }
            if (maxWaiting < 0) {
                throw new IllegalArgumentException("--max-waiting must be >= 0, got " + maxWaiting);
            }
            if (requestTimeout.isNegative()) {
                throw new IllegalArgumentException("--request-timeout must be >= 0 (0 = none), got " + requestTimeout);
            }
            if (modelNames.isEmpty() || modelNames.stream().anyMatch(String::isBlank)) {
                throw new IllegalArgumentException("--served-model-name needs one or more non-blank names, got "
                        + modelNames);
            }
        }

        /** Loopback, port 8080, 8 running, 64 waiting, no time limit. */
        public static Builder builder(List<String> modelNames, Function<GenerationMetrics, ? extends JsonNode> json) {
            return new Builder(modelNames, json);
        }

        /** Builder of a {@link Config}. */
        public static final class Builder {
            private final List<String> modelNames;
            private final Function<GenerationMetrics, ? extends JsonNode> metricsJson;
            private String host = "127.0.0.1";
            private int port = 8080;
            private int maxRunning = 8;
            private int maxWaiting = 64;
            private Duration requestTimeout = Duration.ZERO;

            private Builder(List<String> modelNames, Function<GenerationMetrics, ? extends JsonNode> metricsJson) {
                this.modelNames = modelNames;
                this.metricsJson = metricsJson;
            }

            public Builder host(String host) {
                this.host = host;
                return this;
            }

            public Builder port(int port) {
                this.port = port;
                return this;
            }

            public Builder maxRunning(int maxRunning) {
                this.maxRunning = maxRunning;
                return this;
            }

            public Builder maxWaiting(int maxWaiting) {
                this.maxWaiting = maxWaiting;
                return this;
            }

            public Builder requestTimeout(Duration requestTimeout) {
                this.requestTimeout = requestTimeout;
                return this;
            }

            public Config build() {
                return new Config(host, port, maxRunning, maxWaiting, requestTimeout, modelNames, metricsJson);
            }
        }
    }

    private final Config config;
    private final ObjectMapper mapper = new ObjectMapper();
    private final Admission admission;
    private final ServeMetrics metrics;
    private final Map<String, Route> routes = new LinkedHashMap<>();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Javalin app;
    /** Counts the requests in progress at Jetty's level, so that stopping can wait for their answers. */
    private final GracefulHandler requests = new GracefulHandler();
    private volatile CompletionEngine engine;

    private OpenAiServer(Config config) {
        this.config = config;
        this.admission = new Admission(config.maxRunning(), config.maxWaiting());
        this.metrics = new ServeMetrics(admission);
        RequestParser parser = new RequestParser(mapper, config.modelNames());
        route(HandlerType.POST, "/v1/completions", completions(CompletionFormat.TEXT, parser));
        route(HandlerType.POST, "/v1/chat/completions", completions(CompletionFormat.CHAT, parser));
        ObjectNode models = models(System.currentTimeMillis() / 1000);
        route(HandlerType.GET, "/v1/models", (ctx, record) -> Bodies.sendJson(ctx, 200, models, mapper));
        route(HandlerType.GET, "/health", (ctx, record) -> {
            String status = admission.stopping() ? "stopping" : engine == null ? "loading" : "ok";
            Bodies.sendJson(ctx, status.equals("ok") ? 200 : 503, mapper.createObjectNode().put("status", status),
                    mapper);
        });
        route(HandlerType.GET, "/metrics", (ctx, record) -> {
            ctx.status(200);
            ctx.contentType("text/plain; version=0.0.4; charset=utf-8");
            ctx.result(metrics.scrape().getBytes(StandardCharsets.UTF_8));
        });
        int threads = config.maxRunning() + config.maxWaiting() + SPARE_THREADS;
        this.app = Javalin.create(c -> {
            c.startup.showJavalinBanner = false;
            c.startup.showOldJavalinVersionWarning = false;
            c.http.compressionStrategy = CompressionStrategy.NONE;
            c.http.maxRequestSize = Long.MAX_VALUE; // Bodies.read enforces the limit with a 413 in OpenAI's shape
            c.jetty.host = config.host();
            c.jetty.port = config.port();
            QueuedThreadPool pool = new QueuedThreadPool(threads, Math.min(threads, 8));
            pool.setName("specula-serve");
            pool.setDaemon(true);
            c.jetty.threadPool = pool;
            // Stopping lets requests in progress finish writing their answers (a waiting request's 503) before the
            // connections close; Javalin puts its handlers inside this one.
            c.jetty.modifyServer(server -> server.setHandler(requests));
            routes.forEach((path, route) -> c.routes.addHttpHandler(route.method(), path, ctx -> serve(ctx, route)));
            // Javalin answers an unmatched method or path with 404: ours says which, in OpenAI's shape.
            c.routes.error(404, "*", ctx -> {
                if (ctx.attribute(HANDLED) == null) {
                    serve(ctx, null);
                }
            });
        });
    }

    private void route(HandlerType method, String path, Handler handler) {
        routes.put(path, new Route(method, path, handler));
    }

    private Handler completions(CompletionFormat format, RequestParser parser) {
        return (ctx, record) -> {
            CompletionEngine e = engine;
            if (e == null) {
                throw ApiException.unavailable("model_loading", "the model is still loading", 1);
            }
            new CompletionsHandler(e, format, parser, mapper, config.metricsJson(), admission, metrics,
                    config.requestTimeout()).handle(ctx, record);
        };
    }

    /**
     * Binds the address and starts answering, so that a taken port fails before any model is loaded; generation
     * requests get 503 until {@link #start(CompletionEngine)}.
     *
     * @throws IOException if the address cannot be bound (e.g. the port is in use)
     */
    public static OpenAiServer bind(Config config) throws IOException {
        InetAddress.getByName(config.host()); // an unknown host fails here, with its name
        OpenAiServer server = new OpenAiServer(config);
        try {
            server.app.start();
        } catch (JavalinBindException e) {
            server.app.stop();
            throw new IOException("cannot listen on " + config.host() + ":" + config.port() + ": "
                    + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()), e);
        }
        server.idleTimeout(IDLE_TIMEOUT);
        return server;
    }

    /** Sets the idle timeout of the connections accepted from now on. */
    void idleTimeout(Duration timeout) {
        for (Connector connector : app.jettyServer().server().getConnectors()) {
            if (connector instanceof ServerConnector c) {
                c.setIdleTimeout(timeout.toMillis());
            }
        }
    }

    /** Serves generation requests with {@code engine}. */
    public void start(CompletionEngine engine) {
        this.engine = Objects.requireNonNull(engine, "engine");
        LOG.info("model {}: at most {} generations at once, {} waiting, request timeout {}",
                config.modelNames().get(0), config.maxRunning(), config.maxWaiting(),
                config.requestTimeout().isZero() ? "none" : config.requestTimeout());
    }

    /** The meters behind {@code /metrics}. */
    public MeterRegistry meterRegistry() {
        return metrics.registry();
    }

    /** Runs one request: the route's handler, errors in OpenAI's shape, a metric and an access-log line. */
    private void serve(Context ctx, Route route) {
        ctx.attribute(HANDLED, Boolean.TRUE);
        RequestRecord record = new RequestRecord(requestId(ctx.header("X-Request-Id")), System.nanoTime());
        ctx.header("X-Request-Id", record.id());
        String path = ctx.path();
        String method = ctx.req().getMethod();
        try {
            if (route == null) {
                throw notRouted(ctx, path, method);
            }
            route.handler().handle(ctx, record);
        } catch (ApiException e) {
            respond(ctx, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            respond(ctx, ApiException.unavailable("server_shutting_down", "the request was interrupted", 1));
        } catch (Exception | Error e) { // an Error too (say, a LinkageError): answer it rather than drop the connection
            LOG.error("{} {} {} failed", record.id(), method, path, e);
            respond(ctx, ApiException.serverError(e));
        } finally {
            int status = ctx.res().getStatus();
            metrics.request(route == null ? "other" : route.path(), status); // bounded tag values
            String line = record.line(method, path, status);
            if (route != null && route.method() == HandlerType.GET && !path.startsWith("/v1/")) {
                ACCESS.debug(line); // health checks and scrapes: not worth a line each by default
            } else {
                ACCESS.info(line);
            }
        }
    }

    private ApiException notRouted(Context ctx, String path, String method) {
        Route route = routes.get(path);
        if (route == null) {
            String served = routes.entrySet().stream().map(r -> r.getValue().method() + " " + r.getKey())
                    .collect(Collectors.joining(", "));
            return new ApiException(404, ApiException.NOT_FOUND, null,
                    "no such path: " + path + "; this server serves " + served);
        }
        ctx.header("Allow", route.method().name());
        return new ApiException(405, ApiException.INVALID_REQUEST, null, "method " + method
                + " is not allowed on " + path + "; use " + route.method());
    }

    /** Sends the error, unless a response (a stream, which then carries the error itself) has begun. */
    private void respond(Context ctx, ApiException error) {
        if (ctx.res().isCommitted()) {
            return;
        }
        error.retryAfterSeconds().ifPresent(s -> ctx.header("Retry-After", Integer.toString(s)));
        try {
            Bodies.sendJson(ctx, error.status(), error.toJson(mapper), mapper);
        } catch (IOException | RuntimeException e) {
            LOG.error("cannot send the error response ({})", error.getMessage(), e);
        }
    }

    private static String requestId(String fromClient) {
        if (fromClient != null && CLIENT_REQUEST_ID.matcher(fromClient).matches()) {
            return fromClient;
        }
        return String.format("req-%012x", ThreadLocalRandom.current().nextLong() >>> 16);
    }

    private ObjectNode models(long created) {
        ObjectNode list = mapper.createObjectNode();
        list.put("object", "list");
        ArrayNode data = list.putArray("data");
        for (String name : config.modelNames()) {
            data.addObject().put("id", name).put("object", "model").put("created", created).put("owned_by", "specula");
        }
        return list;
    }

    /** The address listened on (with the actual port when 0 was asked for). */
    public InetSocketAddress address() {
        return new InetSocketAddress(config.host(), app.port());
    }

    /** {@code http://host:port} of the server. */
    public String url() {
        InetSocketAddress a = address();
        String host = a.getAddress().getHostAddress();
        return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    /**
     * Refuses new requests (503), cancels the generations in progress at their next step, waits up to
     * {@code grace} for them to end, and stops the HTTP server once the requests in progress have written their
     * answers (within the grace left, and at least {@link #MIN_DRAIN}). Idempotent.
     *
     * @return whether every generation ended, so that the engine may be closed
     */
    public boolean stop(Duration grace) {
        long deadline = System.nanoTime() + grace.toNanos();
        admission.stop();
        try {
            return admission.awaitIdle(grace);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            drain(Math.max(MIN_DRAIN.toNanos(), deadline - System.nanoTime()));
            app.stop();
            stopped.countDown();
        }
    }

    /** Waits up to {@code nanos} for the requests in progress to write their answers; new ones get 503. */
    private void drain(long nanos) {
        try {
            requests.shutdown().get(nanos, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            LOG.warn("stopping with requests still in progress: {}", e.toString());
        }
    }

    /** Blocks until {@link #stop(Duration)} is called. */
    public void awaitStop() throws InterruptedException {
        stopped.await();
    }
}
