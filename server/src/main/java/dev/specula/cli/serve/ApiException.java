package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.OptionalInt;

/**
 * A request the server answers with an error in OpenAI's shape instead of a completion: the HTTP status, the error
 * type ({@code invalid_request_error}, {@code not_found_error}, {@code server_error}, ...), the offending request
 * field if any, OpenAI's machine-readable {@code code} if one applies ({@code model_not_found},
 * {@code rate_limit_exceeded}, ...), and for 429 and 503 the seconds after which to retry.
 */
final class ApiException extends RuntimeException {
    static final String INVALID_REQUEST = "invalid_request_error";
    static final String NOT_FOUND = "not_found_error";
    static final String SERVER_ERROR = "server_error";
    /** OpenAI's type of a 429 that limits requests (rather than tokens). */
    static final String RATE_LIMIT = "requests";

    private final int status;
    private final String type;
    private final String param;
    private final String code;
    private final int retryAfterSeconds;

    ApiException(int status, String type, String param, String message) {
        this(status, type, param, null, message, -1);
    }

    private ApiException(int status, String type, String param, String code, String message, int retryAfterSeconds) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** 400: the request names {@code param} (or no single field, when null) with a bad value. */
    static ApiException badRequest(String param, String message) {
        return new ApiException(400, INVALID_REQUEST, param, message);
    }

    /** 400 for a parameter the server does not implement, with a value that would change the result. */
    static ApiException unsupported(String param, String message) {
        return new ApiException(400, INVALID_REQUEST, param, "unsupported_parameter", message, -1);
    }

    /** 404 for a {@code model} this server does not serve, as OpenAI answers it. */
    static ApiException modelNotFound(String model, String served) {
        return new ApiException(404, INVALID_REQUEST, "model", "model_not_found", "the model '" + model
                + "' does not exist: this server serves " + served, -1);
    }

    /** 429: too many requests in flight and waiting; retry after {@code retryAfterSeconds}. */
    static ApiException tooManyRequests(String message, int retryAfterSeconds) {
        return new ApiException(429, RATE_LIMIT, null, "rate_limit_exceeded", message, retryAfterSeconds);
    }

    /** 503: the server cannot take the request now (stopping, loading, or the request timed out waiting). */
    static ApiException unavailable(String code, String message, int retryAfterSeconds) {
        return new ApiException(503, SERVER_ERROR, null, code, message, retryAfterSeconds);
    }

    /** 500 for a failure of the server itself: the message says what went wrong. */
    static ApiException serverError(Throwable cause) {
        String message = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        return new ApiException(500, SERVER_ERROR, null, "the server failed: " + message.replace('\n', ' '));
    }

    /** {@code {"error": {"message", "type", "param", "code"}}}, as OpenAI's API answers errors. */
    ObjectNode toJson(ObjectMapper mapper) {
        ObjectNode root = mapper.createObjectNode();
        ObjectNode error = root.putObject("error");
        error.put("message", getMessage());
        error.put("type", type);
        error.put("param", param);
        error.put("code", code);
        return root;
    }

    int status() {
        return status;
    }

    String type() {
        return type;
    }

    /** The request field at fault, or null. */
    String param() {
        return param;
    }

    /** OpenAI's error code, or null. */
    String code() {
        return code;
    }

    /** The {@code Retry-After} seconds of a 429 or 503, if the server knows when to come back. */
    OptionalInt retryAfterSeconds() {
        return retryAfterSeconds < 0 ? OptionalInt.empty() : OptionalInt.of(retryAfterSeconds);
    }
}
