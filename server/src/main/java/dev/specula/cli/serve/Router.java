package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Dispatches each request to the handler of its path and method, and turns whatever goes wrong into an
 * OpenAI-style JSON error: 404 for an unknown path, 405 for a wrong method, the status of an
 * {@link ApiException}, and 500 for any other exception or error. Every exchange gets a response and is closed;
 * nothing thrown escapes to the worker thread.
 */
final class Router implements HttpHandler {

    /** Handles one request; may throw {@link ApiException} for an error response. */
    @FunctionalInterface
    interface Handler {
        void handle(HttpExchange exchange) throws IOException;
    }

    private record Route(String method, Handler handler) {
    }

    private final Map<String, Route> routes = new LinkedHashMap<>();
    private final ObjectMapper mapper;
    private final ServerLog log;

    Router(ObjectMapper mapper, ServerLog log) {
        this.mapper = mapper;
        this.log = log;
    }

    /** Serves {@code method path} with {@code handler}. */
    Router route(String method, String path, Handler handler) {
        routes.put(path, new Route(method, handler));
        return this;
    }

    @Override
    public void handle(HttpExchange exchange) {
        long start = System.nanoTime();
        String request = exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath();
        try {
            dispatch(exchange);
        } catch (ApiException e) {
            respond(exchange, e);
        } catch (Exception | Error e) { // an Error too (say, a LinkageError): answer it rather than drop the connection
            log.error(request, e);
            respond(exchange, ApiException.serverError(e));
        } finally {
            exchange.close();
            log.info(request + " -> " + exchange.getResponseCode() + " in "
                    + (System.nanoTime() - start) / 1_000_000 + " ms");
        }
    }

    private void dispatch(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        Route route = routes.get(path);
        if (route == null) {
            String served = routes.entrySet().stream().map(r -> r.getValue().method() + " " + r.getKey())
                    .collect(Collectors.joining(", "));
            throw new ApiException(404, ApiException.NOT_FOUND, null,
                    "no such path: " + path + "; this server serves " + served);
        }
        if (!route.method().equals(exchange.getRequestMethod())) {
            exchange.getResponseHeaders().set("Allow", route.method());
            throw new ApiException(405, ApiException.INVALID_REQUEST, null, "method " + exchange.getRequestMethod()
                    + " is not allowed on " + path + "; use " + route.method());
        }
        route.handler().handle(exchange);
    }

    /** Sends the error, unless a response (a stream, which then carries the error itself) has begun. */
    private void respond(HttpExchange exchange, ApiException error) {
        if (exchange.getResponseCode() != -1) {
            return;
        }
        try {
            Exchanges.sendJson(exchange, error.status(), error.toJson(mapper), mapper);
        } catch (IOException | RuntimeException e) {
            log.error("cannot send the error response (" + error.getMessage() + ")", e);
        }
    }
}
