package dev.specula;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.specula.core.SpeculaException;
import dev.specula.core.decode.FinishReason;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.Scheduling;
import dev.specula.draft.NGramCacheDrafter;
import dev.specula.draft.PromptLookupDrafter;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.OnnxModelOptions;
import dev.specula.onnx.text.ChatMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Graphs exported from Hugging Face transformers (random-weight Qwen2 and GPT-2 architectures), checked against
 * transformers' own greedy token ids, plus the chat and tokenizer-compatibility paths of the facade.
 */
class RealModelsTest {
    private static final Path HF = Path.of("../onnx/src/test/resources/hf");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Every way of decoding: plain, and each drafter with fixed and adaptive draft lengths. */
    private static List<Consumer<Specula.Builder>> configurations(Path dir) {
        List<Consumer<Specula.Builder>> all = new ArrayList<>();
        all.add(b -> { });
        for (Scheduling scheduling : List.of(Scheduling.fixed(1), Scheduling.fixed(4), Scheduling.adaptive())) {
            all.add(b -> b.draftModel(dir).scheduling(scheduling));                  // the model drafting for itself
            all.add(b -> b.drafter(new PromptLookupDrafter()).scheduling(scheduling));
            all.add(b -> b.drafter(new NGramCacheDrafter()).scheduling(scheduling));
            all.add(b -> b.promptLookup().draftModel(dir).scheduling(scheduling));   // composite
        }
        return all;
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-qwen2", "tiny-gpt2"})
    void greedyOutputEqualsTransformersWithEveryDrafter(String name) throws IOException {
        Path dir = HF.resolve(name);
        JsonNode oracle = JSON.readTree(dir.resolve("hf_greedy_oracle.json").toFile());
        int eos = JSON.readTree(dir.resolve("generation_config.json").toFile()).path("eos_token_id").asInt();
        int configuration = 0;
        for (Consumer<Specula.Builder> setup : configurations(dir)) {
            Specula.Builder builder = Specula.builder().target(dir).targetOptions(OnnxModelOptions.cpu(1))
                    .draftOptions(OnnxModelOptions.cpu(1));
            setup.accept(builder);
            try (Specula specula = builder.build()) {
                for (JsonNode c : oracle) {
                    int[] prompt = ints(c.get("prompt_ids"));
                    int[] greedy = ints(c.get("greedy_ids"));
                    // transformers' tokenizer made prompt_ids: ours must encode the text the same way
                    assertArrayEquals(prompt, specula.encode(Prompt.text(c.get("prompt").asText())), name);
                    Completion done = specula.generate(GenerationRequest.builder(Prompt.tokens(prompt))
                            .params(SamplingParams.greedy(greedy.length)).build());
                    int[] expected = untilEos(greedy, eos); // transformers suppressed EOS; we stop at it
                    assertArrayEquals(expected, done.tokenIds(), name + " configuration " + configuration
                            + " prompt " + c.get("prompt").asText());
                    assertEquals(expected.length < greedy.length ? FinishReason.END_OF_SEQUENCE : FinishReason.MAX_TOKENS,
                            done.finishReason());
                    assertEquals(specula.tokenizer().decode(cat(prompt, expected)).substring(
                            specula.tokenizer().decode(prompt).length()), done.text());
                }
            }
            configuration++;
        }
    }

    @Test
    void chatWithoutAModelTemplateUsesTheSimpleLayoutAndStopsAtTheNextTurn() {
        try (Specula specula = Specula.builder().target(EmbeddedModels.target()).build()) {
            assertFalse(specula.chatTemplate().isModelTemplate());
            List<ChatMessage> chat = List.of(ChatMessage.user("Write a function."));
            assertArrayEquals(specula.tokenizer().encode("### User:\nWrite a function.\n\n### Assistant:\n", false),
                    specula.encode(Prompt.chat(chat)));
            Completion c = specula.generate(GenerationRequest.chat(chat).params(SamplingParams.greedy(200)).build());
            assertFalse(c.text().contains("\n### "), c.text());
        }
    }

    @Test
    void chatUsesTheModelsTemplateAndEndsAtItsEndOfTurnToken(@TempDir Path tmp) throws IOException {
        Path target = copy(EmbeddedModels.target(), tmp.resolve("target"));
        String eos = "<|endoftext|>";
        int eosId;
        try (Specula s = Specula.builder().target(target).build()) {
            eosId = s.tokenizer().tokenId(eos).orElseThrow();
        }
        // A template whose turns end with the tokenizer's special token: generation must stop there.
        Files.writeString(target.resolve("tokenizer_config.json"), JSON.writeValueAsString(JSON.createObjectNode()
                .put("eos_token", eos)
                .put("chat_template", "{% for m in messages %}# {{ m.role }}\n{{ m.content | trim }}{{ eos_token }}\n"
                        + "{% endfor %}{% if add_generation_prompt %}# assistant\n{% endif %}")));
        try (Specula specula = Specula.builder().target(target).build()) {
            assertTrue(specula.chatTemplate().isModelTemplate());
            List<ChatMessage> chat = List.of(ChatMessage.system(" Be brief. "), ChatMessage.user("def f(x):"));
            assertEquals("# system\nBe brief." + eos + "\n# user\ndef f(x):" + eos + "\n# assistant\n",
                    specula.chatTemplate().render(chat, true));
            assertEquals(List.of(eosId), specula.chatTemplate().endOfTurnTokenIds(specula.tokenizer()));
            int[] ids = specula.encode(Prompt.chat(chat));
            assertEquals(2, Arrays.stream(ids).filter(id -> id == eosId).count(), "the template's token is one id");
            Completion c = specula.generate(GenerationRequest.chat(chat).params(SamplingParams.greedy(300)).build());
            assertFalse(Arrays.stream(c.tokenIds()).anyMatch(id -> id == eosId));
        }
    }

    @Test
    void tokenizersThatDifferAreRefusedNamingTheFirstDifferentId(@TempDir Path tmp) throws IOException {
        Path draft = copy(EmbeddedModels.draft(), tmp.resolve("draft"));
        JsonNode tokenizer = JSON.readTree(draft.resolve("tokenizer.json").toFile());
        JsonNode vocab = tokenizer.path("model").path("vocab");
        String at300 = null;
        String at301 = null;
        for (var it = vocab.fields(); it.hasNext(); ) {
            var e = it.next();
            if (e.getValue().asInt() == 300) {
                at300 = e.getKey();
            } else if (e.getValue().asInt() == 301) {
                at301 = e.getKey();
            }
        }
        // swapped ids: both tokens still exist (BPE merges load), but id 300 now means another token
        ((com.fasterxml.jackson.databind.node.ObjectNode) vocab).put(at300, 301);
        ((com.fasterxml.jackson.databind.node.ObjectNode) vocab).put(at301, 300);
        Files.writeString(draft.resolve("tokenizer.json"), JSON.writeValueAsString(tokenizer));
        SpeculaException e = assertThrows(SpeculaException.class, () -> Specula.builder()
                .target(EmbeddedModels.target()).draftModel(draft).build());
        assertTrue(e.getMessage().contains("token id 300 is '" + at300 + "'"), e.getMessage());
    }

    @Test
    void promptsLongerThanTheContextFailNamingTheLimit() {
        try (Specula specula = Specula.builder().target(HF.resolve("tiny-qwen2")).build()) {
            int context = specula.contextLength();
            int[] ids = new int[context];
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> specula.generate(GenerationRequest.builder(Prompt.tokens(ids)).build()));
            assertTrue(e.getMessage().contains(context + " tokens"), e.getMessage());
            // one token of room: the request's 128 tokens are clamped to it
            Completion c = specula.generate(GenerationRequest.builder(Prompt.tokens(Arrays.copyOf(ids, context - 1)))
                    .build());
            assertEquals(1, c.tokenIds().length + (c.finishReason() == FinishReason.END_OF_SEQUENCE ? 1 : 0));
        }
    }

    private static Path copy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        return to;
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    private static int[] untilEos(int[] ids, int eos) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == eos) {
                return Arrays.copyOf(ids, i);
            }
        }
        return ids;
    }

    private static int[] cat(int[] a, int[] b) {
        return Stream.of(a, b).flatMapToInt(Arrays::stream).toArray();
    }
}
