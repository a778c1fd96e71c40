package dev.specula;

import dev.specula.core.SpeculaException;
import dev.specula.core.acceptance.AcceptanceRule;
import dev.specula.core.acceptance.TargetScores;
import dev.specula.core.acceptance.Verdict;
import dev.specula.core.decode.FinishReason;
import dev.specula.core.decode.GenerationResult;
import dev.specula.core.decode.SpeculativeDecoder;
import dev.specula.core.draft.Drafter;
import dev.specula.core.draft.Proposal;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.sampling.Distribution;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingMode;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.sampling.SamplingTransform;
import dev.specula.core.schedule.Scheduling;
import dev.specula.draft.CompositeDrafter;
import dev.specula.draft.ModelDrafter;
import dev.specula.draft.NGramCacheDrafter;
import dev.specula.draft.PromptLookupDrafter;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.OnnxModelOptions;
import dev.specula.verifier.ParallelVerifier;
import org.apache.commons.math3.stat.inference.ChiSquareTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The whole library on the embedded model pair. */
class SpeculaEndToEndTest {
    static Specula specula;

    @BeforeAll
    static void load() {
        specula = Specula.builder().target(EmbeddedModels.target()).draftModel(EmbeddedModels.draft())
                .targetOptions(OnnxModelOptions.cpu(2)).build();
    }

    @AfterAll
    static void close() {
        specula.close();
    }

    static int[] ids(String prompt) {
        return specula.tokenizer().encode(prompt);
    }

    @Test
    void greedySpeculativeOutputEqualsPlainForEveryDrafterAndScheduler() {
        ModelDrafter model = new ModelDrafter(specula.draftModel().orElseThrow());
        Map<String, Drafter> drafters = new LinkedHashMap<>();
        drafters.put("model", model);
        drafters.put("prompt-lookup", new PromptLookupDrafter(1, 4));
        drafters.put("ngram-cache", new NGramCacheDrafter());
        drafters.put("composite", new CompositeDrafter(List.of(new PromptLookupDrafter(3, 4), model)));
        List<Scheduling> schedulings = List.of(Scheduling.fixed(3), Scheduling.heuristic(), Scheduling.adaptive());
        SamplingParams params = SamplingParams.greedy(32);
        int compared = 0;
        long accepted = 0;
        for (String prompt : Prompts.CODE) {
            GenerationResult plain = specula.decoder(false).generate(ids(prompt), params);
            for (Map.Entry<String, Drafter> d : drafters.entrySet()) {
                for (Scheduling s : schedulings) {
                    SpeculativeDecoder decoder = SpeculativeDecoder.builder().target(specula.target())
                            .drafter(d.getValue()).scheduling(s).verifier(new ParallelVerifier())
                            .endOfSequence(specula.target().config().eosTokenIds()).build();
                    GenerationResult r = decoder.generate(ids(prompt), params);
                    assertArrayEquals(plain.tokens(), r.tokens(), d.getKey() + " / " + s.name() + " on " + prompt);
                    accepted += r.metrics().acceptedTokens();
                    compared++;
                }
            }
        }
        assertTrue(compared >= 20 * 4 * 3, "compared " + compared);
        assertTrue(accepted > 0, "speculation never accepted a token");
        assertEquals(0, specula.target().openSequences());
    }

    @Test
    void streamedTextEqualsTheCompletionAndStopSequencesEndIt() {
        StringBuilder streamed = new StringBuilder();
        Completion c = specula.generate(Prompts.CODE.get(0), SamplingParams.greedy(40), (t, d) -> streamed.append(t));
        assertEquals(c.text(), streamed.toString());
        assertEquals(specula.tokenizer().decode(c.tokenIds()), c.text());
        assertTrue(c.text().length() > 10);
        String stop = c.text().substring(5, 8);
        StringBuilder streamed2 = new StringBuilder();
        Completion stopped = specula.generate(GenerationRequest.builder(Prompts.CODE.get(0))
                .params(SamplingParams.greedy(40)).stopSequences(List.of(stop))
                .listener((t, d) -> streamed2.append(t)).build());
        assertEquals(FinishReason.STOP_TOKEN, stopped.finishReason());
        assertEquals(c.text().substring(0, c.text().indexOf(stop)), stopped.text());
        assertEquals(stopped.text(), streamed2.toString());
        // The earliest of several stop sequences wins, whatever their order.
        String later = c.text().substring(12, 15);
        Completion two = specula.generate(GenerationRequest.builder(Prompts.CODE.get(0))
                .params(SamplingParams.greedy(40)).stopSequences(List.of(later, stop)).build());
        assertEquals(stopped.text(), two.text());
        // Token ids end at the token that completed the stop, the same with and without speculation.
        Completion plainStopped = specula.generate(GenerationRequest.builder(Prompts.CODE.get(0))
                .params(SamplingParams.greedy(40)).stopSequences(List.of(stop)).speculative(false).build());
        assertArrayEquals(plainStopped.tokenIds(), stopped.tokenIds());
        assertTrue(specula.tokenizer().decode(stopped.tokenIds()).startsWith(stopped.text() + stop.charAt(0)));
    }

