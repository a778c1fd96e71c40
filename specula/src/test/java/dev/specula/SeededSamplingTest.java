package dev.specula;

import dev.specula.core.decode.GenerationResult;
import dev.specula.core.decode.SpeculativeDecoder;
import dev.specula.core.draft.Drafter;
import dev.specula.core.sampling.SamplingMode;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.Scheduling;
import dev.specula.draft.CompositeDrafter;
import dev.specula.draft.ModelDrafter;
import dev.specula.draft.PromptLookupDrafter;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.OnnxModelOptions;
import dev.specula.verifier.ParallelVerifier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seeded sampling on the embedded pair: with a seed, coupled sampling (the default mode) gives the tokens of
 * plain sampled decoding, whatever the drafter and draft length, alone or batched with other generations; without
 * one, each generation draws a fresh seed and reports it, and that seed replays the output.
 */
class SeededSamplingTest {
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

    /** `generate --temperature 0.8 --seed 7` with and without a draft, as a library call. */
    @Test
    void seed7AtTemperature08GivesTheSameTokensWithEveryDrafterAndDraftLength() throws Exception {
        assertEquals(SamplingMode.COUPLED, SamplingParams.DEFAULT_MODE, "the default mode is the invariant one");
        SamplingParams params = SamplingParams.builder().temperature(0.8).seed(7).maxNewTokens(48).build();
        ModelDrafter model = new ModelDrafter(specula.draftModel().orElseThrow());
        Map<String, Drafter> drafters = new LinkedHashMap<>();
        drafters.put("model", model);
        drafters.put("prompt-lookup", new PromptLookupDrafter(1, 4));
        drafters.put("composite", new CompositeDrafter(List.of(new PromptLookupDrafter(3, 4), model)));
        List<Scheduling> schedulings = List.of(Scheduling.fixed(1), Scheduling.fixed(4), Scheduling.fixed(8),
                Scheduling.adaptive());
        long accepted = 0;
        int compared = 0;
        for (String prompt : Prompts.CODE.subList(0, 6)) {
            int[] plain = specula.decoder(false).generate(ids(prompt), params).tokens();
            for (Map.Entry<String, Drafter> d : drafters.entrySet()) {
                for (Scheduling s : schedulings) {
                    SpeculativeDecoder decoder = SpeculativeDecoder.builder().target(specula.target())
                            .drafter(d.getValue()).scheduling(s).verifier(new ParallelVerifier())
                            .endOfSequence(specula.target().config().eosTokenIds()).build();
                    GenerationResult r = decoder.generate(ids(prompt), params);
                    assertArrayEquals(plain, r.tokens(), d.getKey() + " / " + s.name() + " on " + prompt);
                    assertEquals(7, r.metrics().seed());
                    accepted += r.metrics().acceptedTokens();
                    compared++;
                }
            }
        }
        assertEquals(6 * 3 * 4, compared);
        assertTrue(accepted > 500, "speculation accepted only " + accepted + " tokens");
        // Batched: the six generations run concurrently, stepped together, each with its own seed's plain tokens.
        List<java.util.concurrent.Callable<Completion>> together = new java.util.ArrayList<>();
        for (int i = 0; i < 6; i++) {
            String prompt = Prompts.CODE.get(i);
            SamplingParams own = params.toBuilder().seed(7 + i).build();
            together.add(() -> specula.generate(GenerationRequest.builder(prompt).params(own).build()));
        }
        List<Completion> batched = SpeculaBatchingTest.concurrently(together);
        for (int i = 0; i < 6; i++) {
            int[] plain = specula.decoder(false).generate(ids(Prompts.CODE.get(i)),
                    params.toBuilder().seed(7 + i).build()).tokens();
            assertArrayEquals(plain, batched.get(i).tokenIds(), "batched, seed " + (7 + i));
        }
        assertTrue(specula.peakBatchSize() > 1, "the generations were stepped together");
        // Through the public entry point, speculative and plain, and for another seed.
        for (long seed : new long[]{7, 8}) {
            SamplingParams p = params.toBuilder().seed(seed).build();
            Completion speculative = specula.generate(GenerationRequest.builder(Prompts.CODE.get(1)).params(p).build());
            Completion plain = specula.generate(GenerationRequest.builder(Prompts.CODE.get(1)).params(p)
                    .speculative(false).build());
            assertArrayEquals(plain.tokenIds(), speculative.tokenIds(), "seed " + seed);
            assertEquals(plain.text(), speculative.text());
        }
    }

    @Test
    void anUnseededGenerationReportsItsFreshSeedWhichReplaysIt() {
        SamplingParams unseeded = SamplingParams.builder().temperature(1.0).maxNewTokens(24).build();
        Completion a = specula.generate(Prompts.CODE.get(3), unseeded);
        Completion b = specula.generate(Prompts.CODE.get(3), unseeded);
        assertTrue(a.metrics().seed() != b.metrics().seed(), "two fresh seeds: " + a.metrics().seed());
        for (Completion c : List.of(a, b)) {
            SamplingParams replay = unseeded.toBuilder().seed(c.metrics().seed()).build();
            assertArrayEquals(c.tokenIds(), specula.generate(GenerationRequest.builder(Prompts.CODE.get(3))
                    .params(replay).speculative(false).build()).tokenIds(), "replayed without the draft");
        }
    }
}
