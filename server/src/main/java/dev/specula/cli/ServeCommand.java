package dev.specula.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.specula.Specula;
import dev.specula.cli.serve.OpenAiServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * {@code specula serve}: an OpenAI-compatible HTTP server ({@code /v1/completions}, {@code /v1/chat/completions},
 * {@code /v1/models}, {@code /health}) until the process is stopped. Prints
 * {@code specula serve: listening on http://HOST:PORT} once it accepts requests.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve an OpenAI-compatible HTTP API (completions, chat completions, streaming) on loopback.")
final class ServeCommand implements Callable<Integer> {
    /** How long a stopping server waits for its (cancelled) generations before the models are left to the OS. */
    private static final Duration SHUTDOWN_GRACE = Duration.ofSeconds(5);

    @Mixin
    ModelOptions models;

    @Option(names = "--port", paramLabel = "N", defaultValue = "8080",
            description = "Port to listen on; 0 picks a free one. Default: ${DEFAULT-VALUE}.")
    int port;

    @Option(names = "--host", paramLabel = "ADDRESS", defaultValue = "127.0.0.1",
            description = "Address to listen on. Default: ${DEFAULT-VALUE} (this machine only; the server has no"
                    + " authentication).")
    String host;

    @Option(names = "--concurrency", paramLabel = "N", defaultValue = "8",
            description = "Worker threads: the most requests served at once. Default: ${DEFAULT-VALUE}.")
    int concurrency;

    @Option(names = "--verbose", description = "Log every request, and stack traces of errors, on stderr.")
    boolean verbose;

    private final PrintStream out = System.out;
    private final PrintStream err = System.err;

    @Override
    public Integer call() throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        OpenAiServer.Config config = new OpenAiServer.Config(host, port, concurrency, verbose, models.targetDir(),
                metrics -> Json.metrics(mapper, metrics)); // validates port and concurrency before loading models
        models.scheduling();
        if (!InetAddress.getByName(host).isLoopbackAddress()) {
            err.println("specula serve: warning: listening on " + host + ", reachable from other machines;"
                    + " the server has no authentication");
        }
        OpenAiServer server = OpenAiServer.bind(config); // fails on a taken port before the models load
        Specula specula;
        try {
            specula = models.open();
        } catch (RuntimeException e) {
            server.stop(Duration.ZERO);
            throw e;
        }
        server.start(specula);
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
}
