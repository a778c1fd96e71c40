package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Typed reads of a request's top-level fields. An absent field or JSON {@code null} gives the default; a value of
 * the wrong type is a 400 naming the field, the expected type and the value received.
 */
final class JsonFields {
    private static final int MAX_SHOWN_VALUE = 40;

    private final JsonNode body;

    private JsonFields(JsonNode body) {
        this.body = body;
    }

    /** @throws ApiException 400 unless {@code body} is a JSON object */
    static JsonFields of(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw ApiException.badRequest(null, "the request body must be a JSON object, got "
                    + (body == null ? "nothing" : kind(body)));
        }
        return new JsonFields(body);
    }

    /** The names of the top-level fields, in the request's order. */
    Iterable<String> names() {
        return body::fieldNames;
    }

    /** The field's value, or null when absent or {@code null}. */
    JsonNode get(String field) {
        JsonNode value = body.get(field);
        return value == null || value.isNull() ? null : value;
    }

    String string(String field, String fallback) {
        JsonNode v = get(field);
        if (v == null) {
            return fallback;
        }
        if (!v.isTextual()) {
            throw wrongType(field, "a string", v);
        }
        return v.asText();
    }

    int integer(String field, int fallback) {
        JsonNode v = get(field);
        if (v == null) {
            return fallback;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw wrongType(field, "an integer", v);
        }
        return v.intValue();
    }

    long longInteger(String field, long fallback) {
        JsonNode v = get(field);
        if (v == null) {
            return fallback;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw wrongType(field, "a 64-bit integer", v);
        }
        return v.longValue();
    }

    double number(String field, double fallback) {
        JsonNode v = get(field);
        if (v == null) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw wrongType(field, "a number", v);
        }
        return v.doubleValue();
    }

    boolean bool(String field, boolean fallback) {
        JsonNode v = get(field);
        if (v == null) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw wrongType(field, "true or false", v);
        }
        return v.booleanValue();
    }

    /** A 400 for {@code field}: "{field} must be {expected}, got {value}". */
    static ApiException wrongType(String field, String expected, JsonNode value) {
        return ApiException.badRequest(field, field + " must be " + expected + ", got " + shown(value));
    }

    /** The value as JSON, shortened for an error message. */
    static String shown(JsonNode value) {
        if (value.isMissingNode()) {
            return "nothing";
        }
        String json = value.toString();
        return json.length() <= MAX_SHOWN_VALUE ? json : json.substring(0, MAX_SHOWN_VALUE) + "...";
    }

    private static String kind(JsonNode node) {
        return switch (node.getNodeType()) {
            case ARRAY -> "an array";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            case MISSING -> "nothing";
            default -> node.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
        };
    }
}
