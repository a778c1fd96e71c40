package dev.specula.draft;

import dev.specula.core.decode.BatchDecoder;
import dev.specula.core.decode.BatchStepper;
import dev.specula.core.decode.GenerationResult;
import dev.specula.core.decode.TokenListener;
import dev.specula.core.decode.SpeculativeDecoder;
import dev.specula.core.draft.DraftContext;
import dev.specula.core.draft.DraftProposer;
import dev.specula.core.draft.Drafter;
import dev.specula.core.draft.Proposal;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.sampling.Distribution;
import dev.specula.core.sampling.SamplingMode;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.sampling.SamplingTransform;
import dev.specula.core.schedule.BatchScheduling;
import dev.specula.core.schedule.Scheduling;
import dev.specula.core.testing.ReferenceModel;
import dev.specula.core.testing.ScriptedDrafter;
import dev.specula.verifier.ParallelVerifier;
import org.apache.commons.math3.stat.inference.ChiSquareTest;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sampled decoding through the whole loop leaves the output distributed exactly as the target's, in both
 * sampling modes: a chi-square test over 100,000 generations (one seed each) of the joint distribution of the
 * first two tokens, against the exact target distribution computed from the reference model through the same
 * sampling transform.
 */
class DistributionPreservationTest {
    static final int VOCAB = 6;
    static final int SAMPLES = 100_000;
    static final int[] PROMPT = {1, 4, 2, 5};

    static final ReferenceModel TARGET = ReferenceModel.builder(VOCAB, 21).scale(1.2).build();
    static final ReferenceModel DRAFT = ReferenceModel.draftOf(TARGET, 0.5, 22).build();
    /** A draft that never shares the target's logits: q unrelated to p. */
    static final ReferenceModel STRANGER = ReferenceModel.draftOf(TARGET, 0, 23).build();

    static List<SamplingParams> settings(SamplingMode mode) {
        return List.of(
                SamplingParams.builder().temperature(1).mode(mode).maxNewTokens(3).build(),
                SamplingParams.builder().temperature(0.7).topK(4).mode(mode).maxNewTokens(3).build(),
                SamplingParams.builder().temperature(1.3).topP(0.8).mode(mode).maxNewTokens(3).build());
    }

    /** Exact P(first two tokens = (a, b)) under the target's sampling. */
    static double[] exactJoint(SamplingParams params) {
        SamplingTransform t = new SamplingTransform(params, VOCAB);
        double[] joint = new double[VOCAB * VOCAB];
        try (ModelSequence s = TARGET.newSequence()) {
            Logits first = s.append(PROMPT);
            Distribution p1 = t.apply(first, first.rows() - 1, new Distribution(VOCAB));
            float[] p1s = p1.probabilities().clone();
            int len = s.length();
            for (int a = 0; a < VOCAB; a++) {
                if (p1s[a] == 0) {
                    continue;
                }
                s.rollback(len);
                Distribution p2 = t.apply(s.append(a), 0, new Distribution(VOCAB));
                for (int b = 0; b < VOCAB; b++) {
                    joint[a * VOCAB + b] = (double) p1s[a] * p2.prob(b);
                }
            }
        }
        return joint;
    }

    static double pValue(Drafter drafter, SamplingParams params) {
        return pValue(drafter, params, Scheduling.fixed(2));
    }

    /** The p-value of the first two tokens' joint counts against the target's; a null drafter decodes plainly. */
    static double pValue(Drafter drafter, SamplingParams params, Scheduling scheduling) {
        SpeculativeDecoder decoder = SpeculativeDecoder.builder().target(TARGET).drafter(drafter)
                .scheduling(scheduling).verifier(new ParallelVerifier()).build();
        List<GenerationResult> results = new ArrayList<>(SAMPLES);
        for (int s = 0; s < SAMPLES; s++) {
            results.add(decoder.generate(PROMPT, params.toBuilder().seed(s).build()));
        }
        return pValue(drafter, params, results);
    }

    /** The p-value of generations stepped together in batches of {@code batchSize} rows, one seed each. */
    static double pValueBatched(Drafter drafter, SamplingParams params, Scheduling scheduling, int batchSize) {
        BatchDecoder decoder = BatchDecoder.builder().target(TARGET).drafter(drafter)
                .scheduling(BatchScheduling.perRow(scheduling)).verifier(new ParallelVerifier())
                .maxBatchSize(batchSize).build();
        List<CompletableFuture<GenerationResult>> futures = new ArrayList<>(SAMPLES);
        try (BatchStepper stepper = decoder.stepper()) {
            for (int s = 0; s < SAMPLES; s++) {
                futures.add(stepper.add(PROMPT, params.toBuilder().seed(s).build(), TokenListener.NONE, () -> false));
                if (stepper.waiting() >= batchSize) {
                    stepper.step(); // keep the queue short: rows join as others leave
                }
            }
            while (stepper.step()) {
                assertTrue(stepper.running() <= batchSize);
            }
        }
        return pValue(drafter, params, futures.stream().map(CompletableFuture::join).toList());
    }

