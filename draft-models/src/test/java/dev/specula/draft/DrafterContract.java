package dev.specula.draft;

import dev.specula.core.decode.GenerationResult;
import dev.specula.core.decode.SpeculativeDecoder;
import dev.specula.core.draft.Drafter;
import dev.specula.core.sampling.SamplingMode;
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
 * k = 1..8, many prompts, and draft agreement from 0 to 1; and coupled sampled decoding with seed s emits
 * exactly the tokens of plain sampled decoding with seed s, for every draft length and scheduler.
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

    /** The schedules of the sampled-output checks: fixed 1/4/8, the heuristic, and adaptive on two clocks. */
    static final String[] SAMPLED_SCHEDULES = {"fixed-1", "fixed-4", "fixed-8", "heuristic", "adaptive-cheap-draft",
            "adaptive-costly-draft"};

    /**
     * One sampled generation with a schedule of {@link #SAMPLED_SCHEDULES} over a target and draft of known
     * simulated costs: the two adaptive runs differ only in the simulated costs (of a draft call, and of each
     * token the target verifies), which changes the draft lengths they choose. A warm-up generation with another
     * seed runs first on the same decoder.
     */
    GenerationResult sampled(long modelSeed, String schedule, int[] prompt, SamplingParams params) {
        FakeClock clock = new FakeClock();
        boolean costly = schedule.equals("adaptive-costly-draft");
        long draftCost = costly ? 1_500_000 : 150_000;
        long targetPerToken = costly ? 700_000 : 100_000;
        ReferenceModel target = ReferenceModel.builder(VOCAB, modelSeed).cost(clock, 2_000_000, targetPerToken).build();
        ReferenceModel draft = ReferenceModel.draftOf(target, 0.6, modelSeed + 1).cost(clock, draftCost, 0).build();
        Scheduling scheduling = switch (schedule) {
            case "fixed-1" -> Scheduling.fixed(1);
            case "fixed-4" -> Scheduling.fixed(4);
            case "fixed-8" -> Scheduling.fixed(8);
            case "heuristic" -> Scheduling.heuristic();
            default -> Scheduling.adaptive();
        };
        SpeculativeDecoder decoder = SpeculativeDecoder.builder().target(target).drafter(drafter(target, draft))
                .scheduling(scheduling).verifier(new ParallelVerifier()).clock(clock).build();
        // A first generation (another seed) gives a learning drafter, the n-gram cache, something to propose.
        decoder.generate(prompt, params.toBuilder().seed(params.seed().orElse(0) ^ 0x5EED).build());
        return decoder.generate(prompt, params);
    }

    static List<SamplingParams> sampledSettings(SamplingMode mode) {
        return List.of(SamplingParams.builder().temperature(0.9).topP(0.95).mode(mode).maxNewTokens(40).build(),
                SamplingParams.builder().temperature(0.6).topK(6).mode(mode).maxNewTokens(40).build());
    }

    /**
     * Coupled sampling is drafter-invariant: for 20 prompts x 3 seeds, the output with seed s is the output of
     * plain sampled decoding with seed s, for k = 1, 4, 8, the heuristic, and the adaptive scheduler on cheap and
     * on costly simulated models (which changes the draft lengths it picks, and changed the text before the noise
     * was keyed by position).
     */
    @Test
    void coupledSampledOutputEqualsPlainSampledOutputWithTheSameSeed() {
        int compared = 0;
        long drafted = 0;
        long accepted = 0;
        int schedulesDiffered = 0;
        for (SamplingParams setting : sampledSettings(SamplingMode.COUPLED)) {
            for (int p = 0; p < 20; p++) {
                int[] prompt = prompt(500 + p, 5 + p % 7);
                for (long seed : new long[]{0, 7, -123456789L}) {
                    SamplingParams params = setting.toBuilder().seed(seed).build();
                    ReferenceModel target = ReferenceModel.builder(VOCAB, 40 + p).build();
                    GenerationResult plain = SpeculativeDecoder.builder().target(target)
                            .verifier(new ParallelVerifier()).build().generate(prompt, params);
                    assertEquals(seed, plain.metrics().seed());
                    int[][] lengths = new int[SAMPLED_SCHEDULES.length][];
                    for (int i = 0; i < SAMPLED_SCHEDULES.length; i++) {
                        String schedule = SAMPLED_SCHEDULES[i];
                        GenerationResult r = sampled(40 + p, schedule, prompt, params);
                        int promptIndex = p;
                        assertArrayEquals(plain.tokens(), r.tokens(), () -> getClass().getSimpleName() + " "
                                + schedule + " prompt " + promptIndex + " seed " + seed + " " + params);
                        assertEquals(plain.finishReason(), r.finishReason());
                        assertEquals(seed, r.metrics().seed());
                        lengths[i] = r.metrics().draftLengths();
                        drafted += r.metrics().draftedTokens();
                        accepted += r.metrics().acceptedTokens();
                        compared++;
                    }
                    schedulesDiffered += java.util.Arrays.equals(lengths[4], lengths[5]) ? 0 : 1;
                }
            }
        }
        assertEquals(2 * 20 * 3 * SAMPLED_SCHEDULES.length, compared);
        assertTrue(drafted > 0 && accepted > 0, "drafted " + drafted + ", accepted " + accepted);
        // The comparison means something only if the two simulated cost regimes made the adaptive scheduler choose
        // different draft lengths in most runs (deterministic: reference models and a simulated clock).
        assertTrue(schedulesDiffered >= 80, "the simulated costs changed the adaptive draft lengths in only "
                + schedulesDiffered + " of 120 runs");
    }

    /**
     * Rejection sampling reproduces a seed's output when the draft lengths repeat (its noise is keyed by
     * position too), but not across schedules: the limitation the coupled mode removes. The second half also
     * shows that the schedules of the coupled check above do change what a seed-dependent rule emits.
     */
    @Test
    void rejectionSampledOutputRepeatsForTheSameScheduleOnly() {
        int differentFromPlain = 0;
        for (int p = 0; p < 20; p++) {
            int[] prompt = prompt(500 + p, 5 + p % 7);
            SamplingParams params = sampledSettings(SamplingMode.REJECTION).get(0).toBuilder().seed(p).build();
            for (String schedule : SAMPLED_SCHEDULES) {
                assertArrayEquals(sampled(40 + p, schedule, prompt, params).tokens(),
                        sampled(40 + p, schedule, prompt, params).tokens(), schedule + " prompt " + p);
            }
            ReferenceModel target = ReferenceModel.builder(VOCAB, 40 + p).build();
            int[] plain = SpeculativeDecoder.builder().target(target).verifier(new ParallelVerifier()).build()
                    .generate(prompt, params).tokens();
            differentFromPlain += java.util.Arrays.equals(plain, sampled(40 + p, "fixed-4", prompt, params).tokens())
                    ? 0 : 1;
        }
        assertTrue(differentFromPlain >= 15, "rejection sampling with k = 4 differed from plain decoding in only "
                + differentFromPlain + " of 20 prompts");
    }
}
