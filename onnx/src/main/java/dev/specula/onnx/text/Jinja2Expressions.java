package dev.specula.onnx.text;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;

/**
 * Rewrites the expressions of a Jinja template ({@code {{ ... }}} and {@code {% ... %}}) where Jinjava reads them
 * otherwise than Python's Jinja2:
 * <ul>
 * <li>each unary {@code not} becomes {@code not (...)}. Jinja2 binds {@code not} looser than comparisons,
 *     {@code in} and tests ({@code not x is defined} is {@code not (x is defined)}), Jinjava binds it tighter
 *     ({@code (not x) is defined}, always true), so DeepSeek-V3's
 *     {@code {% if not add_generation_prompt is defined %}} would reset the variable. The operand runs to the next
 *     {@code and}, {@code or}, {@code if}, {@code else}, comma, colon or closing bracket at its own depth, as in
 *     Jinja2's grammar; {@code is not} and {@code not in} are binary forms and stay.</li>
 * <li>Python's {@code \\x}, {@code \\u} and {@code \\U} escapes in string literals become the characters they
 *     stand for; Jinjava's lexer rejects them.</li>
 * <li>two closing braces of nested literals ({@code {'a': {}}}) get a space between them: Jinja2's lexer balances
 *     brackets, Jinjava's ends the expression at the first {@code }}}.</li>
 * </ul>
 */
final class Jinja2Expressions {
    /** Words after which {@code not} starts an operand rather than continuing one. */
    private static final Set<String> BEFORE_UNARY = Set.of("and", "or", "not", "if", "elif", "else", "in", "set",
            "return", "for");
    /** Words that end the operand of {@code not} at its own depth. */
    private static final Set<String> ENDS_OPERAND = Set.of("and", "or", "if", "else");

    private Jinja2Expressions() {
    }

    static String adapt(String source) {
        StringBuilder out = new StringBuilder(source.length() + 16);
        int i = 0;
        while (i < source.length()) {
            int open = source.indexOf('{', i);
            if (open < 0 || open + 1 >= source.length()) {
                break;
            }
            char kind = source.charAt(open + 1);
            if (kind != '{' && kind != '%' && kind != '#') {
                out.append(source, i, open + 1);
                i = open + 1;
                continue;
            }
            String closing = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
            int close = kind == '#' ? source.indexOf(closing, open + 2) : closingOf(source, open + 2, closing);
            if (close < 0) {
                break;
            }
            int from = open + 2;
            int to = close;
            if (kind == '#') {
                out.append(source, i, close + 2);
                i = close + 2;
                continue;
            }
            if (from < to && "-+".indexOf(source.charAt(from)) >= 0) {
                from++;
            }
            if (to > from && "-+".indexOf(source.charAt(to - 1)) >= 0) {
                to--;
            }
            String body = pythonEscapes(source.substring(from, to));
            if (kind == '%' && body.strip().equals("raw")) {
                int end = source.indexOf("endraw", close);
                int endClose = end < 0 ? -1 : source.indexOf("%}", end);
                int stop = endClose < 0 ? source.length() : endClose + 2;
                out.append(source, i, stop);
                i = stop;
                continue;
            }
            out.append(source, i, from).append(rewriteExpression(body)).append(source, to, close + 2);
            i = close + 2;
        }
        return out.append(source.substring(Math.min(i, source.length()))).toString();
    }

    /**
     * Python's {@code \\xXX}, {@code \\uXXXX} and {@code \\UXXXXXXXX} escapes in string literals, which Jinjava's
     * lexer rejects, as the characters they stand for (escaped again where Jinjava needs it).
     */
    static String pythonEscapes(String expr) {
        if (expr.indexOf('\\') < 0) {
            return expr;
        }
        StringBuilder out = new StringBuilder(expr.length());
        char quote = 0;
        for (int i = 0; i < expr.length(); i++) {
            char c = expr.charAt(i);
            if (quote == 0) {
                if (c == '\'' || c == '"') {
                    quote = c;
                }
                out.append(c);
            } else if (c == quote) {
                quote = 0;
                out.append(c);
            } else if (c != '\\' || i + 1 == expr.length()) {
                out.append(c);
            } else {
                char kind = expr.charAt(i + 1);
                int digits = kind == 'x' ? 2 : kind == 'u' ? 4 : kind == 'U' ? 8 : 0;
                int code = digits == 0 || i + 2 + digits > expr.length() ? -1 : hex(expr, i + 2, i + 2 + digits);
                if (code < 0 || !Character.isValidCodePoint(code)) {
                    out.append(c).append(kind); // an escape Jinjava reads itself (\n, \', \\) or leaves alone
                } else {
                    String decoded = new String(Character.toChars(code));
                    out.append(switch (decoded) {
                        case "\n" -> "\\n";
                        case "\t" -> "\\t";
                        case "\r" -> "\\r";
                        case "\\" -> "\\\\";
                        default -> decoded.charAt(0) == quote ? "\\" + quote : decoded;
                    });
                    i += digits;
                }
                i++;
            }
        }
        return out.toString();
    }

