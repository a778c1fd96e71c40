package dev.specula.core.acceptance;

import dev.specula.core.draft.Proposal;
import dev.specula.core.sampling.Distribution;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.RowBounds;

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

    /**
     * Probability of keeping draft token {@code i} when the target gives it probability {@code px}; non-decreasing
     * in {@code px}, so bounds on px bound it.
     */
    abstract double acceptanceProbability(double px, Proposal proposal, int i);

    /** Writes the distribution to resample from after rejecting draft token {@code i} into {@code out}. */
    abstract Distribution residual(Distribution p, Proposal proposal, int i, Distribution out);

    /**
     * Each row is first judged from its bounds ({@link TargetScores#bounds}): if the acceptance probability's
     * lower bound already exceeds the position's uniform, the token is kept; if its upper bound does not reach
     * it, the token is rejected; only otherwise is the row's distribution computed. The uniform and the
     * comparison are those of the exact rule, so the verdict is the same.
     */
    @Override
    public final Verdict decide(Proposal proposal, TargetScores target, KeyedNoise noise) {
        int k = proposal.size();
        int[] tokens = proposal.tokens();
        for (int i = 0; i < k; i++) {
            long position = target.position(i);
            RowBounds bounds = target.bounds(i);
            Boolean kept = null;
            if (bounds != null) {
                double low = acceptanceProbability(bounds.probabilityLow(tokens[i]), proposal, i);
                if (low >= 1 || noise.uniform(position, KeyedNoise.Use.ACCEPT) < low) {
                    kept = true;
                } else {
                    double high = acceptanceProbability(bounds.probabilityHigh(tokens[i]), proposal, i);
                    if (high < 1 && noise.uniform(position, KeyedNoise.Use.ACCEPT) >= high) {
                        kept = false;
                    }
                }
            }
            if (kept == null) {
                double a = acceptanceProbability(target.distribution(i).prob(tokens[i]), proposal, i);
                kept = a >= 1 || noise.uniform(position, KeyedNoise.Use.ACCEPT) < a;
            }
            if (kept) {
                continue;
            }
            Distribution r = residual(target.distribution(i), proposal, i, target.workspace());
            return new Verdict(k, i, noise.gumbelMax(r, position, KeyedNoise.Use.RESAMPLE));
        }
        return new Verdict(k, k, target.gumbelMax(k, noise, KeyedNoise.Use.RESAMPLE));
    }
}
