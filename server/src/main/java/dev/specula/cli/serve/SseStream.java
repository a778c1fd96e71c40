package dev.specula.cli.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.servlet.http.HttpServletResponse;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A response of server-sent events exactly as OpenAI frames them ({@code data: <json>\n\n}, each flushed at once,
 * ending with {@code data: [DONE]\n\n}; no {@code event:} or {@code id:} lines), written straight to the servlet
 * response. The 200 headers go out with the first event, so that a request failing before it (say, a prompt longer
 * than the context) can still be answered with an error status. A failed write means the client went away: the
 * stream then reports {@link #disconnected()} and drops further events, so that the generation feeding it can be
 * cancelled. Used by one thread at a time.
 */
final class SseStream {
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);

    private final HttpServletResponse response;
    private final ObjectMapper mapper;
    private OutputStream out;
    private volatile boolean disconnected;

    SseStream(HttpServletResponse response, ObjectMapper mapper) {
        this.response = response;
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
                response.setStatus(200);
                response.setContentType("text/event-stream; charset=utf-8");
                response.setHeader("Cache-Control", "no-cache");
                out = response.getOutputStream();
            }
            out.write(bytes);
            out.flush();
        } catch (IOException e) {
            disconnected = true;
        }
    }
}
