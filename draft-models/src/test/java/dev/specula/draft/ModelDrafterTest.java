package dev.specula.draft;

import dev.specula.core.decode.GenerationResult;
import dev.specula.core.draft.Drafter;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.Scheduling;
import dev.specula.core.testing.ReferenceModel;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelDrafterTest extends DrafterContract {
    @Override
    Drafter drafter(ReferenceModel target, ReferenceModel draft) {
        return new ModelDrafter(draft);
    }

    @Test
    void acceptanceFollowsTheDialedAgreement() {
        double previous = -1;
        for (double agreement : new double[]{0, 0.3, 0.7, 1}) {
            long drafted = 0;
            long accepted = 0;
            for (long seed = 0; seed < 10; seed++) {
                ReferenceModel target = ReferenceModel.builder(VOCAB, seed).order(3).build();
                ReferenceModel draft = ReferenceModel.draftOf(target, agreement, seed + 50).build();
                GenerationResult r = decoder(target, new ModelDrafter(draft), Scheduling.fixed(1))
                        .generate(prompt(seed, 8), SamplingParams.greedy(300));
                drafted += r.metrics().draftedTokens();
                accepted += r.metrics().acceptedTokens();
            }
            double rate = (double) accepted / drafted;
            assertTrue(rate > previous, "acceptance " + rate + " at agreement " + agreement + " after " + previous);
            previous = rate;
            if (agreement == 0) {
                assertTrue(rate < 0.3, "independent draft accepted at " + rate);
            }
            if (agreement == 1) {
                assertEquals(1.0, rate, 1e-12);
            }
        }
    }

    @Test
    void stopsDraftingUnderTheConfidenceThreshold() {
        ReferenceModel target = ReferenceModel.builder(VOCAB, 1).scale(0.3).build(); // flat: low confidence
        ReferenceModel draft = ReferenceModel.draftOf(target, 1.0, 2).build();
        ModelDrafter drafter = new ModelDrafter(draft);
        var history = new dev.specula.core.draft.TokenBuffer(prompt(2, 6));
        var proposer = drafter.start(new dev.specula.core.draft.DraftContext(SamplingParams.greedy(10),
                new dev.specula.core.sampling.KeyedNoise(1), VOCAB, history));
        assertEquals(5, proposer.propose(history, new dev.specula.core.schedule.DraftPlan(5, 0)).size());
        // The first token is always drafted; the threshold stops the extension.
        assertEquals(1, proposer.propose(history, new dev.specula.core.schedule.DraftPlan(5, 0.95)).size());
        proposer.close();
        assertEquals(0, draft.openSequences());
    }

    @Test
    void aGenerationThatNeverDraftsNeverCallsTheDraft() {
        ReferenceModel target = ReferenceModel.builder(VOCAB, 3).build();
        ReferenceModel draft = ReferenceModel.draftOf(target, 1.0, 4).build();
        decoder(target, new ModelDrafter(draft), Scheduling.fixed(0)).generate(prompt(5, 8), SamplingParams.greedy(20));
        assertEquals(0, draft.calls());
    }

    @Test
    void draftCallsAreCountedAndCatchUpIsOneCall() {
        ReferenceModel target = ReferenceModel.builder(VOCAB, 3).build();
        ReferenceModel draft = ReferenceModel.draftOf(target, 1.0, 4).build();
        GenerationResult r = decoder(target, new ModelDrafter(draft), Scheduling.fixed(4))
                .generate(prompt(5, 8), SamplingParams.greedy(40));
        // The draft prefills lazily, in one call just before its first proposal (a generation that never drafts
        // pays nothing), timed as prefill; every other draft call belongs to a proposal.
        assertEquals(draft.calls(), r.metrics().draftCalls() + 1);
        // With perfect agreement each step drafts 4 tokens in 4 calls (one catch-up call plus 3 single steps).
        assertEquals(4L * r.metrics().steps(), r.metrics().draftCalls(), r.metrics().toString());
        assertEquals(1.0, r.metrics().acceptanceRate(), 1e-9);
    }
}
