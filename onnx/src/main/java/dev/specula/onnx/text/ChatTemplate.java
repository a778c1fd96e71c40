package dev.specula.onnx.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.InterpreterFactory;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.specula.core.SpeculaException;
import dev.specula.onnx.HfTokenizer;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELResolver;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A model's own chat template: the Jinja {@code chat_template} of its {@code tokenizer_config.json} (or of a
 * separate {@code chat_template.jinja} / {@code chat_template.json}), rendered as transformers'
 * {@code apply_chat_template} renders it — Jinja with {@code trim_blocks} and {@code lstrip_blocks}, the variables
 * {@code messages}, {@code add_generation_prompt}, {@code tools} (none), the special tokens ({@code bos_token},
 * {@code eos_token}, ...), and the helpers {@code raise_exception}, {@code strftime_now} and {@code tojson}.
 *
 * <p>The engine is HubSpot's Jinjava, the maintained Jinja implementation for the JVM (Jlama renders chat templates
 * with it too). Chat templates are written for Python's Jinja2, so Python's {@code str}/{@code dict} methods
 * ({@link PythonMethods}), a Python-compatible {@code tojson}, and three syntax forms Jinjava parses differently
 * ({@code seq[::-1]}, {@code namespace(a=x|filter - 1)} and the unary {@code not}, see {@link Jinja2Expressions}) are
 * adapted here. As in Jinja2 ({@code keep_trailing_newline=False}), one newline at the end of the template is not
 * rendered, and a printed boolean reads {@code True} or {@code False}.
 *
 * <p>Immutable and thread-safe.
 *
 * <pre>{@code
 * ChatTemplate template = ChatTemplate.forModel(modelDir, tokenizer).orElse(ChatTemplate.simple());
 * String prompt = template.render(List.of(ChatMessage.user("Hi")), true);
 * int[] ids = tokenizer.encode(prompt, false);   // the template wrote BOS itself
 * }</pre>
 */
public final class ChatTemplate {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Jinjava's settings that behave as Python's Jinja2 does (whitespace control, precedence, dict iteration). */
    private static final LegacyOverrides PYTHON_JINJA = LegacyOverrides.newBuilder()
            .withUseTrimmingForNotesAndExpressions(true)
            .withUseNaturalOperatorPrecedence(true)
            .withParseWhitespaceControlStrictly(true)
            .withIterateOverMapKeys(true)
            .withEvaluateMapKeys(true)
            .withUsePyishObjectMapper(true)
            .withKeepNullableLoopValues(true)
            .build();
    private static final String CLOCK_KEY = "__specula_clock";
    /** The layout for models without a template of their own: {@code ### Role:} headers, not any model's format. */
    private static final String SIMPLE_SOURCE = "{% for message in messages %}### {{ message.role | capitalize }}:\n"
            + "{{ message.content }}\n\n{% endfor %}{% if add_generation_prompt %}### Assistant:\n{% endif %}";

    private final String source;
    private final String jinjaSource;
    private final Map<String, Object> specialTokens;
    private final boolean modelsOwn;
    private final Clock clock;
    private final Jinjava jinjava;

    private ChatTemplate(String source, Map<String, Object> specialTokens, boolean modelsOwn, Clock clock) {
        this.source = source;
        this.jinjaSource = Jinja2Expressions.adapt(adaptSyntax(withoutTrailingNewline(source)));
        this.specialTokens = Map.copyOf(specialTokens);
        this.modelsOwn = modelsOwn;
        this.clock = clock;
        this.jinjava = newEngine();
    }

    /**
     * The chat template of the model in {@code modelDir}: {@code chat_template.jinja}, else
     * {@code chat_template.json}, else the {@code chat_template} of {@code tokenizer_config.json} (a string, or a
     * list of named templates of which "default" is the chat one). Special-token variables come from
     * {@code tokenizer}'s config.
     *
     * @return empty when the model has no chat template
     * @throws SpeculaException if a template file exists but cannot be read
     */
    public static Optional<ChatTemplate> forModel(Path modelDir, HfTokenizer tokenizer) {
        return forModel(modelDir, tokenizer, Clock.systemDefaultZone());
    }

