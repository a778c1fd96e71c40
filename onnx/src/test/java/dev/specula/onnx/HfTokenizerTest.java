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
import java.util.Arrays;

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

    /** Python's LlamaTokenizerFast/GemmaTokenizerFast rebuild the post-processor from add_bos_token/add_eos_token. */
    @Test
    void llamaAndGemmaClassesAddTheSpecialTokensTheirConfigAsksFor(@TempDir Path tmp) throws IOException {
        Files.copy(EmbeddedModels.target().resolve("tokenizer.json"), tmp.resolve("tokenizer.json"));
        Path config = tmp.resolve(HfTokenizer.CONFIG_FILE);
        int end = tokenizer.tokenId("<|endoftext|>").orElseThrow();
        int[] plain = tokenizer.encode("def f(x):", false);
        assertArrayEquals(plain, tokenizer.encode("def f(x):", true), "tokenizer.json's ByteLevel adds nothing");

        Files.writeString(config, "{\"tokenizer_class\": \"LlamaTokenizerFast\", \"bos_token\": \"<|endoftext|>\","
                + " \"eos_token\": {\"content\": \"<|endoftext|>\"}, \"add_bos_token\": false, \"add_eos_token\": true}");
        try (HfTokenizer t = HfTokenizer.load(tmp)) {
            int[] expected = Arrays.copyOf(plain, plain.length + 1);
            expected[plain.length] = end;
            assertArrayEquals(expected, t.encode("def f(x):", true));
            assertArrayEquals(plain, t.encode("def f(x):", false));
        }
        Files.writeString(config, "{\"tokenizer_class\": \"GemmaTokenizer\", \"bos_token\": \"<|endoftext|>\"}");
        try (HfTokenizer t = HfTokenizer.load(tmp)) {
            assertEquals(end, t.encode("def f(x):", true)[0], "add_bos_token defaults to true");
            assertEquals(plain.length + 1, t.encode("def f(x):", true).length);
        }
        Files.writeString(config, "{\"tokenizer_class\": \"PreTrainedTokenizerFast\", \"bos_token\": \"<|endoftext|>\","
                + " \"add_bos_token\": true}");
        try (HfTokenizer t = HfTokenizer.load(tmp)) {
            assertArrayEquals(plain, t.encode("def f(x):", true), "other classes keep tokenizer.json's post-processor");
        }
        Files.writeString(config, "{\"tokenizer_class\": \"LlamaTokenizerFast\"}");
        SpeculaException e = assertThrows(SpeculaException.class, () -> HfTokenizer.load(tmp));
        assertTrue(e.getMessage().contains("bos_token is '<s>', which is not in the vocabulary"), e.getMessage());
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseFails() {
        HfTokenizer t = HfTokenizer.load(EmbeddedModels.draft());
        t.close();
        t.close();
        assertThrows(IllegalStateException.class, () -> t.encode("x"));
    }

    @Test
    void loadingSetsNoSystemProperties() {
        String cache = System.getProperty("DJL_CACHE_DIR");
        String offline = System.getProperty("ai.djl.offline");
        HfTokenizer.load(EmbeddedModels.target()).close();
        assertEquals(cache, System.getProperty("DJL_CACHE_DIR"), "DJL_CACHE_DIR was changed");
        assertEquals(offline, System.getProperty("ai.djl.offline"), "ai.djl.offline was changed");
    }
}
