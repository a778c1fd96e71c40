package dev.specula.core.acceptance;

import dev.specula.core.draft.Proposal;
import dev.specula.core.sampling.Distribution;
import dev.specula.core.sampling.KeyedNoise;

/**
 * The accept-or-resample loop shared by the rejection-sampling rules: draft token i is kept with probability
 * {@link #acceptanceProbability}; at the first rejection the next token is drawn from {@link #residual}; when
 * all k are kept, the bonus token is drawn from the target's next distribution. The two rules differ only in
 * what q is: the draft model's reported distribution, or one-hot on the drafted token.
 *
 * <p>Each position's acceptance uniform and resampling noise are keyed by (seed, position) in streams of their
 * own ({@link KeyedNoise.Use#ACCEPT}, {@link KeyedNoise.Use#RESAMPLE}), independent of the noise the draft
 * sampled with ({@link KeyedNoise.Use#TOKEN}), which losslessness requires.
 */
abstract class RejectionSampling implements AcceptanceRule {

    /** Probability of keeping draft token {@code i}, given the target's p at its position. */
    abstract double acceptanceProbability(Distribution p, Proposal proposal, int i);

    /** Writes the distribution to resample from after rejecting draft token {@code i} into {@code out}. */
    abstract Distribution residual(Distribution p, Proposal proposal, int i, Distribution out);

    @Override
    public final Verdict decide(Proposal proposal, TargetScores target, KeyedNoise noise) {
        int k = proposal.size();
        for (int i = 0; i < k; i++) {
            Distribution p = target.distribution(i);
            double a = acceptanceProbability(p, proposal, i);
            long position = target.position(i);
            if (a >= 1 || noise.uniform(position, KeyedNoise.Use.ACCEPT) < a) {
                continue;
            }
            Distribution r = residual(p, proposal, i, target.workspace());
            return new Verdict(k, i, noise.gumbelMax(r, position, KeyedNoise.Use.RESAMPLE));
        }
        return new Verdict(k, k, noise.gumbelMax(target.distribution(k), target.position(k), KeyedNoise.Use.RESAMPLE));
    }
}
