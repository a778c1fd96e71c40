package dev.specula.cli.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A response of server-sent events ({@code data: <json>\n\n}, each flushed at once, ending with
 * {@code data: [DONE]}) over chunked transfer. The 200 headers go out with the first event, so that a request
 * failing before it (say, a prompt longer than the context) can still be answered with an error status. A failed
 * write means the client went away: the stream then reports {@link #disconnected()} and drops further events, so
 * that the generation feeding it can be cancelled.
 */
final class SseStream implements AutoCloseable {
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);

    private final HttpExchange exchange;
    private final ObjectMapper mapper;
    private OutputStream out;
    private volatile boolean disconnected;

    SseStream(HttpExchange exchange, ObjectMapper mapper) {
        this.exchange = exchange;
        this.mapper = mapper;
    }

    /** Sends one event holding {@code event} as JSON (first the response headers, if not yet sent). */
    void send(JsonNode event) {
        try {
            write(("data: " + mapper.writeValueAsString(event) + "\n\n").getBytes(StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write an event as JSON", e);
        }
    }

    /** Sends the {@code [DONE]} event that ends an OpenAI stream. */
    void done() {
        write(DONE);
    }

    /** Whether the response has begun: after that, errors can only be sent as events. */
    boolean started() {
        return out != null;
    }

    /** Whether a write failed because the client closed the connection. */
    boolean disconnected() {
        return disconnected;
    }

    private void write(byte[] bytes) {
        if (disconnected) {
            return;
        }
        try {
            if (out == null) {
                exchange.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
                exchange.getResponseHeaders().set("Cache-Control", "no-cache");
                exchange.sendResponseHeaders(200, 0); // 0: chunked, of unknown length
                out = exchange.getResponseBody();
            }
            out.write(bytes);
            out.flush();
        } catch (IOException e) {
            disconnected = true;
        }
    }

    /** Ends the chunked body, if one was started (nothing to end when the client is gone). */
    @Override
    public void close() {
        if (out == null) {
            return;
        }
        try {
            out.close();
        } catch (IOException e) {
            disconnected = true;
        }
    }
}
