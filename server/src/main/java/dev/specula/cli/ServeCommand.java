package dev.specula.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.specula.Specula;
import dev.specula.cli.serve.OpenAiServer;
import dev.specula.onnx.OnnxCausalLM;
import io.micrometer.core.instrument.Gauge;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code specula serve}: an OpenAI-compatible HTTP server ({@code /v1/completions}, {@code /v1/chat/completions},
 * {@code /v1/models}, {@code /health}, {@code /metrics}) until the process is stopped. Prints
 * {@code specula serve: listening on http://HOST:PORT} on stdout once it accepts requests; logs (one access-log
 * line per request) go to stderr.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve an OpenAI-compatible HTTP API (completions, chat completions, streaming, Prometheus"
                + " metrics) on loopback.")
final class ServeCommand implements Callable<Integer> {
    /** How long a stopping server waits for its (cancelled) generations before the models are left to the OS. */
    private static final Duration SHUTDOWN_GRACE = Duration.ofSeconds(5);
    private static final Logger LOG = LoggerFactory.getLogger(ServeCommand.class);

    @Mixin
    ModelOptions models;

    @Option(names = "--port", paramLabel = "N", defaultValue = "8080", description = "Port to listen on; 0 picks a"
            + " free one. Default: ${DEFAULT-VALUE}.")
    int port;

    @Option(names = "--host", paramLabel = "ADDRESS", defaultValue = "127.0.0.1",
            description = "Address to listen on. Default: ${DEFAULT-VALUE} (this machine only; the server has no"
                    + " authentication).")
    String host;

    @Option(names = {"--max-running", "--concurrency"}, paramLabel = "N", defaultValue = "8",
            description = "The most generations running at once. Default: ${DEFAULT-VALUE}.")
    int maxRunning;

    @Option(names = "--max-waiting", paramLabel = "N", defaultValue = "64",
            description = "The most requests waiting for a generation slot; more are refused with 429 and"
                    + " Retry-After. Default: ${DEFAULT-VALUE}.")
    int maxWaiting;

    @Option(names = "--request-timeout", paramLabel = "SECONDS", defaultValue = "300",
            description = "Time limit of a request from its arrival, waiting included: a generation still running"
                    + " then ends with finish_reason \"length\" (and \"timed_out\": true in its metrics), a request"
                    + " still waiting gets 503. 0: no limit. Default: ${DEFAULT-VALUE}.")
    long requestTimeoutSeconds;

    @Option(names = "--served-model-name", paramLabel = "NAME", split = ",",
            description = "The model name(s) requests may use; responses carry the first. Default: the --target"
                    + " directory's name, or " + ModelOptions.EMBEDDED_MODEL_NAME + " for the embedded pair.")
    List<String> servedModelNames;

    @Option(names = "--verbose", description = "Debug logging: stack traces of errors, and access-log lines for"
            + " /health and /metrics too.")
    boolean verbose;

    private final PrintStream out = System.out;

    @Override
    public Integer call() throws Exception {
        if (verbose) {
            Logging.verbose();
        }
        if (requestTimeoutSeconds < 0) {
            throw new IllegalArgumentException("--request-timeout must be >= 0 (0 = no limit), got "
                    + requestTimeoutSeconds);
        }
        ObjectMapper mapper = new ObjectMapper();
        List<String> names = servedModelNames != null ? servedModelNames : List.of(models.modelName());
        OpenAiServer.Config config = OpenAiServer.Config.builder(names, metrics -> Json.metrics(mapper, metrics))
                .host(host).port(port).maxRunning(maxRunning).maxWaiting(maxWaiting)
                .requestTimeout(Duration.ofSeconds(requestTimeoutSeconds))
                .build(); // validates the options before loading models
        models.scheduling();
        if (!InetAddress.getByName(host).isLoopbackAddress()) {
            LOG.warn("listening on {}, reachable from other machines; the server has no authentication", host);
        }
        OpenAiServer server = OpenAiServer.bind(config); // fails on a taken port before the models load
        Specula specula;
        try {
            specula = models.open();
        } catch (RuntimeException e) {
            server.stop(Duration.ZERO);
            throw e;
        }
        if (!specula.chatTemplate().isModelTemplate()) {
            LOG.warn("model {} has no chat template: chat requests use a generic \"### Role:\" layout the model was"
                    + " not trained on", names.get(0));
        }
        registerModelGauges(server, specula);
        server.start(specula::generate);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (server.stop(SHUTDOWN_GRACE)) {
                specula.close(); // else a generation still runs on the models: the exiting process frees them
            }
        }, "specula-serve-shutdown"));
        out.println("specula serve: listening on " + server.url());
        out.flush();
        server.awaitStop();
        return 0;
    }

    /** KV-cache sequences each model holds: back to 0 when no generation runs, so a leak shows on a dashboard. */
    private static void registerModelGauges(OpenAiServer server, Specula specula) {
        Gauge.builder("specula.open_sequences", specula.target(), OnnxCausalLM::openSequences).tag("model", "target")
                .description("KV-cache sequences the model holds (one per running generation)")
                .register(server.meterRegistry());
        specula.draftModel().ifPresent(draft -> Gauge.builder("specula.open_sequences", draft,
                        OnnxCausalLM::openSequences).tag("model", "draft")
                .description("KV-cache sequences the model holds (one per running generation)")
                .register(server.meterRegistry()));
    }
}
