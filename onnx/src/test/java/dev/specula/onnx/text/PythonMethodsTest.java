package dev.specula.onnx.text;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Python's str and dict methods as chat templates call them; expected values are what CPython 3 returns. */
class PythonMethodsTest {

    private static String render(String template) {
        return ChatTemplate.of(template, Map.of(), Clock.systemUTC()).render(List.of(), false);
    }

    @Test
    void splitWithASeparator() {
        assertEquals(List.of("a", "b", "", "c"), PythonMethods.split("a,b,,c", ",", -1));
        assertEquals(List.of("a", "b,c"), PythonMethods.split("a,b,c", ",", 1));
        assertEquals(List.of("a,b,c"), PythonMethods.split("a,b,c", ",", 0));
        assertEquals(List.of(""), PythonMethods.split("", ",", -1));
        assertEquals(List.of("", "x", ""), PythonMethods.split("</think>x</think>", "</think>", -1));
        assertThrows(IllegalArgumentException.class, () -> PythonMethods.split("abc", "", -1));
    }

    @Test
    void splitOnWhitespace() {
        assertEquals(List.of("a", "b"), PythonMethods.split("  a \t\n b  ", null, -1));
        assertEquals(List.of(), PythonMethods.split(" \n ", null, -1));
        assertEquals(List.of(), PythonMethods.split("", null, -1));
        // maxsplit: the rest keeps its trailing whitespace, only the leading run goes.
        assertEquals(List.of("a", "b  c "), PythonMethods.split("  a  b  c ", null, 1));
        assertEquals(List.of("a b "), PythonMethods.split(" a b ", null, 0));
        assertEquals(List.of("a", "b"), PythonMethods.split("a\u3000b", null, -1)); // ideographic space
    }

    @Test
    void splitFromATemplate() {
        assertEquals("x|y", render("{{ 'x y'.split() | join('|') }}"));
        assertEquals("reply", render("{{ '<think>r</think>\\n\\nreply'.split('</think>')[-1].lstrip('\\n') }}"));
        assertEquals("a|b c", render("{{ 'a b c'.split(' ', 1) | join('|') }}"));
    }

    @Test
    void stripWithAndWithoutCharacters() {
        assertEquals("hi", PythonMethods.rstrip(PythonMethods.lstrip(" \t\nhi \u00a0\u0085", null), null));
        assertEquals("hi", render("{{ 'xxhixy'.strip('xy') }}"));
        assertEquals("hixy", render("{{ 'xxhixy'.lstrip('x') }}"));
        assertEquals("\n\nthought", render("{{ '\\n\\nthought\\n'.rstrip('\\n') }}"));
        assertEquals("thought", render("{{ '\\n thought \\n'.strip() }}"));
        assertEquals("a", render("{{ ' a '.strip(none) }}"));
    }

    @Test
    void startsAndEndsWithAStringOrATuple() {
        assertEquals("yes", render("{% if '<tool_response>x'.startswith('<tool_response>') %}yes{% endif %}"));
        assertEquals("yes", render("{% if 'abc'.startswith(('x', 'ab')) %}yes{% else %}no{% endif %}"));
        assertEquals("no", render("{% if 'abc'.startswith(('x', 'y')) %}yes{% else %}no{% endif %}"));
        assertEquals("yes", render("{% if 'abc'.endswith(('c', 'y')) %}yes{% else %}no{% endif %}"));
    }

    @Test
    void otherStringMethods() {
        assertEquals("Hello World They'Re", render("{{ 'hello wORLD they\\'re'.title() }}"));
        assertEquals("Hello", render("{{ 'hELLO'.capitalize() }}"));
        assertEquals("A-b-c", render("{{ 'a b c'.replace(' ', '-', 5).capitalize() }}"));
        assertEquals("a-b c", render("{{ 'a b c'.replace(' ', '-', 1) }}"));
        assertEquals("2 -1 1", render("{{ 'abab'.count('ab') }} {{ 'abc'.find('z') }} {{ 'abc'.find('b') }}"));
        assertEquals("a, b", render("{{ ', '.join(['a', 'b']) }}"));
        assertEquals("ABC abc", render("{{ 'abc'.upper() }} {{ 'ABC'.lower() }}"));
    }

    @Test
    void dictMethods() {
        assertEquals("a=1;b=2;", render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"));
        assertEquals("a|b", render("{{ {'a': 1, 'b': 2}.keys() | join('|') }}"));
        assertEquals("1 fallback", render("{{ {'a': 1}.get('a') }} {{ {'a': 1}.get('z', 'fallback') }}"));
    }
}
