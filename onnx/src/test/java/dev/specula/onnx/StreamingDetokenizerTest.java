package dev.specula.onnx;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The clean-up of tokenization spaces over a stream; the real tokenizers are in RealTokenizerGoldenTest. */
class StreamingDetokenizerTest {
    private static final char[] ALPHABET = {' ', ' ', ' ', '.', ',', '?', '!', '\'', 'n', 't', 's', 'm', 'v', 'e',
        'r', 'a', '\n'};

    private static String randomText(Random random, int length) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < length; i++) {
            s.append(ALPHABET[random.nextInt(ALPHABET.length)]);
        }
        return s.toString();
    }

    /** Pushes {@code text} in random pieces and flushes; returns what came out. */
    private static String streamed(StreamingDetokenizer.SpaceCleanup cleanup, String text, Random random) {
        StringBuilder out = new StringBuilder();
        int at = 0;
        while (at < text.length()) {
            int next = Math.min(text.length(), at + 1 + random.nextInt(4));
            out.append(cleanup.push(text.substring(at, next), false));
            at = next;
        }
        return out.append(cleanup.push("", true)).toString();
    }

    @Test
    void streamedCleanUpEqualsTheCleanUpOfTheWholeText() {
        Random random = new Random(42);
        for (int trial = 0; trial < 20_000; trial++) {
            String text = randomText(random, 1 + random.nextInt(30));
            String expected = HfTokenizer.cleanUpTokenization(text);
            assertEquals(expected, streamed(new StreamingDetokenizer.SpaceCleanup(""), text, random),
                    "text '" + text + "'");
        }
    }

    @Test
    void afterAPromptTheStreamIsWhatTheGenerationAddsToItsCleanUp() {
        Random random = new Random(7);
        int checked = 0;
        for (int trial = 0; trial < 20_000; trial++) {
            String prompt = randomText(random, 1 + random.nextInt(12));
            String generated = randomText(random, 1 + random.nextInt(20));
            String before = HfTokenizer.cleanUpTokenization(prompt);
            String after = HfTokenizer.cleanUpTokenization(prompt + generated);
            if (!after.startsWith(before)) {
                continue; // no defined text: a space of the prompt is cleaned up by what follows
            }
            checked++;
            assertEquals(after.substring(before.length()),
                    streamed(new StreamingDetokenizer.SpaceCleanup(prompt), generated, random),
                    "prompt '" + prompt + "', generated '" + generated + "'");
        }
        assertEquals(true, checked > 5_000, "cases with a defined text: " + checked);
    }

    @Test
    void aTrailingSpaceIsHeldUntilTheNextPieceDecides() {
        StreamingDetokenizer.SpaceCleanup cleanup = new StreamingDetokenizer.SpaceCleanup("");
        assertEquals("Hello", cleanup.push("Hello ", false));
        assertEquals("", cleanup.push(",", false));
        assertEquals(", world", cleanup.push(" world", false));
        assertEquals("", cleanup.push(" ", false));
        assertEquals(" ", cleanup.push("", true), "the end of the stream releases a held space");
    }
}
