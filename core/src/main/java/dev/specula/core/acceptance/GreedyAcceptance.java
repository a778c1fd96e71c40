package dev.specula.core.acceptance;

import dev.specula.core.draft.Proposal;
import dev.specula.core.sampling.KeyedNoise;

/**
 * Greedy verification: keep draft tokens while each equals the target's argmax; the target's argmax at the
 * first mismatch (or after the last draft token, as a bonus) follows. Token-identical to plain greedy decoding.
 */
public final class GreedyAcceptance implements AcceptanceRule {
    public static final GreedyAcceptance INSTANCE = new GreedyAcceptance();

    private GreedyAcceptance() {
    }

    @Override
    public Verdict decide(Proposal proposal, TargetScores target, KeyedNoise noise) {
        int[] tokens = proposal.tokens();
        int k = tokens.length;
        for (int i = 0; i < k; i++) {
            int best = target.argmax(i);
            if (tokens[i] != best) {
                return new Verdict(k, i, best);
            }
        }
        return new Verdict(k, k, target.argmax(k));
    }
}