    @Test
    void sampledGenerationIsReproducibleWithASeed() {
        try (Specula fixed = Specula.builder().target(EmbeddedModels.target()).draftModel(EmbeddedModels.draft())
                .scheduling(Scheduling.fixed(3)).build()) {
            SamplingParams params = SamplingParams.builder().temperature(0.8).topP(0.95).seed(7).maxNewTokens(40).build();
            Completion a = fixed.generate(Prompts.CODE.get(1), params);
            Completion b = fixed.generate(Prompts.CODE.get(1), params);
            assertArrayEquals(a.tokenIds(), b.tokenIds());
            Completion other = fixed.generate(Prompts.CODE.get(1), params.toBuilder().seed(8).build());
            assertTrue(a.metrics().draftedTokens() > 0);
            assertTrue(!java.util.Arrays.equals(a.tokenIds(), other.tokenIds()), "another seed, another sample");
        }
    }

    /** Real p and q of the pair, pushed 100,000 times through each mode's acceptance rule: the first token is ~ p. */
    @Test
    void speculativeSamplingWithTheRealPairKeepsTheTargetDistribution() {
        for (SamplingMode mode : SamplingMode.values()) {
            SamplingParams params = SamplingParams.builder().temperature(1.0).topK(12).mode(mode).maxNewTokens(2).build();
            int vocab = specula.target().vocabSize();
            int[] prompt = ids(Prompts.CODE.get(4));
            SamplingTransform transform = new SamplingTransform(params, vocab);
            Distribution q;
            Logits targetRows;
            try (ModelSequence d = specula.draftModel().orElseThrow().newSequence();
                 ModelSequence t = specula.target().newSequence()) {
                Logits dl = d.append(prompt);
                q = transform.apply(dl, dl.rows() - 1, new Distribution(vocab));
                t.append(prompt, 0, prompt.length - 1);
                int guess = q.argmax();
                Logits tl = t.append(prompt[prompt.length - 1], guess);
                float[][] rows = new float[2][vocab];
                tl.copyRow(0, rows[0]);
                tl.copyRow(1, rows[1]);
                targetRows = Logits.of(rows);
            }
            Distribution p = transform.apply(targetRows, 0, new Distribution(vocab));
            TargetScores scores = new TargetScores(transform);
            SplittableRandom r = new SplittableRandom(3);
            long[] counts = new long[vocab];
            for (int s = 0; s < 100_000; s++) {
                KeyedNoise noise = new KeyedNoise(r.nextLong());
                int x = noise.gumbelMax(q, prompt.length); // how the model drafter samples
                Proposal proposal = new Proposal(new int[]{x}, new Distribution[]{q}, null, 1);
                Verdict v = AcceptanceRule.select(params, proposal)
                        .decide(proposal, scores.reset(targetRows, prompt.length), noise);
                counts[v.accepted() == 1 ? x : v.nextToken()]++;
            }
            List<Double> e = new ArrayList<>();
            List<Long> o = new ArrayList<>();
            for (int i = 0; i < vocab; i++) {
                if (p.prob(i) > 0) {
                    e.add((double) p.prob(i));
                    o.add(counts[i]);
                } else {
                    assertEquals(0, counts[i], "token " + i + " is outside the target's top-k but was emitted");
                }
            }
            double pv = new ChiSquareTest().chiSquareTest(e.stream().mapToDouble(Double::doubleValue).toArray(),
                    o.stream().mapToLong(Long::longValue).toArray());
            assertTrue(pv > 1e-3, mode + ": p-value " + pv);
        }
    }

