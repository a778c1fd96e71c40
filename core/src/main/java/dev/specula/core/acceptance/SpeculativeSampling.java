package dev.specula.core.acceptance;

import dev.specula.core.draft.Proposal;
import dev.specula.core.sampling.Distribution;

/**
 * Speculative sampling (Leviathan et al. 2023; Chen et al. 2023): draft token x, sampled from q, is accepted
 * with probability min(1, p(x)/q(x)); on rejection the next token is drawn from norm(max(0, p - q)); when all
 * k are accepted a bonus token is drawn from the target's next distribution. The emitted token is then
 * distributed exactly as p. It is only lossless if q is the distribution x was actually sampled from.
 */
public final class SpeculativeSampling extends RejectionSampling {
    public static final SpeculativeSampling INSTANCE = new SpeculativeSampling();

    private SpeculativeSampling() {
    }

    @Override
    double acceptanceProbability(double px, Proposal proposal, int i) {
        return acceptanceProbability(px, proposal.distributions()[i], proposal.tokens()[i]);
    }

    @Override
    Distribution residual(Distribution p, Proposal proposal, int i, Distribution out) {
        return residual(p, proposal.distributions()[i], out);
    }

    /**
     * min(1, p(x)/q(x)).
     *
     * @throws IllegalStateException if q(x) = 0: x cannot have been sampled from q, so q is not the
     *                               distribution the draft sampled from
     */
    public static double acceptanceProbability(Distribution p, Distribution q, int x) {
        return acceptanceProbability(p.prob(x), q, x);
    }

    /** min(1, px/q(x)) for the target's probability px of x; see {@link #acceptanceProbability(Distribution, Distribution, int)}. */
    static double acceptanceProbability(double px, Distribution q, int x) {
        double qx = q.prob(x);
        if (!(qx > 0)) {
            throw new IllegalStateException("draft token " + x + " has probability " + qx
                    + " under the distribution the drafter reported; a model draft must report the exact"
                    + " distribution it sampled from");
        }
        return Math.min(1.0, px / qx);
    }

    /**
     * Writes norm(max(0, p - q)) into {@code out} and returns it. When p and q coincide (the residual has no
     * mass, which a rejection makes impossible except through rounding) {@code out} becomes p.
     */
    public static Distribution residual(Distribution p, Distribution q, Distribution out) {
        float[] pp = p.probabilities();
        float[] qq = q.probabilities();
        float[] o = out.probabilities();
        for (int t = 0; t < o.length; t++) {
            float d = pp[t] - qq[t];
            o[t] = d > 0 ? d : 0f;
        }
        if (!out.normalize()) {
            out.copyFrom(p);
        }
        return out;
    }
}
