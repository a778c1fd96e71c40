package dev.specula.onnx.text;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=sortKeys)}, which transformers'
 * {@code tojson} filter calls: {@code ", "} and {@code ": "} between items without indent, {@code ","} and newlines
 * with it, {@code []} and {@code {}} for empty containers, non-ASCII text as is, other control characters as a
 * backslash-u escape with lowercase hex digits, floats as Python's {@code repr} writes them.
 */
final class PythonJson {
    private PythonJson() {
    }

    /** @param indent spaces per level, or a negative number for Python's {@code indent=None} */
    static String dumps(Object value, int indent, boolean sortKeys) {
        StringBuilder out = new StringBuilder();
        write(out, value, indent, sortKeys, 0);
        return out.toString();
    }

    private static void write(StringBuilder out, Object value, int indent, boolean sortKeys, int level) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof Boolean b) {
            out.append(b ? "true" : "false");
        } else if (value instanceof CharSequence s) {
            string(out, s.toString());
        } else if (value instanceof Character c) {
            string(out, c.toString());
        } else if (value instanceof Integer || value instanceof Long || value instanceof Short
                || value instanceof Byte || value instanceof BigInteger) {
            out.append(value);
        } else if (value instanceof Double || value instanceof Float || value instanceof BigDecimal) {
            out.append(floatRepr(((Number) value).doubleValue()));
        } else if (value instanceof Map<?, ?> map) {
            List<Map.Entry<String, Object>> entries = new ArrayList<>();
            map.forEach((k, v) -> entries.add(Map.entry(key(k), v == null ? NULL : v)));
            if (sortKeys) {
                entries.sort(Map.Entry.comparingByKey());
            }
            container(out, '{', '}', entries.iterator(), indent, level, (o, e) -> {
                string(o, e.getKey());
                o.append(": ");
                write(o, e.getValue() == NULL ? null : e.getValue(), indent, sortKeys, level + 1);
            });
        } else if (value instanceof Iterable<?> items) {
            container(out, '[', ']', items.iterator(), indent, level,
                    (o, item) -> write(o, item, indent, sortKeys, level + 1));
        } else if (value instanceof Object[] array) {
            write(out, List.of(array), indent, sortKeys, level);
        } else {
            throw new IllegalArgumentException("Object of type " + value.getClass().getSimpleName()
                    + " is not JSON serializable (expected a string, number, boolean, none, list or dict)");
        }
    }

    /** Stands for a null map value, which Map.entry does not accept. */
    private static final Object NULL = new Object();

    private interface ItemWriter<T> {
        void write(StringBuilder out, T item);
    }

    private static <T> void container(StringBuilder out, char open, char close, Iterator<T> items, int indent,
                                      int level, ItemWriter<T> writer) {
        out.append(open);
        if (!items.hasNext()) {
            out.append(close);
            return;
        }
        boolean first = true;
        while (items.hasNext()) {
            if (!first) {
                out.append(indent >= 0 ? "," : ", ");
            }
            if (indent >= 0) {
                out.append('\n').append(" ".repeat(indent * (level + 1)));
            }
            writer.write(out, items.next());
            first = false;
        }
        if (indent >= 0) {
            out.append('\n').append(" ".repeat(indent * level));
        }
        out.append(close);
    }

    /** Python's json turns keys into strings: True -> "true", None -> "null", 1 -> "1", 1.5 -> "1.5". */
    private static String key(Object k) {
        if (k == null) {
            return "null";
        }
        if (k instanceof Boolean b) {
            return b ? "true" : "false";
        }
        if (k instanceof Double || k instanceof Float) {
            return floatRepr(((Number) k).doubleValue());
        }
        return k.toString();
    }

    private static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    /** Python's {@code float.__repr__}: shortest digits, positional from 1e-4 to 1e16, else {@code 1e-05}. */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        if (d == 0) {
            return (1 / d < 0) ? "-0.0" : "0.0";
        }
        BigDecimal exact = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        String digits = exact.unscaledValue().abs().toString();
        int exponent = digits.length() - 1 - exact.scale(); // d = 0.digits * 10^(exponent + 1)
        String sign = d < 0 ? "-" : "";
        if (exponent >= 16 || exponent < -4) {
            String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
        }
        String plain = exact.abs().toPlainString();
        return sign + (plain.contains(".") ? plain : plain + ".0");
    }
}