    private static int hex(String s, int from, int to) {
        try {
            return Integer.parseInt(s.substring(from, to), 16);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The index of {@code closing} after {@code from} outside strings and brackets (as Jinja2 lexes); -1 if none. */
    static int closingOf(String s, int from, String closing) {
        char quote = 0;
        int depth = 0;
        for (int i = from; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == '\\') {
                    i++;
                } else if (c == quote) {
                    quote = 0;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (depth == 0 && s.startsWith(closing, i)) {
                return i;
            } else if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
                depth--;
            }
        }
        return -1;
    }

    private enum Kind { WORD, STRING, NUMBER, OPEN, CLOSE, COMMA, COLON, OPERATOR }

    private record Token(Kind kind, String text, int start, int end) {
        boolean isWord(Set<String> words) {
            return kind == Kind.WORD && words.contains(text);
        }
    }

    static String rewriteExpression(String expr) {
        List<Token> tokens = tokenize(expr);
        TreeMap<Integer, StringBuilder> inserts = new TreeMap<>();
        for (int t = 0; t < tokens.size(); t++) {
            Token token = tokens.get(t);
            if (token.kind != Kind.WORD || !token.text.equals("not") || !unaryAt(tokens, t)) {
                continue;
            }
            int depth = 0;
            int last = -1;
            for (int j = t + 1; j < tokens.size(); j++) {
                Token next = tokens.get(j);
                if (next.kind == Kind.OPEN) {
                    depth++;
                } else if (next.kind == Kind.CLOSE) {
                    if (depth == 0) {
                        break;
                    }
                    depth--;
                } else if (depth == 0 && (next.kind == Kind.COMMA || next.kind == Kind.COLON
                        || next.isWord(ENDS_OPERAND))) {
                    break;
                }
                last = j;
            }
            if (last > t) {
                inserts.computeIfAbsent(tokens.get(t + 1).start, k -> new StringBuilder()).append('(');
                inserts.computeIfAbsent(tokens.get(last).end, k -> new StringBuilder()).insert(0, ')');
            }
        }
        for (int t = 0; t + 1 < tokens.size(); t++) {
            Token token = tokens.get(t);
            Token next = tokens.get(t + 1);
            if (token.text.equals("}") && next.text.equals("}") && next.start == token.end) {
                inserts.computeIfAbsent(token.end, k -> new StringBuilder()).append(' ');
            }
        }
        if (inserts.isEmpty()) {
            return expr;
        }
        StringBuilder out = new StringBuilder(expr.length() + inserts.size() * 2);
        int at = 0;
        for (var e : inserts.entrySet()) {
            out.append(expr, at, e.getKey()).append(e.getValue());
            at = e.getKey();
        }
        return out.append(expr.substring(at)).toString();
    }

    /** Whether the {@code not} at {@code t} is the unary operator (not part of {@code is not} or {@code not in}). */
    private static boolean unaryAt(List<Token> tokens, int t) {
        if (t + 1 < tokens.size() && tokens.get(t + 1).kind == Kind.WORD && tokens.get(t + 1).text.equals("in")) {
            return false;
        }
        if (t == 0) {
            return true;
        }
        Token previous = tokens.get(t - 1);
        return switch (previous.kind) {
            case OPEN, COMMA, COLON -> true;
            case OPERATOR -> !previous.text.equals(".");
            case WORD -> BEFORE_UNARY.contains(previous.text);
            default -> false;
        };
    }

    private static List<Token> tokenize(String s) {
        List<Token> tokens = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            int start = i;
            if (Character.isWhitespace(c)) {
                i++;
                continue;
            }
            Kind kind;
            if (c == '\'' || c == '"') {
                i++;
                while (i < s.length() && s.charAt(i) != c) {
                    i += s.charAt(i) == '\\' ? 2 : 1;
                }
                i = Math.min(i + 1, s.length());
                kind = Kind.STRING;
            } else if (Character.isLetter(c) || c == '_') {
                while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_')) {
                    i++;
                }
                kind = Kind.WORD;
            } else if (Character.isDigit(c)) {
                while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '.')) {
                    i++;
                }
                kind = Kind.NUMBER;
            } else {
                i++;
                kind = switch (c) {
                    case '(', '[', '{' -> Kind.OPEN;
                    case ')', ']', '}' -> Kind.CLOSE;
                    case ',' -> Kind.COMMA;
                    case ':' -> Kind.COLON;
                    default -> Kind.OPERATOR;
                };
            }
            tokens.add(new Token(kind, s.substring(start, i), start, i));
        }
        return tokens;
    }
}
