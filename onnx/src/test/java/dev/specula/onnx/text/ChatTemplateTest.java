package dev.specula.onnx.text;

import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.HfTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChatTemplateTest {
    private static final List<ChatMessage> HELLO = List.of(ChatMessage.user("Hello"));

    private static String render(String template) {
        return ChatTemplate.of(template, Map.of(), Clock.systemUTC()).render(HELLO, true);
    }

    @Test
    void strftimeNowReadsTheGivenClock() {
        Clock clock = Clock.fixed(Instant.parse("2024-07-26T15:04:05Z"), ZoneId.of("Europe/Berlin"));
        ChatTemplate template = ChatTemplate.of("Today Date: {{ strftime_now('%d %b %Y') }} {{ strftime_now("
                + "'%A %B %-d') }} {{ strftime_now('%H:%M:%S %I%p %j %y-%m-%e') }}", Map.of(), clock);
        // Berlin is UTC+2 in July.
        assertEquals("Today Date: 26 Jul 2024 Friday July 26 17:04:05 05PM 208 24-07-26",
                template.render(HELLO, true));
    }

    @Test
    void tojsonIsPythonsJsonDumps() {
        assertEquals("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Zürich\", \"days\": [1, 2.5, null,"
                        + " true], \"empty\": [], \"obj\": {}}}",
                render("{{ {'name': 'get_weather', 'parameters': {'city': 'Zürich', 'days': [1, 2.5, none, true],"
                        + " 'empty': [], 'obj': {}}} | tojson }}"));
        assertEquals("{\n  \"a\": [\n    1,\n    \"x\\ny \\\"q\\\" \\u0001\"\n  ],\n  \"b\": {}\n}",
                ChatTemplate.of("{{ {'a': [1, messages[0].content], 'b': {}} | tojson(indent=2) }}", Map.of(),
                        Clock.systemUTC()).render(List.of(ChatMessage.user("x\ny \"q\" \u0001")), false));
        assertEquals("{\"a\": 2, \"b\": 1}", render("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}"));
        assertEquals("[{\"role\": \"user\", \"content\": \"Hello\"}]", render("{{ messages | tojson }}"));
        assertEquals("{\"a\": {\"b\": {}}}", render("{{ {'a': {'b': {}}} | tojson }}"), "nested braces end '}}}'");
    }

    @Test
    void pythonFloatsInJson() {
        assertEquals("1e-05", PythonJson.floatRepr(0.00001));
        assertEquals("0.0001", PythonJson.floatRepr(0.0001));
        assertEquals("1e+16", PythonJson.floatRepr(1e16));
        assertEquals("1234567890123456.0", PythonJson.floatRepr(1234567890123456.0));
        assertEquals("-2.5", PythonJson.floatRepr(-2.5));
        assertEquals("3.0", PythonJson.floatRepr(3));
        assertEquals("0.1", PythonJson.floatRepr(0.1));
    }

    @Test
    void raiseExceptionRejectsTheConversationWithTheTemplatesMessage() {
        ChatTemplate template = ChatTemplate.of("{% if messages[0]['role'] != 'system' %}"
                + "{{ raise_exception('System message first, please') }}{% endif %}ok", Map.of(), Clock.systemUTC());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> template.render(HELLO, true));
        assertTrue(e.getMessage().endsWith("System message first, please"), e.getMessage());
        assertEquals("ok", template.render(List.of(ChatMessage.system("s")), true));
    }

    @Test
    void unaryNotBindsAsInJinja2() {
        assertEquals("defined", render("{% if not add_generation_prompt is defined %}undefined{% else %}defined"
                + "{% endif %}"));
        assertEquals("A", render("{% if not 1 == 2 %}A{% else %}B{% endif %}"));
        assertEquals("A", render("{% if not 'z' in 'abc' %}A{% else %}B{% endif %}"));
        assertEquals("A", render("{% if 'z' not in 'abc' and not none is not none %}A{% else %}B{% endif %}"));
        assertEquals("c", render("{{ 'a' if not true else 'c' }}"));
        assertEquals(" not (x is defined) ", Jinja2Expressions.rewriteExpression(" not x is defined "));
        assertEquals("x is not none and y not in z", Jinja2Expressions.rewriteExpression("x is not none and y not in z"));
        assertEquals("not (a) and not (b == c) or d", Jinja2Expressions.rewriteExpression("not a and not b == c or d"));
        assertEquals("f(not (a), b)", Jinja2Expressions.rewriteExpression("f(not a, b)"));
        assertEquals("'not a' ~ b", Jinja2Expressions.rewriteExpression("'not a' ~ b"));
        assertEquals("{%- if not (x.y) -%}not a{{ not (b) }}", Jinja2Expressions.adapt("{%- if not x.y -%}not a{{ not b }}"));
    }

    @Test
    void aChatTemplateFileBesideTheConfigTakesPrecedence(@TempDir Path dir) throws IOException {
        Files.copy(EmbeddedModels.target().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve(HfTokenizer.CONFIG_FILE), "{\"bos_token\": \"<s>\", \"chat_template\":"
                + " \"config {{ messages[0].content }}\"}");
        try (HfTokenizer tokenizer = HfTokenizer.load(dir)) {
            assertEquals("config Hello", ChatTemplate.forModel(dir, tokenizer).orElseThrow().render(HELLO, false));
            Files.writeString(dir.resolve("chat_template.json"), "{\"chat_template\": \"json {{ bos_token }}\"}");
            assertEquals("json <s>", ChatTemplate.forModel(dir, tokenizer).orElseThrow().render(HELLO, false));
            Files.writeString(dir.resolve("chat_template.jinja"), "jinja {{ messages[0].content }}\n");
            ChatTemplate template = ChatTemplate.forModel(dir, tokenizer).orElseThrow();
            assertEquals("jinja Hello", template.render(HELLO, false));
            assertTrue(template.isModelTemplate());
        }
    }

    @Test
    void withoutATemplateTheSimpleLayoutIsTheFallback(@TempDir Path dir) throws IOException {
        Files.copy(EmbeddedModels.target().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        try (HfTokenizer tokenizer = HfTokenizer.load(dir)) {
            Optional<ChatTemplate> own = ChatTemplate.forModel(dir, tokenizer);
            assertEquals(Optional.empty(), own);
            ChatTemplate template = own.orElse(ChatTemplate.simple());
            assertFalse(template.isModelTemplate());
            assertEquals("### System:\nBe brief.\n\n### User:\nHello\n\n### Assistant:\n",
                    template.render(List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hello")), true));
            assertEquals("### User:\nHello\n\n", template.render(HELLO, false));
            assertEquals(List.of(), template.endOfTurnTokenIds(tokenizer));
        }
    }

    @Test
    void booleansPrintAsInPython() {
        assertEquals("True False|x|1", render("{{ true }} {{- ' ' }}{{ 1 == 2 }}|{{ 'x' }}|{{ messages | length }}"));
        assertEquals("yes", render("{% if true %}yes{% endif %}"));
    }

    @Test
    void pythonEscapesInStringLiterals() {
        assertEquals("é|\u2581|\uD83D\uDE42|a\tb|it's|\"|x\ny", render("{{ '\\u00e9' }}|{{ \"\\u2581\" }}|{{ '\\U0001F642' }}|"
                + "{{ 'a\\x09b' }}|{{ 'it\\x27s' }}|{{ '\\x22' }}|{{ 'x\\ny' }}"));
    }

    @Test
    void oneTrailingNewlineOfTheTemplateIsNotRendered() {
        assertEquals("a", render("a\n"));
        assertEquals("a\n", render("a\n\n"));
        assertEquals("Hello\n", render("{{ messages[0].content }}\n\n"));
    }

    @Test
    void trimBlocksAndLstripBlocksAsTransformersSetsThem() {
        assertEquals("a\nb\n", render("{% for x in ['a', 'b'] %}\n    {% if x %}\n{{ x }}\n    {% endif %}\n"
                + "{% endfor %}"));
    }

    @Test
    void aBrokenTemplateFailsWithItsLine() {
        RuntimeException e = assertThrows(RuntimeException.class, () -> render("{% if %}x{% endif %}"));
        assertFalse(e instanceof IllegalArgumentException, "not a rejected conversation: " + e);
        assertTrue(e.getMessage().contains("line 1"), e.getMessage());
    }

    @Test
    void zoneOfTheClockDecides() {
        Clock utc = Clock.fixed(Instant.parse("2024-12-31T23:30:00Z"), ZoneOffset.UTC);
        assertEquals("31 Dec 2024", ChatTemplate.of("{{ strftime_now('%d %b %Y') }}", Map.of(), utc)
                .render(HELLO, true));
        assertEquals("01 Jan 2025", ChatTemplate.of("{{ strftime_now('%d %b %Y') }}", Map.of(),
                utc.withZone(ZoneId.of("Asia/Tokyo"))).render(HELLO, true));
    }
}
