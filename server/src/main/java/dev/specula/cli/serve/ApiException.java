package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A request the server answers with an OpenAI-style error object instead of a completion: the HTTP status, the
 * error type ({@code invalid_request_error}, {@code not_found_error}, {@code server_error}) and the offending
 * request field, if any.
 */
final class ApiException extends RuntimeException {
    static final String INVALID_REQUEST = "invalid_request_error";
    static final String NOT_FOUND = "not_found_error";
    static final String SERVER_ERROR = "server_error";

    private final int status;
    private final String type;
    private final String param;

    ApiException(int status, String type, String param, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
    }

    /** 400: the request names {@code param} (or no single field, when null) with a bad value. */
    static ApiException badRequest(String param, String message) {
        return new ApiException(400, INVALID_REQUEST, param, message);
    }

    /** 500 for a failure of the server itself: the message says what went wrong. */
    static ApiException serverError(Throwable cause) {
        String message = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        return new ApiException(500, SERVER_ERROR, null, "the server failed: " + message.replace('\n', ' '));
    }

    /** {@code {"error": {"message", "type", "param", "code": null}}}, as OpenAI's API answers errors. */
    ObjectNode toJson(ObjectMapper mapper) {
        ObjectNode root = mapper.createObjectNode();
        ObjectNode error = root.putObject("error");
        error.put("message", getMessage());
        error.put("type", type);
        error.put("param", param);
        error.putNull("code");
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
}