    private static double pValue(Drafter drafter, SamplingParams params, List<GenerationResult> results) {
        long[] counts = new long[VOCAB * VOCAB];
        long drafted = 0;
        for (GenerationResult r : results) {
            int[] t = r.tokens();
            counts[t[0] * VOCAB + t[1]]++;
            drafted += r.metrics().draftedTokens();
        }
        if (drafter != null) {
            assertTrue(drafted > SAMPLES / 4, "drafts were verified: " + drafted);
        }
        double[] expected = exactJoint(params);
        List<Double> e = new ArrayList<>();
        List<Long> o = new ArrayList<>();
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] > 0) {
                e.add(expected[i]);
                o.add(counts[i]);
            } else {
                assertEquals(0, counts[i], "pair " + i + " has probability 0 under the target but was generated");
            }
        }
        return new ChiSquareTest().chiSquareTest(e.stream().mapToDouble(Double::doubleValue).toArray(),
                o.stream().mapToLong(Long::longValue).toArray());
    }

    @Test
    void modelDraftsKeepTheTargetDistribution() {
        for (SamplingMode mode : SamplingMode.values()) {
            for (SamplingParams params : settings(mode)) {
                double p = pValue(new ModelDrafter(DRAFT), params);
                assertTrue(p > 1e-3, params + ": p-value " + p);
            }
        }
    }

    /** Speculative sampling of rows stepped together (batch size 16) keeps each row distributed as the target. */
    @Test
    void batchedModelDraftsKeepTheTargetDistribution() {
        for (SamplingMode mode : SamplingMode.values()) {
            for (SamplingParams params : settings(mode)) {
                double p = pValueBatched(new ModelDrafter(DRAFT), params, Scheduling.fixed(2), 16);
                assertTrue(p > 1e-3, params + " batched: p-value " + p);
            }
        }
        // The test can fail: a batch of drafts whose reported q differs from what they sampled is caught.
        SamplingParams rejection = SamplingParams.builder().temperature(0.6).mode(SamplingMode.REJECTION)
                .maxNewTokens(3).build();
        double p = pValueBatched(new MismatchedQDrafter(), rejection, Scheduling.fixed(2), 16);
        assertTrue(p < 1e-6, "a mismatched q must be detected in a batch too, p-value " + p);
    }

    /** Plain coupled sampling (Gumbel-max with keyed noise, no drafter) follows p; and so do unrelated drafts. */
    @Test
    void plainCoupledSamplingAndUnrelatedDraftsKeepTheTargetDistribution() {
        for (SamplingParams params : settings(SamplingMode.COUPLED)) {
            double plain = pValue(null, params, Scheduling.fixed(0));
            assertTrue(plain > 1e-3, params + " plain: p-value " + plain);
            double stranger = pValue(new ModelDrafter(STRANGER), params, Scheduling.fixed(3));
            assertTrue(stranger > 1e-3, params + " unrelated draft: p-value " + stranger);
        }
    }

    /** Early stops on the draft's confidence must not bias the output (the stop is decided before drawing). */
    @Test
    void earlyStoppingModelDraftsKeepTheTargetDistribution() {
        Scheduling stopping = new Scheduling() {
            @Override
            public dev.specula.core.schedule.DraftScheduler start() {
                return new dev.specula.core.schedule.DraftScheduler() {
                    @Override
                    public dev.specula.core.schedule.DraftPlan plan() {
                        return new dev.specula.core.schedule.DraftPlan(2, 0.45);
                    }

                    @Override
                    public void feedback(dev.specula.core.StepOutcome outcome) {
                    }
                };
            }

            @Override
            public String name() {
                return "stop-below-0.45";
            }
        };
        for (SamplingMode mode : SamplingMode.values()) {
            for (SamplingParams params : settings(mode)) {
                double p = pValue(new ModelDrafter(DRAFT), params, stopping);
                assertTrue(p > 1e-3, params + ": p-value " + p);
            }
        }
    }

    @Test
    void oneHotDraftsKeepTheTargetDistribution() {
        Drafter guesses = new ScriptedDrafter((history, k) -> {
            int[] out = new int[k];
            for (int i = 0; i < k; i++) {
                out[i] = (history.get(history.size() - 1) + 1 + i) % VOCAB;
            }
            return out;
        });
        for (SamplingMode mode : SamplingMode.values()) {
            for (SamplingParams params : settings(mode)) {
                double p = pValue(guesses, params);
                assertTrue(p > 1e-3, params + ": p-value " + p);
            }
        }
    }

    /**
     * A model drafter that samples at a different temperature than the q it reports: a lossless-ness bug under
     * rejection sampling (coupled verification never reads q, so it cannot be misled by it).
     */
    static final class MismatchedQDrafter implements Drafter {
        @Override
        public DraftProposer start(DraftContext context) {
            ModelSequence seq = DRAFT.newSequence();
            SamplingTransform reported = new SamplingTransform(context.params(), VOCAB);
            SamplingTransform actual = new SamplingTransform(
                    context.params().toBuilder().temperature(context.params().temperature() * 2.5).build(), VOCAB);
            return new DraftProposer() {
                @Override
                public Proposal propose(dev.specula.core.draft.TokenHistory history, dev.specula.core.schedule.DraftPlan plan) {
                    seq.rollback(0);
                    Logits l = seq.append(history.toArray(0, history.size()));
                    Distribution q = reported.apply(l, l.rows() - 1, new Distribution(VOCAB));
                    int token = context.noise().gumbelMax(actual.apply(l, l.rows() - 1, new Distribution(VOCAB)),
                            history.size());
                    return new Proposal(new int[]{token}, new Distribution[]{q}, null, 1);
                }

                @Override
                public void close() {
                    seq.close();
                }
            };
        }

        @Override
        public OptionalInt vocabSize() {
            return OptionalInt.of(VOCAB);
        }
    }

    @Test
    void theTestCatchesADraftWhoseReportedQDiffersFromWhatItSampled() {
        SamplingParams params = SamplingParams.builder().temperature(0.6).mode(SamplingMode.REJECTION).maxNewTokens(3)
                .build();
        double p = pValue(new MismatchedQDrafter(), params);
        assertTrue(p < 1e-6, "a mismatched q must be detected, p-value " + p);
        double coupled = pValue(new MismatchedQDrafter(), params.toBuilder().mode(SamplingMode.COUPLED).build());
        assertTrue(coupled > 1e-3, "coupled verification emits p whatever the draft: p-value " + coupled);
    }
}