    /** As {@link #forModel(Path, HfTokenizer)}, with the clock {@code strftime_now} reads. */
    public static Optional<ChatTemplate> forModel(Path modelDir, HfTokenizer tokenizer, Clock clock) {
        Objects.requireNonNull(tokenizer, "tokenizer");
        JsonNode config = tokenizer.config();
        String source = null;
        try {
            Path jinja = modelDir.resolve("chat_template.jinja");
            Path json = modelDir.resolve("chat_template.json");
            if (Files.isRegularFile(jinja)) {
                source = Files.readString(jinja);
            } else if (Files.isRegularFile(json)) {
                source = templateText(JSON.readTree(json.toFile()).get("chat_template"));
            } else {
                source = templateText(config.get("chat_template"));
            }
        } catch (java.io.IOException e) {
            throw new SpeculaException("cannot read the chat template of " + modelDir + ": " + e.getMessage(), e);
        }
        if (source == null) {
            return Optional.empty();
        }
        return Optional.of(new ChatTemplate(source, specialTokens(config), true, clock));
    }

    /** A template from Jinja source, e.g. a user's own; {@code specialTokens} become variables. */
    public static ChatTemplate of(String source, Map<String, String> specialTokens, Clock clock) {
        return new ChatTemplate(Objects.requireNonNull(source, "source"), new HashMap<>(specialTokens), true, clock);
    }

    /**
     * The {@code ### User:} layout for models that have no chat template (such as the embedded pair). It is not a
     * format any model was trained on; {@link #isModelTemplate()} says so.
     */
    public static ChatTemplate simple() {
        return new ChatTemplate(SIMPLE_SOURCE, Map.of(), false, Clock.systemUTC());
    }

    /** True for the model's own template, false for {@link #simple()}. */
    public boolean isModelTemplate() {
        return modelsOwn;
    }

    /** Jinja2 drops a single newline at the end of a template (its default {@code keep_trailing_newline=False}). */
    private static String withoutTrailingNewline(String source) {
        if (source.endsWith("\r\n")) {
            return source.substring(0, source.length() - 2);
        }
        return source.endsWith("\n") || source.endsWith("\r") ? source.substring(0, source.length() - 1) : source;
    }

    /** The Jinja source as the model ships it. */
    public String source() {
        return source;
    }

    /**
     * Renders a conversation; {@code addGenerationPrompt} ends it with the opening of the assistant's turn.
     *
     * @throws IllegalArgumentException if the template rejects the conversation ({@code raise_exception}), e.g.
     *                                  roles that do not alternate; the message is the template's own
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> list = new ArrayList<>();
        for (ChatMessage m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            list.add(map);
        }
        Map<String, Object> context = new HashMap<>(specialTokens);
        context.put("messages", list);
        context.put("add_generation_prompt", addGenerationPrompt);
        context.put("tools", null);
        context.put("documents", null);
        context.put(CLOCK_KEY, clock);
        RenderResult result = jinjava.renderForResult(jinjaSource, context);
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                String raised = raisedMessage(e);
                if (raised != null) {
                    throw new IllegalArgumentException("the chat template rejected the conversation: " + raised);
                }
                throw new SpeculaException("cannot render the chat template (line " + e.getLineno() + "): "
                        + e.getMessage());
            }
        }
        return result.getOutput();
    }

    /**
     * The special tokens that end an assistant turn in this template: the token that directly follows the
     * assistant's content when a conversation is rendered (Qwen's {@code <|im_end|>}, Llama 3's
     * {@code <|eot_id|>}, Gemma's {@code <end_of_turn>}), as ids of {@code tokenizer}.
     */
    public List<Integer> endOfTurnTokenIds(HfTokenizer tokenizer) {
        String marker = "SPECULA_END_OF_TURN_PROBE";
        String rendered;
        try {
            rendered = render(List.of(ChatMessage.user("Hi"), ChatMessage.assistant(marker)), false);
        } catch (RuntimeException e) {
            return List.of();
        }
        int at = rendered.indexOf(marker);
        if (at < 0) {
            return List.of();
        }
        String after = rendered.substring(at + marker.length());
        int[] ids = tokenizer.encode(after, false);
        List<Integer> out = new ArrayList<>();
        if (ids.length > 0 && tokenizer.isSpecial(ids[0])) {
            out.add(ids[0]);
        }
        return out;
    }

