package dev.specula.draft;

import dev.specula.core.decode.GenerationResult;
import dev.specula.core.decode.SpeculativeDecoder;
import dev.specula.core.draft.Drafter;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.Scheduling;
import dev.specula.core.testing.FakeClock;
import dev.specula.core.testing.ReferenceModel;
import dev.specula.verifier.ParallelVerifier;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The contract every drafter meets, run against each (Tribuo's shared-helper pattern): whatever it proposes,
 * greedy speculative decoding emits exactly the tokens of plain greedy decoding, for every scheduler,
 * k = 1..8, many prompts, and draft agreement from 0 to 1.
 */
abstract class DrafterContract {
    static final int VOCAB = 12;

    /** The drafter under test, for a target and a draft model of the given agreement. */
    abstract Drafter drafter(ReferenceModel target, ReferenceModel draft);

    static List<Scheduling> schedulings() {
        List<Scheduling> all = new ArrayList<>();
        for (int k = 1; k <= 8; k++) {
            all.add(Scheduling.fixed(k));
        }
        all.add(Scheduling.heuristic());
        all.add(Scheduling.adaptive());
        return all;
    }

    static int[] prompt(long seed, int length) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] p = new int[length];
        for (int i = 0; i < length; i++) {
            // Repetitive prompts, so lookup drafters find matches.
            p[i] = i > 4 && r.nextInt(3) == 0 ? p[i - 4] : r.nextInt(VOCAB);
        }
        return p;
    }

    static SpeculativeDecoder decoder(ReferenceModel target, Drafter drafter, Scheduling scheduling) {
        return SpeculativeDecoder.builder().target(target).drafter(drafter).scheduling(scheduling)
                .verifier(new ParallelVerifier()).build();
    }

    @Test
    void greedySpeculativeOutputEqualsPlainGreedyOutput() {
        int checked = 0;
        long drafted = 0;
        for (double agreement : new double[]{0, 0.3, 0.7, 1}) {
            for (long seed = 0; seed < 4; seed++) {
                ReferenceModel target = ReferenceModel.builder(VOCAB, 100 + seed).order(2).build();
                ReferenceModel draft = ReferenceModel.draftOf(target, agreement, 200 + seed).build();
                SpeculativeDecoder plain = SpeculativeDecoder.builder().target(target)
                        .verifier(new ParallelVerifier()).build();
                Drafter drafter = drafter(target, draft);
                for (int p = 0; p < 3; p++) {
                    int promptIndex = p;
                    int[] prompt = prompt(seed * 31 + p, 6 + 5 * p);
                    SamplingParams params = SamplingParams.greedy(40);
                    GenerationResult expected = plain.generate(prompt, params);
                    for (Scheduling scheduling : schedulings()) {
                        GenerationResult actual = decoder(target, drafter, scheduling).generate(prompt, params);
                        assertArrayEquals(expected.tokens(), actual.tokens(), () -> drafter.name() + " agreement "
                                + agreement + " " + scheduling.name() + " prompt " + promptIndex);
                        assertEquals(expected.finishReason(), actual.finishReason());
                        drafted += actual.metrics().draftedTokens();
                        checked++;
                    }
                }
                assertEquals(0, target.openSequences(), "every target sequence closed");
                assertEquals(0, draft.openSequences(), "every draft sequence closed");
            }
        }
        assertTrue(checked >= 480, "checked " + checked);
        assertTrue(drafted > 0, "the drafter never proposed anything");
    }

    /**
     * With a deterministic schedule, a seed fixes the sampled output. (The adaptive scheduler decides from
     * measured time, so its sampled outputs are reproducible only in distribution, unless time is simulated.)
     */
    @Test
    void sampledGenerationIsReproducibleWithASeed() {
        ReferenceModel target = ReferenceModel.builder(VOCAB, 7).build();
        ReferenceModel draft = ReferenceModel.draftOf(target, 0.6, 8).build();
        SamplingParams params = SamplingParams.builder().temperature(0.9).topP(0.95).seed(1234).maxNewTokens(50).build();
        int[] prompt = prompt(3, 10);
        for (Scheduling scheduling : List.of(Scheduling.fixed(3), Scheduling.heuristic())) {
            // A fresh drafter per run: a learning drafter (the n-gram cache) proposes differently once it has learned.
            int[] first = decoder(target, drafter(target, draft), scheduling).generate(prompt, params).tokens();
            int[] second = decoder(target, drafter(target, draft), scheduling).generate(prompt, params).tokens();
            assertArrayEquals(first, second, scheduling.name());
        }
        int[][] adaptive = new int[2][];
        for (int run = 0; run < 2; run++) {
            FakeClock clock = new FakeClock();
            ReferenceModel timedTarget = ReferenceModel.builder(VOCAB, 7).cost(clock, 2_000_000, 100_000).build();
            ReferenceModel timedDraft = ReferenceModel.draftOf(timedTarget, 0.6, 8).cost(clock, 200_000, 0).build();
            adaptive[run] = SpeculativeDecoder.builder().target(timedTarget).drafter(drafter(timedTarget, timedDraft))
                    .scheduling(Scheduling.adaptive()).verifier(new ParallelVerifier()).clock(clock).build()
                    .generate(prompt, params).tokens();
        }
        assertArrayEquals(adaptive[0], adaptive[1]);
    }
}
