package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import dev.specula.Specula;
import dev.specula.core.decode.GenerationMetrics;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * An OpenAI-compatible HTTP server over one {@link Specula} instance: {@code POST /v1/completions},
 * {@code POST /v1/chat/completions} (both optionally streamed as server-sent events), {@code GET /v1/models} and
 * {@code GET /health}. Requests run concurrently on a fixed pool of worker threads. Beyond OpenAI's fields, a
 * request may set {@code "speculative": false} (plain decoding), {@code top_k} and {@code min_p}, and responses
 * carry the generation's metrics under {@code "specula"}.
 *
 * <pre>{@code
 * OpenAiServer server = OpenAiServer.bind(new OpenAiServer.Config("127.0.0.1", 8080, 8, false, targetDir,
 *         metrics -> Json.metrics(mapper, metrics)));   // fails fast if the port is taken
 * server.start(specula);
 * ...
 * if (server.stop(Duration.ofSeconds(5))) {
 *     specula.close();
 * }
 * }</pre>
 *
 * <p>The server does not own the Specula instance: close it after {@link #stop(Duration)} returned true.
 */
public final class OpenAiServer {
    /** The largest request body accepted (1 MiB); a larger one is answered with 413. */
    public static final int MAX_BODY_BYTES = 1 << 20;

    private final HttpServer http;
    private final Config config;
    private final String model;
    private final ExecutorService workers;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean started;
    private volatile boolean stopping;

    /**
     * What and how to serve.
     *
     * @param host        the address to listen on (a loopback address unless the server is meant to be reachable)
     * @param port        the port; 0 picks a free one
     * @param concurrency worker threads, the most requests handled at once
     * @param verbose     log every request, and stack traces of failures, on stderr
     * @param targetDir   the target model's directory: its name is the model id, its tokenizer_config.json gives
     *                    (the Specula instance given to start reads its chat template)
     * @param metricsJson the JSON form of a generation's metrics
     */
    public record Config(String host, int port, int concurrency, boolean verbose, Path targetDir,
                         Function<GenerationMetrics, ? extends JsonNode> metricsJson) {
        public Config {
            Objects.requireNonNull(host, "host");
            Objects.requireNonNull(targetDir, "targetDir");
            Objects.requireNonNull(metricsJson, "metricsJson");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("--port must be in [0, 65535] (0 = any free port), got " + port);
            }
            if (concurrency < 1) {
                throw new IllegalArgumentException("--concurrency must be >= 1, got " + concurrency);
            }
        }
    }

    private OpenAiServer(HttpServer http, Config config) {
        this.http = http;
        this.config = config;
        this.model = String.valueOf(config.targetDir().toAbsolutePath().normalize().getFileName());
        this.workers = Executors.newFixedThreadPool(config.concurrency(), workerThreads());
    }

    /**
     * Binds the address, so that a taken port fails before any model is loaded; requests wait until
     * {@link #start(Specula)}.
     *
     * @throws IOException if the address cannot be bound (e.g. the port is in use)
     */
    public static OpenAiServer bind(Config config) throws IOException {
        InetSocketAddress address = new InetSocketAddress(InetAddress.getByName(config.host()), config.port());
        try {
            return new OpenAiServer(HttpServer.create(address, 0), config);
        } catch (IOException e) {
            throw new IOException("cannot listen on " + config.host() + ":" + config.port() + ": " + e.getMessage(), e);
        }
    }

    /** Serves requests with {@code specula}. */
    public void start(Specula specula) {
        ObjectMapper mapper = new ObjectMapper();
        ServerLog log = new ServerLog(System.err, config.verbose());
        RequestParser parser = new RequestParser(mapper, model);
        Router router = new Router(mapper, log);
        router.route("POST", "/v1/completions", new CompletionsHandler(specula, CompletionFormat.TEXT, parser,
                mapper, config.metricsJson(), () -> stopping, log));
        router.route("POST", "/v1/chat/completions", new CompletionsHandler(specula, CompletionFormat.CHAT, parser,
                mapper, config.metricsJson(), () -> stopping, log));
        ObjectNode models = models(mapper, model, System.currentTimeMillis() / 1000);
        router.route("GET", "/v1/models", exchange -> Exchanges.sendJson(exchange, 200, models, mapper));
        ObjectNode health = mapper.createObjectNode().put("status", "ok");
        router.route("GET", "/health", exchange -> Exchanges.sendJson(exchange, 200, health, mapper));
        http.createContext("/", router);
        http.setExecutor(workers);
        http.start();
        started = true;
        if (!specula.chatTemplate().isModelTemplate()) {
            log.warn("model " + model + " has no chat template: chat requests use a generic \"### Role:\" layout"
                    + " the model was not trained on");
        }
        log.info("model " + model + ", " + config.concurrency() + " workers");
    }

    private static ObjectNode models(ObjectMapper mapper, String model, long created) {
        ObjectNode list = mapper.createObjectNode();
        list.put("object", "list");
        list.putArray("data").addObject().put("id", model).put("object", "model").put("created", created)
                .put("owned_by", "specula");
        return list;
    }

    private static ThreadFactory workerThreads() {
        AtomicInteger count = new AtomicInteger();
        return task -> {
            Thread t = new Thread(task, "specula-serve-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** The address listened on (with the actual port when 0 was asked for). */
    public InetSocketAddress address() {
        return http.getAddress();
    }

    /** {@code http://host:port} of the server. */
    public String url() {
        InetSocketAddress a = address();
        String host = a.getAddress().getHostAddress();
        return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    /**
     * Stops accepting requests, cancels the generations in progress and waits up to {@code grace} for the workers
     * to finish. Idempotent.
     *
     * @return whether every worker finished, so that the Specula instance may be closed
     */
    public boolean stop(Duration grace) {
        stopping = true;
        try {
            http.stop(started ? 1 : 0); // a second for the handlers of cancelled generations to answer
            workers.shutdown();
            return workers.awaitTermination(grace.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            stopped.countDown();
        }
    }

    /** Blocks until {@link #stop(Duration)} is called. */
    public void awaitStop() throws InterruptedException {
        stopped.await();
    }
}
