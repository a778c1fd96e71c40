package dev.specula.draft;

import dev.specula.core.decode.FinishReason;
import dev.specula.core.decode.GenerationResult;
import dev.specula.core.decode.SpeculativeDecoder;
import dev.specula.core.model.NonFiniteLogitsException;
import dev.specula.core.sampling.SamplingMode;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.Scheduling;
import dev.specula.core.testing.ReferenceModel;
import dev.specula.core.testing.ScriptedDrafter;
import dev.specula.verifier.ParallelVerifier;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The decoding loop's edges: end tokens inside drafts, budgets mid-draft, k = 0, cancellation, failures. */
class DecodingLoopTest {
    static final int VOCAB = 12;
    final ReferenceModel target = ReferenceModel.builder(VOCAB, 5).order(3).build();
    final ReferenceModel perfect = ReferenceModel.draftOf(target, 1.0, 6).build();
    final int[] prompt = {1, 2, 3, 4, 5, 6};

    SpeculativeDecoder.Builder base() {
        return SpeculativeDecoder.builder().target(target).verifier(new ParallelVerifier());
    }

    int[] plain(int n) {
        return base().build().generate(prompt, SamplingParams.greedy(n)).tokens();
    }

    @Test
    void endOfSequenceInsideAnAcceptedDraftEndsTheGenerationThere() {
        int[] reference = plain(40);
        int eosAt = 7;
        int eos = reference[eosAt];
        int first = Arrays.stream(reference).boxed().toList().indexOf(eos);
        GenerationResult r = base().drafter(new ModelDrafter(perfect)).scheduling(Scheduling.fixed(8))
                .endOfSequence(Set.of(eos)).build().generate(prompt, SamplingParams.greedy(40));
        assertEquals(FinishReason.END_OF_SEQUENCE, r.finishReason());
        assertArrayEquals(Arrays.copyOf(reference, first), r.tokens());
        assertTrue(r.metrics().draftedTokens() > r.tokens().length, "the end token arrived inside a draft");

        GenerationResult stop = base().drafter(new ModelDrafter(perfect)).scheduling(Scheduling.fixed(8)).build()
                .generate(prompt, SamplingParams.greedy(40).toBuilder().stopTokenIds(Set.of(eos)).build());
        assertEquals(FinishReason.STOP_TOKEN, stop.finishReason());
        assertArrayEquals(Arrays.copyOf(reference, first), stop.tokens());
    }

    @Test
    void maxTokensCapsTheDraftMidWay() {
        GenerationResult r = base().drafter(new ModelDrafter(perfect)).scheduling(Scheduling.fixed(8)).build()
                .generate(prompt, SamplingParams.greedy(5));
        assertEquals(FinishReason.MAX_TOKENS, r.finishReason());
        assertArrayEquals(plain(5), r.tokens());
        assertEquals(1, r.metrics().steps(), "one step: 4 drafted + the bonus token");
        assertArrayEquals(new int[]{4}, r.metrics().draftLengths());
    }

    @Test
    void zeroDraftLengthAndEmptyProposalsArePlainDecoding() {
        GenerationResult k0 = base().drafter(new ModelDrafter(perfect)).scheduling(Scheduling.fixed(0)).build()
                .generate(prompt, SamplingParams.greedy(20));
        assertArrayEquals(plain(20), k0.tokens());
        assertEquals(0, k0.metrics().draftCalls());
        assertEquals(20, k0.metrics().steps());
        assertEquals(21, k0.metrics().targetCalls(), "prefill + one call per token");

        GenerationResult empty = base().drafter(new ScriptedDrafter((h, k) -> new int[0]))
                .scheduling(Scheduling.fixed(4)).build().generate(prompt, SamplingParams.greedy(20));
        assertArrayEquals(plain(20), empty.tokens());
        assertEquals(0, empty.metrics().draftedTokens());
    }

    @Test
    void tokensStreamInOrderWithTheirSourceAndMetricsAddUp() {
        List<Integer> streamed = new ArrayList<>();
        AtomicInteger fromDraft = new AtomicInteger();
        GenerationResult r = base().drafter(new ModelDrafter(ReferenceModel.draftOf(target, 0.6, 9).build()))
                .scheduling(Scheduling.adaptive()).build()
                .generate(prompt, SamplingParams.greedy(60), (token, drafted) -> {
                    streamed.add(token);
                    if (drafted) {
                        fromDraft.incrementAndGet();
                    }
                });
        assertArrayEquals(r.tokens(), streamed.stream().mapToInt(Integer::intValue).toArray());
        var m = r.metrics();
        assertEquals(m.acceptedTokens(), fromDraft.get());
        assertEquals(60, m.generatedTokens());
        assertEquals(m.steps() + 1, m.targetCalls());
        assertEquals(m.steps(), m.draftLengths().length);
        assertTrue(m.generatedTokens() <= m.acceptedTokens() + m.steps());
        assertTrue(m.totalNanos() >= m.draftNanos() + m.verifyNanos() + m.prefillNanos());
    }

    @Test
    void cancellationAndInterruptEndTheGenerationWithWhatItHas() {
        AtomicBoolean cancel = new AtomicBoolean();
        AtomicInteger seen = new AtomicInteger();
        GenerationResult r = base().build().generate(prompt, SamplingParams.greedy(100),
                (t, d) -> {
                    if (seen.incrementAndGet() == 3) {
                        cancel.set(true);
                    }
                }, cancel::get);
        assertEquals(FinishReason.CANCELLED, r.finishReason());
        assertArrayEquals(plain(3), r.tokens());

        Thread.currentThread().interrupt();
        try {
            GenerationResult interrupted = base().build().generate(prompt, SamplingParams.greedy(100));
            assertEquals(FinishReason.CANCELLED, interrupted.finishReason());
            assertTrue(Thread.currentThread().isInterrupted(), "the interrupt flag is kept for the caller");
        } finally {
            Thread.interrupted();
        }
        assertEquals(0, target.openSequences());
    }

