package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.http.Context;
import jakarta.servlet.http.HttpServletRequest;

import java.io.IOException;
import java.io.InputStream;

/** Reading request bodies within a size limit, and writing JSON responses. */
final class Bodies {
    /** The largest request body accepted (1 MiB); a larger one is answered with 413. */
    static final int MAX_BODY_BYTES = 1 << 20;
    /**
     * The most bytes of a refused body read and dropped before the 413 goes out, so that a client still sending
     * it reads the response instead of a connection reset; a client sending more gets the reset.
     */
    static final int MAX_DISCARDED_BYTES = 4 << 20;

    private Bodies() {
    }

    /**
     * The request body, read up to {@code limit} bytes: a longer body is refused (413) after reading at most
     * {@code limit + 1} bytes (and dropping up to {@value #MAX_DISCARDED_BYTES} more), or none when its
     * {@code Content-Length} already says so.
     */
    static byte[] read(HttpServletRequest request, int limit) throws IOException {
        InputStream in = request.getInputStream();
        if (request.getContentLengthLong() > limit) {
            throw tooLarge(in, limit);
        }
        byte[] body = in.readNBytes(limit + 1);
        if (body.length > limit) {
            throw tooLarge(in, limit);
        }
        return body;
    }

    private static ApiException tooLarge(InputStream in, int limit) {
        discard(in);
        return new ApiException(413, ApiException.INVALID_REQUEST, null,
                "the request body is larger than the limit of " + limit + " bytes");
    }

    private static void discard(InputStream in) {
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

    /** Sets {@code body} as the response with {@code status}. */
    static void sendJson(Context ctx, int status, JsonNode body, ObjectMapper mapper) throws IOException {
        ctx.status(status);
        ctx.contentType("application/json");
        ctx.result(mapper.writeValueAsBytes(body));
    }
}
