package dev.specula.core.acceptance;

import dev.specula.core.draft.Proposal;
import dev.specula.core.sampling.Distribution;

import java.util.random.RandomGenerator;

/**
 * The accept-or-resample loop shared by the sampling rules: draft token i is kept with probability
 * {@link #acceptanceProbability}; at the first rejection the next token is drawn from {@link #residual}; when
 * all k are kept, the bonus token is drawn from the target's next distribution. The two rules differ only in
 * what q is: the draft model's reported distribution, or one-hot on the drafted token.
 */
abstract class RejectionSampling implements AcceptanceRule {

    /** Probability of keeping draft token {@code i}, given the target's p at its position. */
    abstract double acceptanceProbability(Distribution p, Proposal proposal, int i);

    /** Writes the distribution to resample from after rejecting draft token {@code i} into {@code out}. */
    abstract Distribution residual(Distribution p, Proposal proposal, int i, Distribution out);

    @Override
    public final Verdict decide(Proposal proposal, TargetScores target, RandomGenerator random) {
        int k = proposal.size();
        for (int i = 0; i < k; i++) {
            Distribution p = target.distribution(i);
            double a = acceptanceProbability(p, proposal, i);
            if (a >= 1 || random.nextDouble() < a) {
                continue;
            }
            return new Verdict(k, i, residual(p, proposal, i, target.workspace()).sample(random));
        }
        return new Verdict(k, k, target.distribution(k).sample(random));
    }
}
