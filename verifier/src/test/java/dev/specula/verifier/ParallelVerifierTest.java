package dev.specula.verifier;

import dev.specula.core.acceptance.TargetScores;
import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.Proposal;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.sampling.SamplingTransform;
import dev.specula.core.testing.ReferenceModel;
import dev.specula.core.verify.VerificationContext;
import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.assertEquals;

class ParallelVerifierTest {
    private final ParallelVerifier verifier = new ParallelVerifier();

    private static VerificationContext greedy(int vocab) {
        SamplingParams p = SamplingParams.greedy(10);
        return new VerificationContext(p, new TargetScores(new SamplingTransform(p, vocab)),
                new dev.specula.core.sampling.KeyedNoise(1));
    }

    private static int greedyNext(ReferenceModel m, int[] context) {
        try (ModelSequence s = m.newSequence()) {
            Logits l = s.append(context);
            return l.argmax(l.rows() - 1);
        }
    }

    @Test
    void scoresAllPositionsInOneCallAndKeepsOnlyTheAcceptedTokens() {
        ReferenceModel target = ReferenceModel.builder(16, 1).build();
        int[] prompt = {3, 1, 4, 1, 5};
        // The target's own greedy continuation, then a wrong token.
        int a = greedyNext(target, prompt);
        int b = greedyNext(target, new int[]{3, 1, 4, 1, 5, a});
        int wrong = (greedyNext(target, new int[]{3, 1, 4, 1, 5, a, b}) + 1) % 16;
        try (ModelSequence seq = target.newSequence()) {
            seq.append(prompt, 0, prompt.length - 1);
            long calls = target.calls();
            Verdict v = verifier.verify(seq, 5, Proposal.oneHot(new int[]{a, b, wrong, 7}), greedy(16));
            assertEquals(1, target.calls() - calls, "one target call for k+1 positions");
            assertEquals(new Verdict(4, 2, greedyNext(target, new int[]{3, 1, 4, 1, 5, a, b})), v);
            assertEquals(prompt.length + 2, seq.length(), "pending + 2 accepted tokens kept");
        }
    }

    @Test
    void anEmptyProposalIsOnePlainDecodingStep() {
        ReferenceModel target = ReferenceModel.builder(16, 2).build();
        try (ModelSequence seq = target.newSequence()) {
            seq.append(1, 2);
            Verdict v = verifier.verify(seq, 3, Proposal.empty(), greedy(16));
            assertEquals(new Verdict(0, 0, greedyNext(target, new int[]{1, 2, 3})), v);
            assertEquals(3, seq.length());
        }
    }
}
