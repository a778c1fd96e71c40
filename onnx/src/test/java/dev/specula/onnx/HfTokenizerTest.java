package dev.specula.onnx;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.specula.core.SpeculaException;
import dev.specula.models.EmbeddedModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HfTokenizerTest {
    static HfTokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = HfTokenizer.load(EmbeddedModels.target());
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void encodesExactlyAsTheFactoryTokenizerDid() throws IOException {
        JsonNode check = new ObjectMapper().readTree(EmbeddedModels.pair().resolve("tokenizer-check.json").toFile());
        int[] expected = new int[check.get("ids").size()];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = check.get("ids").get(i).asInt();
        }
        String text = check.get("text").asText();
        assertArrayEquals(expected, tokenizer.encode(text));
        assertEquals(text, tokenizer.decode(expected));
        assertEquals(4096, tokenizer.vocabSize());
    }

    @Test
    void longInputsAreNotTruncated() {
        String text = "def f(x):\n    return x + 1\n".repeat(200);
        int[] ids = tokenizer.encode(text);
        assertTrue(ids.length > 1000, "got " + ids.length + " tokens");
        assertEquals(text, tokenizer.decode(ids));
    }

    @Test
    void streamingNeverEmitsHalfACharacter() {
        String text = "naïve café — 世界 🙂 λx: x² ✓\n";
        int[] ids = tokenizer.encode(text);
        StreamingDetokenizer stream = tokenizer.streaming();
        StringBuilder out = new StringBuilder();
        for (int id : ids) {
            String piece = stream.push(id);
            assertFalse(piece.contains("\uFFFD"), "partial character emitted: " + piece);
            out.append(piece);
        }
        out.append(stream.flush());
        assertEquals(text, out.toString());
    }

    @Test
    void missingOrBrokenTokenizerFilesFailClearly(@TempDir Path tmp) throws IOException {
        SpeculaException missing = assertThrows(SpeculaException.class, () -> HfTokenizer.load(tmp));
        assertTrue(missing.getMessage().contains("no tokenizer.json"), missing.getMessage());
        Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\": 3}");
        assertThrows(SpeculaException.class, () -> HfTokenizer.load(tmp));
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseFails() {
        HfTokenizer t = HfTokenizer.load(EmbeddedModels.draft());
        t.close();
        t.close();
        assertThrows(IllegalStateException.class, () -> t.encode("x"));
    }
}
