package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** Reading request bodies and writing JSON responses of an {@link HttpExchange}. */
final class Exchanges {
    /**
     * The most request bytes dropped after a response, so that a client still sending a refused body reads the
     * response instead of a connection reset; a client sending more gets the reset.
     */
    static final int MAX_DISCARDED_BYTES = 4 << 20;

    private Exchanges() {
    }

    /**
     * The request body, read up to {@code limit} bytes: a longer body is refused (413) after reading at most
     * {@code limit + 1} bytes, or none when its {@code Content-Length} already says so.
     */
    static byte[] readBody(HttpExchange exchange, int limit) throws IOException {
        String declared = exchange.getRequestHeaders().getFirst("Content-Length");
        if (declared != null && declaredLength(declared) > limit) {
            throw tooLarge(limit);
        }
        byte[] body = exchange.getRequestBody().readNBytes(limit + 1); // the exchange closes the stream
        if (body.length > limit) {
            throw tooLarge(limit);
        }
        return body;
    }

    private static long declaredLength(String header) {
        try {
            return Long.parseLong(header.trim());
        } catch (NumberFormatException e) {
            return -1; // the server itself rejects a malformed Content-Length
        }
    }

    private static ApiException tooLarge(int limit) {
        return new ApiException(413, ApiException.INVALID_REQUEST, null,
                "the request body is larger than the limit of " + limit + " bytes");
    }

    /**
     * Sends {@code body} as the complete response with {@code status}. Before the response ends, what is left of
     * the request body (that of a refused request) is dropped, up to {@value #MAX_DISCARDED_BYTES} bytes: closing a
     * connection with unread data resets it, and the client would lose the response.
     */
    static void sendJson(HttpExchange exchange, int status, JsonNode body, ObjectMapper mapper) throws IOException {
        byte[] bytes = mapper.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
            out.flush();
            discardRequestBody(exchange.getRequestBody());
        }
    }

    private static void discardRequestBody(InputStream in) {
        byte[] buffer = new byte[8192];
        try {
            for (long dropped = 0; dropped < MAX_DISCARDED_BYTES; ) {
                int n = in.read(buffer, 0, (int) Math.min(buffer.length, MAX_DISCARDED_BYTES - dropped));
                if (n < 0) {
                    return;
                }
                dropped += n;
            }
        } catch (IOException e) {
            // the client is gone: nothing to protect
        }
    }
}