    /** End to end through the loop with real models, on a short horizon: the first token's distribution. */
    @Test
    void sampledDecodingThroughTheLoopMatchesTheTargetsFirstTokenDistribution() {
        SamplingParams params = SamplingParams.builder().temperature(1.0).topK(4).maxNewTokens(1).build();
        int[] prompt = ids("    return self.");
        int vocab = specula.target().vocabSize();
        Distribution p;
        try (ModelSequence t = specula.target().newSequence()) {
            Logits l = t.append(prompt);
            p = new SamplingTransform(params, vocab).apply(l, l.rows() - 1, new Distribution(vocab));
        }
        SpeculativeDecoder decoder = specula.decoder(true);
        long[] counts = new long[vocab];
        int n = 1500;
        for (int s = 0; s < n; s++) {
            counts[decoder.generate(prompt, params.toBuilder().seed(s).maxNewTokens(2).build()).tokens()[0]]++;
        }
        List<Double> e = new ArrayList<>();
        List<Long> o = new ArrayList<>();
        for (int i = 0; i < vocab; i++) {
            if (p.prob(i) > 0) {
                e.add((double) p.prob(i));
                o.add(counts[i]);
            } else {
                assertEquals(0, counts[i]);
            }
        }
        double pv = new ChiSquareTest().chiSquareTest(e.stream().mapToDouble(Double::doubleValue).toArray(),
                o.stream().mapToLong(Long::longValue).toArray());
        assertTrue(pv > 1e-3, "p-value " + pv);
    }

    @Test
    void concurrentGenerationsOverSharedModelsGiveTheSequentialOutputs() throws Exception {
        List<String> prompts = Prompts.CODE.subList(0, 8);
        List<Completion> sequential = new ArrayList<>();
        for (String p : prompts) {
            sequential.add(specula.generate(p, SamplingParams.greedy(24)));
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Completion>> futures = new ArrayList<>();
            for (String p : prompts) {
                futures.add(pool.submit(() -> specula.generate(p, SamplingParams.greedy(24))));
            }
            for (int i = 0; i < prompts.size(); i++) {
                assertArrayEquals(sequential.get(i).tokenIds(), futures.get(i).get().tokenIds());
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(0, specula.target().openSequences());
        assertEquals(0, specula.draftModel().orElseThrow().openSequences());
    }

    private static Path copyOf(Path dir, Path into) throws IOException {
        Files.createDirectories(into);
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.copy(f, into.resolve(f.getFileName()));
            }
        }
        return into;
    }

    @Test
    void mismatchedVocabulariesFailWithAMessageThatSaysSo(@TempDir Path tmp) throws IOException {
        Path tiny = Path.of("../onnx/src/test/resources/fixtures/tiny-vocab100");
        SpeculaException draft = assertThrows(SpeculaException.class, () -> Specula.builder()
                .target(EmbeddedModels.target()).draftModel(tiny).build());
        assertTrue(draft.getMessage().contains("scores 100 ids") && draft.getMessage().contains("4096"),
                draft.getMessage());

        Path bigTokenizer = copyOf(EmbeddedModels.target(), tmp.resolve("big-tokenizer"));
        String json = Files.readString(bigTokenizer.resolve("tokenizer.json")).replaceFirst("\"added_tokens\":\\s*\\[",
                "\"added_tokens\": [{\"id\": 5000, \"content\": \"<|extra|>\", \"single_word\": false, \"lstrip\": false,"
                        + " \"rstrip\": false, \"normalized\": false, \"special\": true}, ");
        Files.writeString(bigTokenizer.resolve("tokenizer.json"), json);
        SpeculaException tok = assertThrows(SpeculaException.class,
                () -> Specula.builder().target(bigTokenizer).build());
        assertTrue(tok.getMessage().contains("5001") && tok.getMessage().contains("4096"), tok.getMessage());
    }

    @Test
    void emptyPromptsAndUseAfterCloseFailClearly() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> specula.generate("", SamplingParams.greedy(3)))
                .getMessage().contains("empty"));
        Specula s = Specula.builder().target(EmbeddedModels.target()).build();
        s.close();
        s.close();
        assertTrue(assertThrows(IllegalStateException.class, () -> s.generate("x", SamplingParams.greedy(3)))
                .getMessage().contains("closed"));
    }
}
