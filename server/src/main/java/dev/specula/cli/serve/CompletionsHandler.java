package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import dev.specula.Completion;
import dev.specula.GenerationRequest;
import dev.specula.Specula;
import dev.specula.TextListener;
import dev.specula.core.decode.GenerationMetrics;

import java.io.IOException;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * {@code POST /v1/completions} and {@code POST /v1/chat/completions}: parses the request, generates, and answers
 * with one JSON object or, for {@code "stream": true}, with server-sent events as the text is generated. A
 * stream whose client goes away cancels its generation.
 */
final class CompletionsHandler implements Router.Handler {
    private final Specula specula;
    private final CompletionFormat format;
    private final RequestParser parser;
    private final ObjectMapper mapper;
    private final Function<GenerationMetrics, ? extends JsonNode> metrics;
    private final BooleanSupplier stopping;
    private final ServerLog log;

    CompletionsHandler(Specula specula, CompletionFormat format, RequestParser parser, ObjectMapper mapper, Function<GenerationMetrics, ? extends JsonNode> metrics,
                       BooleanSupplier stopping, ServerLog log) {
        this.specula = specula;
        this.format = format;
        this.parser = parser;
        this.mapper = mapper;
        this.metrics = metrics;
        this.stopping = stopping;
        this.log = log;
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        JsonFields fields = parser.read(Exchanges.readBody(exchange, OpenAiServer.MAX_BODY_BYTES));
        CompletionSpec spec = format == CompletionFormat.CHAT ? parser.chat(fields) : parser.completion(fields);
        CompletionJson json = new CompletionJson(mapper, metrics, format, spec.model());
        if (spec.stream()) {
            stream(exchange, spec, json);
        } else {
            Completion c = generate(spec.toRequest(TextListener.NONE, stopping));
            Exchanges.sendJson(exchange, 200, json.full(c), mapper);
        }
    }

    private void stream(HttpExchange exchange, CompletionSpec spec, CompletionJson json) {
        try (SseStream sse = new SseStream(exchange, mapper)) {
            Runnable announceRole = () -> {
                if (!sse.started() && format.announcesRole()) {
                    sse.send(json.roleChunk());
                }
            };
            try {
                Completion c = generate(spec.toRequest((text, fromDraft) -> {
                    announceRole.run();
                    sse.send(json.textChunk(text));
                }, () -> sse.disconnected() || stopping.getAsBoolean()));
                if (sse.disconnected()) {
                    log.info("client disconnected: generation cancelled after " + c.tokenIds().length + " tokens");
                    return;
                }
                announceRole.run();
                sse.send(json.lastChunk(c));
                sse.done();
            } catch (RuntimeException | Error e) {
                if (sse.started()) { // the 200 is out: the error can only go into the stream
                    sse.send((e instanceof ApiException api ? api : ApiException.serverError(e)).toJson(mapper));
                }
                throw e;
            }
        }
    }

    /** Runs the generation; a request the library rejects (an IllegalArgumentException) is a 400. */
    private Completion generate(GenerationRequest request) {
        try {
            return specula.generate(request);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(null, e.getMessage());
        }
    }
}
