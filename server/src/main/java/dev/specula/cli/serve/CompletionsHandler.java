package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.specula.Completion;
import dev.specula.GenerationRequest;
import dev.specula.TextListener;
import dev.specula.core.decode.FinishReason;
import dev.specula.core.decode.GenerationMetrics;
import io.javalin.http.Context;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * {@code POST /v1/completions} and {@code POST /v1/chat/completions}: parses the request, waits for a generation
 * slot ({@link Admission}), generates, and answers with one JSON object or, for {@code "stream": true}, with
 * server-sent events as the text is generated. A stream whose client goes away cancels its generation; the
 * request's time limit ends it with finish reason {@code length}.
 */
final class CompletionsHandler {
    private static final Logger LOG = LoggerFactory.getLogger(CompletionsHandler.class);

    private final CompletionEngine engine;
    private final CompletionFormat format;
    private final RequestParser parser;
    private final ObjectMapper mapper;
    private final Function<GenerationMetrics, ? extends JsonNode> metricsJson;
    private final Admission admission;
    private final ServeMetrics metrics;
    private final Duration timeout;

    CompletionsHandler(CompletionEngine engine, CompletionFormat format, RequestParser parser, ObjectMapper mapper,
                       Function<GenerationMetrics, ? extends JsonNode> metricsJson, Admission admission,
                       ServeMetrics metrics, Duration timeout) {
        this.engine = engine;
        this.format = format;
        this.parser = parser;
        this.mapper = mapper;
        this.metricsJson = metricsJson;
        this.admission = admission;
        this.metrics = metrics;
        this.timeout = timeout;
    }

    void handle(Context ctx, RequestRecord record) throws IOException, InterruptedException {
        JsonFields fields = parser.read(Bodies.read(ctx.req(), Bodies.MAX_BODY_BYTES));
        CompletionSpec spec = format == CompletionFormat.CHAT ? parser.chat(fields) : parser.completion(fields);
        CompletionJson json = new CompletionJson(mapper, metricsJson, format, spec.model());
        long timeoutNanos = timeout.toNanos();
        long deadline = timeoutNanos > 0 ? record.arrivalNanos() + timeoutNanos : Long.MAX_VALUE;
        try (Admission.Slot slot = admission.enter(deadline)) {
            metrics.queued(System.nanoTime() - record.arrivalNanos());
            if (spec.stream()) {
                stream(ctx, spec, json, record, timeoutNanos);
            } else {
                GenerationTracker tracker = new GenerationTracker(record.arrivalNanos(), timeoutNanos,
                        admission::stopping, metrics::step);
                Completion c = generate(spec.toRequest((text, fromDraft) -> tracker.text(), tracker), tracker,
                        record);
                Bodies.sendJson(ctx, 200, json.full(c, tracker.timedOut()), mapper);
            }
        }
    }

    private void stream(Context ctx, CompletionSpec spec, CompletionJson json, RequestRecord record,
                        long timeoutNanos) {
        SseStream sse = new SseStream(ctx.res(), mapper);
        BooleanSupplier abandoned = () -> sse.disconnected() || admission.stopping();
        GenerationTracker tracker = new GenerationTracker(record.arrivalNanos(), timeoutNanos, abandoned,
                metrics::step);
        Runnable announceRole = () -> {
            if (!sse.started() && format.announcesRole()) {
                sse.send(json.roleChunk());
            }
        };
        TextListener listener = (text, fromDraft) -> {
            tracker.text();
            announceRole.run();
            sse.send(json.textChunk(text));
        };
        try {
            Completion c = generate(spec.toRequest(listener, tracker), tracker, record);
            if (sse.disconnected()) {
                LOG.info("{} client disconnected: generation cancelled after {} tokens", record.id(),
                        c.tokenIds().length);
                return;
            }
            announceRole.run();
            sse.send(json.lastChunk(c, tracker.timedOut()));
            sse.done();
        } catch (RuntimeException | Error e) {
            if (sse.started()) { // the 200 is out: the error can only go into the stream
                sse.send((e instanceof ApiException api ? api : ApiException.serverError(e)).toJson(mapper));
            }
            throw e;
        }
    }

    /** Runs the generation and records it; a request the library rejects (an IllegalArgumentException) is a 400. */
    private Completion generate(GenerationRequest request, GenerationTracker tracker, RequestRecord record) {
        Completion c;
        try {
            c = engine.generate(request);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(null, e.getMessage());
        }
        tracker.finished(c);
        String finish = c.finishReason() == FinishReason.CANCELLED && !tracker.timedOut() ? "abort"
                : CompletionJson.finishReason(c.finishReason(), tracker.timedOut());
        record.generated(c, finish);
        metrics.finished(c, finish, System.nanoTime() - record.arrivalNanos(), tracker.firstTextNanos());
        return c;
    }
}