    private Jinjava newEngine() {
        JinjavaConfig config = new JinjavaConfig() {
            private final ELResolver resolver = resolver();

            @Override
            public boolean isTrimBlocks() {
                return true;
            }

            @Override
            public boolean isLstripBlocks() {
                return true;
            }

            @Override
            public ELResolver getElResolver() {
                return resolver;
            }

            @Override
            public LegacyOverrides getLegacyOverrides() {
                return PYTHON_JINJA;
            }

            @Override
            public InterpreterFactory getInterpreterFactory() {
                return PYTHON_INTERPRETERS;
            }
        };
        Jinjava engine = new Jinjava(config);
        engine.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplate.class, "raiseException", Object.class));
        engine.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now",
                ChatTemplate.class, "strftimeNow", String.class));
        engine.getGlobalContext().registerFilter(new ToJson());
        return engine;
    }

    private static ELResolver resolver() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE);
        return resolver;
    }

    /** {@code raise_exception(message)}: the template rejects its input. */
    public static Object raiseException(Object message) {
        throw new TemplateRaised(String.valueOf(message));
    }

    /** {@code strftime_now(format)}: the current time of the rendering's clock, in Python's strftime format. */
    public static String strftimeNow(String format) {
        JinjavaInterpreter interpreter = JinjavaInterpreter.getCurrent();
        Object clock = interpreter == null ? null : interpreter.getContext().get(CLOCK_KEY);
        ZonedDateTime now = ZonedDateTime.now(clock instanceof Clock c ? c : Clock.systemDefaultZone());
        return strftime(format, now);
    }

    /** Python's strftime directives that chat templates use (C locale, glibc's {@code %-d} included). */
    static String strftime(String format, ZonedDateTime t) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                out.append(c);
                continue;
            }
            char d = format.charAt(++i);
            if (d == '-' && i + 1 < format.length() && "dmHIMSjy".indexOf(format.charAt(i + 1)) >= 0) {
                // glibc's (and so Python's on Linux) "no padding" flag: %-d is 5, not 05.
                String padded = strftime("%" + format.charAt(++i), t);
                out.append(padded.length() > 1 && padded.charAt(0) == '0'
                        ? padded.replaceFirst("^0+(?=.)", "") : padded);
                continue;
            }
            switch (d) {
                case 'd' -> out.append(String.format(Locale.ROOT, "%02d", t.getDayOfMonth()));
                case 'e' -> out.append(String.format(Locale.ROOT, "%2d", t.getDayOfMonth()));
                case 'm' -> out.append(String.format(Locale.ROOT, "%02d", t.getMonthValue()));
                case 'Y' -> out.append(t.getYear());
                case 'y' -> out.append(String.format(Locale.ROOT, "%02d", t.getYear() % 100));
                case 'b' -> out.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'B' -> out.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> out.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> out.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'H' -> out.append(String.format(Locale.ROOT, "%02d", t.getHour()));
                case 'I' -> out.append(String.format(Locale.ROOT, "%02d", (t.getHour() + 11) % 12 + 1));
                case 'M' -> out.append(String.format(Locale.ROOT, "%02d", t.getMinute()));
                case 'S' -> out.append(String.format(Locale.ROOT, "%02d", t.getSecond()));
                case 'p' -> out.append(t.getHour() < 12 ? "AM" : "PM");
                case 'j' -> out.append(String.format(Locale.ROOT, "%03d", t.getDayOfYear()));
                case '%' -> out.append('%');
                default -> out.append('%').append(d);
            }
        }
        return out.toString();
    }

    private static String raisedMessage(TemplateError e) {
        for (Throwable t = e.getException(); t != null; t = t.getCause()) {
            if (t instanceof TemplateRaised raised) {
                return raised.getMessage();
            }
        }
        String message = e.getMessage();
        int at = message == null ? -1 : message.indexOf(TemplateRaised.PREFIX);
        return at < 0 ? null : message.substring(at + TemplateRaised.PREFIX.length());
    }

    /** Variables transformers passes to every template: the special tokens of tokenizer_config.json. */
    private static Map<String, Object> specialTokens(JsonNode config) {
        Map<String, Object> tokens = new HashMap<>();
        for (String name : new String[] {"bos_token", "eos_token", "unk_token", "pad_token", "sep_token",
                "cls_token", "mask_token"}) {
            JsonNode token = config.get(name);
            JsonNode content = token != null && token.isObject() ? token.get("content") : token;
            if (content != null && content.isTextual()) {
                tokens.put(name, content.asText());
            }
        }
        List<String> additional = new ArrayList<>();
        for (JsonNode t : config.path("additional_special_tokens")) {
            JsonNode content = t.isObject() ? t.get("content") : t;
            if (content != null && content.isTextual()) {
                additional.add(content.asText());
            }
        }
        tokens.put("additional_special_tokens", additional);
        return tokens;
    }

    /** A {@code chat_template} is a string, or a list of named templates of which "default" is the chat one. */
    private static String templateText(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isTextual()) {
            return node.asText();
        }
        for (JsonNode named : node) {
            if ("default".equals(named.path("name").asText())) {
                return named.path("template").asText(null);
            }
        }
        return null;
    }

    /**
     * Rewrites the two Jinja2 forms Jinjava parses differently into equivalents it parses as Jinja2 does:
     * {@code x[::-1]} becomes {@code (x|reverse)}, and each keyword argument of {@code namespace(...)} is
     * parenthesized (Jinjava binds {@code name=a|length - 1} as {@code (name=a|length) - 1}).
     */
    static String adaptSyntax(String source) {
        String s = source.replace("[::-1]", "|reverse");
        StringBuilder out = new StringBuilder();
        int from = 0;
        int at;
        while ((at = s.indexOf("namespace(", from)) >= 0) {
            int open = at + "namespace(".length();
            int close = Jinja2Expressions.closingOf(s, open, ")");
            if (close < 0) {
                break;
            }
            out.append(s, from, open);
            List<String> args = splitTopLevel(s.substring(open, close));
            for (int i = 0; i < args.size(); i++) {
                String arg = args.get(i);
                int eq = keywordEquals(arg);
                out.append(i == 0 ? "" : ", ");
                out.append(eq < 0 ? arg.strip() : arg.substring(0, eq).strip() + "=(" + arg.substring(eq + 1).strip() + ")");
            }
            out.append(')');
            from = close + 1;
        }
        return out.append(s.substring(from)).toString();
    }

    /** The comma-separated arguments of {@code args}, split at top-level commas only. */
    private static List<String> splitTopLevel(String args) {
        List<String> parts = new ArrayList<>();
        int start = 0;
        for (int comma; (comma = Jinja2Expressions.closingOf(args, start, ",")) >= 0; start = comma + 1) {
            parts.add(args.substring(start, comma));
        }
        if (!args.substring(start).isBlank()) {
            parts.add(args.substring(start));
        }
        return parts;
    }

    /** The index of a keyword argument's '=' (not part of ==, !=, <=, >=), or -1. */
    private static int keywordEquals(String arg) {
        for (int i = 0; i < arg.length(); i++) {
            char c = arg.charAt(i);
            if (c == '=' ) {
                boolean partOfOperator = (i + 1 < arg.length() && arg.charAt(i + 1) == '=')
                        || (i > 0 && "=!<>".indexOf(arg.charAt(i - 1)) >= 0);
                return partOfOperator ? -1 : i;
            }
            if (!(Character.isLetterOrDigit(c) || c == '_' || Character.isWhitespace(c))) {
                return -1;
            }
        }
        return -1;
    }

    /**
     * transformers' {@code tojson}: Python's {@code json.dumps(x, ensure_ascii=False, indent=indent,
     * sort_keys=sort_keys)}, with {@code indent} and {@code sort_keys} given by keyword or position.
     */
    private static final class ToJson implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 0 ? args[0] : null;
            Object sortKeys = kwargs.containsKey("sort_keys") ? kwargs.get("sort_keys")
                    : args.length > 1 ? args[1] : null;
            return PythonJson.dumps(var, indent == null ? -1 : indentOf(indent), Boolean.TRUE.equals(sortKeys));
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return filter(var, interpreter, args, Map.of());
        }

        private static int indentOf(Object indent) {
            try {
                return indent instanceof Number n ? n.intValue() : Integer.parseInt(indent.toString().strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("tojson indent must be a whole number, got '" + indent + "'");
            }
        }
    }

    /** Creates the interpreters that print values as Python's {@code str} does. */
    private static final InterpreterFactory PYTHON_INTERPRETERS = new InterpreterFactory() {
        @Override
        public JinjavaInterpreter newInstance(JinjavaInterpreter original) {
            return new PythonPrinting(original);
        }

        @Override
        public JinjavaInterpreter newInstance(Jinjava application, Context context, JinjavaConfig config) {
            return new PythonPrinting(application, context, config);
        }
    };

    /** Jinjava's interpreter, printing booleans as Python does ({@code True}, {@code False}), not as Java does. */
    private static final class PythonPrinting extends JinjavaInterpreter {
        PythonPrinting(JinjavaInterpreter original) {
            super(original);
        }

        PythonPrinting(Jinjava application, Context context, JinjavaConfig config) {
            super(application, context, config);
        }

        @Override
        public String getAsString(Object value) {
            return value instanceof Boolean b ? (b ? "True" : "False") : super.getAsString(value);
        }
    }

    /** What {@code raise_exception} throws; Jinjava reports it as a fatal error, which {@link #render} rethrows. */
    static final class TemplateRaised extends RuntimeException {
        static final String PREFIX = "chat template raised: ";

        TemplateRaised(String message) {
            super(PREFIX + message);
        }

        @Override
        public String getMessage() {
            return super.getMessage().substring(PREFIX.length());
        }
    }
}
