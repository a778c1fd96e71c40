package dev.specula.core.acceptance;

import dev.specula.core.draft.Proposal;
import dev.specula.core.sampling.Distribution;

/**
 * Verification of deterministic drafts (n-gram lookups), whose q is one-hot on the proposed token x: accept x
 * with probability p(x); on rejection draw from p with x removed and renormalized. This is speculative
 * sampling with q = one-hot(x), so the emitted token is distributed exactly as p.
 */
public final class OneHotAcceptance extends RejectionSampling {
    public static final OneHotAcceptance INSTANCE = new OneHotAcceptance();

    private OneHotAcceptance() {
    }

    @Override
    double acceptanceProbability(double px, Proposal proposal, int i) {
        return px;
    }

    @Override
    Distribution residual(Distribution p, Proposal proposal, int i, Distribution out) {
        return withoutToken(p, proposal.tokens()[i], out);
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