    @Test
    void aGenerationWithoutASeedDrawsAFreshOneReportsItAndReplaysWithIt() {
        SamplingParams unseeded = SamplingParams.builder().temperature(1.0).mode(SamplingMode.COUPLED).maxNewTokens(30)
                .build();
        AtomicInteger drawn = new AtomicInteger();
        SpeculativeDecoder d = base().drafter(new ModelDrafter(ReferenceModel.draftOf(target, 0.6, 9).build()))
                .scheduling(Scheduling.fixed(3)).seedSource(() -> 1000 + drawn.getAndIncrement()).build();
        GenerationResult first = d.generate(prompt, unseeded);
        GenerationResult second = d.generate(prompt, unseeded);
        assertEquals(1000, first.metrics().seed());
        assertEquals(1001, second.metrics().seed());
        GenerationResult replay = d.generate(prompt, unseeded.toBuilder().seed(1000).build());
        assertArrayEquals(first.tokens(), replay.tokens());
        assertEquals(1000, replay.metrics().seed());
        assertEquals(2, drawn.get(), "a given seed draws none");

        // The default source: a new, unpredictable seed per generation; each output replays from its seed.
        SpeculativeDecoder plain = base().build();
        Set<Long> seeds = new java.util.HashSet<>();
        Set<List<Integer>> outputs = new java.util.HashSet<>();
        for (int i = 0; i < 5; i++) {
            GenerationResult r = plain.generate(prompt, unseeded);
            seeds.add(r.metrics().seed());
            outputs.add(Arrays.stream(r.tokens()).boxed().toList());
            assertArrayEquals(r.tokens(), d.generate(prompt, unseeded.toBuilder().seed(r.metrics().seed()).build())
                    .tokens(), "replayed with the reported seed, with a drafter");
        }
        assertEquals(5, seeds.size(), "five fresh seeds: " + seeds);
        assertTrue(outputs.size() >= 4, "five unseeded generations at temperature 1 gave " + outputs.size()
                + " distinct outputs");
    }

    @Test
    void contextFullEndsTheGeneration() {
        ReferenceModel small = ReferenceModel.builder(VOCAB, 5).maxLength(16).build();
        GenerationResult r = SpeculativeDecoder.builder().target(small).verifier(new ParallelVerifier())
                .drafter(new ModelDrafter(ReferenceModel.draftOf(small, 1, 3).build())).scheduling(Scheduling.fixed(5))
                .build().generate(prompt, SamplingParams.greedy(100));
        assertEquals(FinishReason.CONTEXT_FULL, r.finishReason());
        assertEquals(16 - prompt.length, r.tokens().length);
    }

    @Test
    void invalidInputsFailClearly() {
        SpeculativeDecoder d = base().build();
        assertTrue(assertThrows(IllegalArgumentException.class, () -> d.generate(new int[0], SamplingParams.greedy(5)))
                .getMessage().contains("at least one token"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> d.generate(new int[]{1, 99}, SamplingParams.greedy(5)))
                .getMessage().contains("[0, 12)"));
        ReferenceModel small = ReferenceModel.builder(VOCAB, 5).maxLength(8).build();
        SpeculativeDecoder tiny = SpeculativeDecoder.builder().target(small).verifier(new ParallelVerifier()).build();
        assertTrue(assertThrows(IllegalArgumentException.class, () -> tiny.generate(new int[8], SamplingParams.greedy(5)))
                .getMessage().contains("context"));
        ReferenceModel otherVocab = ReferenceModel.builder(VOCAB + 1, 5).build();
        IllegalArgumentException mismatch = assertThrows(IllegalArgumentException.class,
                () -> base().drafter(new ModelDrafter(otherVocab)).build());
        assertTrue(mismatch.getMessage().contains("13") && mismatch.getMessage().contains("12"), mismatch.getMessage());
        assertThrows(NullPointerException.class, () -> SpeculativeDecoder.builder().target(target).build());
    }

    @Test
    void aDrafterThatProposesTooMuchIsReported() {
        SpeculativeDecoder d = base().drafter(new ScriptedDrafter((h, k) -> new int[k + 1])).scheduling(Scheduling.fixed(2))
                .build();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> d.generate(prompt, SamplingParams.greedy(5)));
        assertTrue(e.getMessage().contains("at most 2"), e.getMessage());
        assertEquals(0, target.openSequences());
    }

    @Test
    void nonFiniteLogitsFailTheGenerationAndLeaveNothingOpen() {
        ReferenceModel broken = ReferenceModel.builder(VOCAB, 5).build();
        ReferenceModel draft = ReferenceModel.draftOf(broken, 0.5, 1).build();
        SpeculativeDecoder d = SpeculativeDecoder.builder().target(broken).verifier(new ParallelVerifier())
                .drafter(new ModelDrafter(draft)).scheduling(Scheduling.fixed(3)).build();
        broken.failWithNaNAfter(4);
        for (SamplingParams params : List.of(SamplingParams.greedy(50),
                SamplingParams.builder().temperature(0.8).maxNewTokens(50).build())) {
            broken.failWithNaNAfter(4);
            NonFiniteLogitsException e = assertThrows(NonFiniteLogitsException.class, () -> d.generate(prompt, params));
            assertTrue(e.getMessage().contains("NaN"), e.getMessage());
            assertEquals(0, broken.openSequences());
            assertEquals(0, draft.openSequences());
        }
    }
}
