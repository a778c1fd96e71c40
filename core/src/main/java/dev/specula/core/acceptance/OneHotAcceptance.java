package dev.specula.core.acceptance;

import dev.specula.core.draft.Proposal;
import dev.specula.core.sampling.Distribution;

import java.util.random.RandomGenerator;

/**
 * Verification of deterministic drafts (n-gram lookups), whose q is one-hot on the proposed token x: accept x
 * with probability p(x); on rejection draw from p with x removed and renormalized. This is speculative
 * sampling with q = one-hot(x), so the emitted token is distributed exactly as p.
 */
public final class OneHotAcceptance implements AcceptanceRule {
    public static final OneHotAcceptance INSTANCE = new OneHotAcceptance();

    private OneHotAcceptance() {
    }

    @Override
    public Verdict decide(Proposal proposal, TargetScores target, RandomGenerator random) {
        int[] tokens = proposal.tokens();
        int k = tokens.length;
        for (int i = 0; i < k; i++) {
            Distribution p = target.distribution(i);
            double a = p.prob(tokens[i]);
            if (a >= 1 || random.nextDouble() < a) {
                continue;
            }
            Distribution residual = withoutToken(p, tokens[i], target.workspace());
            return new Verdict(k, i, residual.sample(random));
        }
        return new Verdict(k, k, target.distribution(k).sample(random));
    }

    /** Writes p with {@code token} removed and renormalized into {@code out} (p itself if nothing remains). */
    public static Distribution withoutToken(Distribution p, int token, Distribution out) {
        out.copyFrom(p);
        out.probabilities()[token] = 0f;
        if (!out.normalize()) {
            out.copyFrom(p);
        }
        return out;
    }
}
