package dev.specula.onnx.text;

import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The Python {@code str} and {@code dict} methods that Hugging Face chat templates call ({@code content.strip()},
 * {@code content.split('</think>')}, {@code message.content.startswith(...)}, {@code tool.items()}), which Jinja2
 * gets from Python itself and Jinjava does not have. Only method calls are resolved; everything else falls
 * through to Jinjava's own resolvers.
 */
final class PythonMethods extends ELResolver {

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (method == null || base == null) {
            return null;
        }
        Object[] args = params == null ? new Object[0] : params;
        Object result;
        if (base instanceof CharSequence s) {
            result = stringMethod(s.toString(), method.toString(), args);
        } else if (base instanceof Map<?, ?> m) {
            result = dictMethod(m, method.toString(), args);
        } else {
            return null;
        }
        if (result == NOT_HANDLED) {
            return null;
        }
        context.setPropertyResolved(true);
        return result;
    }

    private static final Object NOT_HANDLED = new Object();

    private static Object stringMethod(String s, String name, Object[] args) {
        switch (name) {
            case "strip":
                return rstrip(lstrip(s, chars(args)), chars(args));
            case "lstrip":
                return lstrip(s, chars(args));
            case "rstrip":
                return rstrip(s, chars(args));
            case "split":
                return split(s, args.length > 0 && args[0] != null ? args[0].toString() : null,
                        args.length > 1 ? ((Number) args[1]).intValue() : -1);
            case "startswith":
                return affix(s, args, true);
            case "endswith":
                return affix(s, args, false);
            case "upper":
                return s.toUpperCase(Locale.ROOT);
            case "lower":
                return s.toLowerCase(Locale.ROOT);
            case "title":
                return title(s);
            case "capitalize":
                return s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            case "replace":
                return replace(s, arg(args, 0), arg(args, 1), args.length > 2 ? ((Number) args[2]).intValue() : -1);
            case "find":
                return (long) s.indexOf(arg(args, 0));
            case "count":
                return (long) count(s, arg(args, 0));
            case "join":
                return join(s, args.length > 0 ? args[0] : List.of());
            default:
                return NOT_HANDLED;
        }
    }

    private static Object dictMethod(Map<?, ?> m, String name, Object[] args) {
        switch (name) {
            case "items": {
                List<List<Object>> items = new ArrayList<>();
                m.forEach((k, v) -> items.add(List.of(k, v == null ? "" : v)));
                return items;
            }
            case "keys":
                return new ArrayList<>(m.keySet());
            case "values":
                return new ArrayList<>(m.values());
            case "get":
                return m.containsKey(args.length > 0 ? args[0] : null) ? m.get(args[0]) : args.length > 1 ? args[1] : null;
            default:
                return NOT_HANDLED;
        }
    }

    private static String arg(Object[] args, int i) {
        if (args.length <= i || args[i] == null) {
            throw new IllegalArgumentException("missing string argument " + (i + 1));
        }
        return args[i].toString();
    }

    /** The characters to strip, or null for whitespace. */
    private static String chars(Object[] args) {
        return args.length > 0 && args[0] != null ? args[0].toString() : null;
    }

    private static boolean strippable(char c, String chars) {
        return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
    }

    /** Python's {@code str.isspace} for one character: Unicode whitespace, separators and U+001C..U+001F, U+0085. */
    static boolean isSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }

    static String lstrip(String s, String chars) {
        int i = 0;
        while (i < s.length() && strippable(s.charAt(i), chars)) {
            i++;
        }
        return s.substring(i);
    }

    static String rstrip(String s, String chars) {
        int i = s.length();
        while (i > 0 && strippable(s.charAt(i - 1), chars)) {
            i--;
        }
        return s.substring(0, i);
    }

    /** Python's {@code str.split}: on runs of whitespace without {@code sep}, else on each {@code sep}. */
    static List<String> split(String s, String sep, int maxSplit) {
        List<String> parts = new ArrayList<>();
        if (sep == null) {
            int i = 0;
            while (true) {
                while (i < s.length() && isSpace(s.charAt(i))) {
                    i++;
                }
                if (i == s.length()) {
                    break;
                }
                if (maxSplit >= 0 && parts.size() == maxSplit) {
                    parts.add(s.substring(i)); // Python keeps the rest's trailing whitespace
                    break;
                }
                int j = i;
                while (j < s.length() && !isSpace(s.charAt(j))) {
                    j++;
                }
                parts.add(s.substring(i, j));
                i = j;
            }
            return parts;
        }
        if (sep.isEmpty()) {
            throw new IllegalArgumentException("str.split: empty separator (expected a non-empty string or none)");
        }
        int from = 0;
        int at;
        while ((maxSplit < 0 || parts.size() < maxSplit) && (at = s.indexOf(sep, from)) >= 0) {
            parts.add(s.substring(from, at));
            from = at + sep.length();
        }
        parts.add(s.substring(from));
        return parts;
    }

    private static boolean affix(String s, Object[] args, boolean prefix) {
        Object a = args.length > 0 ? args[0] : null;
        Collection<?> options = a instanceof Collection<?> c ? c : List.of(String.valueOf(a));
        for (Object o : options) {
            if (prefix ? s.startsWith(o.toString()) : s.endsWith(o.toString())) {
                return true;
            }
        }
        return false;
    }

    private static String title(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean previousCased = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            out.append(previousCased ? Character.toLowerCase(c) : Character.toUpperCase(c));
            previousCased = Character.isLetter(c);
        }
        return out.toString();
    }

    private static String replace(String s, String old, String replacement, int count) {
        if (count < 0) {
            return s.replace(old, replacement);
        }
        StringBuilder out = new StringBuilder();
        int from = 0;
        int at;
        int done = 0;
        while (done < count && !old.isEmpty() && (at = s.indexOf(old, from)) >= 0) {
            out.append(s, from, at).append(replacement);
            from = at + old.length();
            done++;
        }
        return out.append(s.substring(from)).toString();
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) {
            return s.length() + 1;
        }
        int n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
            n++;
        }
        return n;
    }

    private static String join(String separator, Object items) {
        StringBuilder out = new StringBuilder();
        Iterator<?> it = items instanceof Iterable<?> iterable ? iterable.iterator() : List.of(items).iterator();
        while (it.hasNext()) {
            out.append(it.next());
            if (it.hasNext()) {
                out.append(separator);
            }
        }
        return out.toString();
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {
    }

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return false;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
