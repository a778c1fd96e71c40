package dev.specula.core.acceptance;

import dev.specula.core.draft.Proposal;
import dev.specula.core.sampling.SamplingParams;

import java.util.random.RandomGenerator;

/**
 * Decides how much of a proposal the target keeps, and the token that follows. Implementations are pure
 * functions of (proposal, target scores, random source) and are stateless singletons.
 *
 * <ul>
 *   <li>{@link GreedyAcceptance}: exact match with the target's argmax (temperature 0);</li>
 *   <li>{@link SpeculativeSampling}: model drafts with distributions q (Leviathan et al. 2023);</li>
 *   <li>{@link OneHotAcceptance}: deterministic drafts, q = one-hot.</li>
 * </ul>
 * Every rule keeps the output distributed exactly as the target's own sampling would be.
 */
public interface AcceptanceRule {

    Verdict decide(Proposal proposal, TargetScores target, RandomGenerator random);

    /** The rule that keeps decoding lossless for these parameters and this kind of proposal. */
    static AcceptanceRule select(SamplingParams params, Proposal proposal) {
        if (params.isGreedy()) {
            return GreedyAcceptance.INSTANCE;
        }
        return proposal.hasDistributions() ? SpeculativeSampling.INSTANCE : OneHotAcceptance.INSTANCE;
    }
}
