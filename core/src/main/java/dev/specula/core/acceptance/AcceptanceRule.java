package dev.specula.core.acceptance;

import dev.specula.core.draft.Proposal;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingMode;
import dev.specula.core.sampling.SamplingParams;

/**
 * Decides how much of a proposal the target keeps, and the token that follows. Implementations are pure
 * functions of (proposal, target scores, keyed noise) and are stateless singletons; the noise a rule draws for
 * a row is keyed by that row's sequence position ({@link TargetScores#position}), never by draw order.
 *
 * <ul>
 *   <li>{@link GreedyAcceptance}: exact match with the target's argmax (temperature 0);</li>
 *   <li>{@link CoupledAcceptance}: exact match with the target's Gumbel-max token ({@link SamplingMode#COUPLED});</li>
 *   <li>{@link SpeculativeSampling}: model drafts with distributions q (Leviathan et al. 2023;
 *       {@link SamplingMode#REJECTION});</li>
 *   <li>{@link OneHotAcceptance}: deterministic drafts, q = one-hot ({@link SamplingMode#REJECTION}).</li>
 * </ul>
 * Every rule keeps the output distributed exactly as the target's own sampling would be.
 */
public interface AcceptanceRule {

    Verdict decide(Proposal proposal, TargetScores target, KeyedNoise noise);

    /** The rule that keeps decoding lossless for these parameters and this kind of proposal. */
    static AcceptanceRule select(SamplingParams params, Proposal proposal) {
        if (params.isGreedy()) {
            return GreedyAcceptance.INSTANCE;
        }
        if (params.mode() == SamplingMode.COUPLED) {
            return CoupledAcceptance.INSTANCE;
        }
        return proposal.hasDistributions() ? SpeculativeSampling.INSTANCE : OneHotAcceptance.INSTANCE;
    }
}
