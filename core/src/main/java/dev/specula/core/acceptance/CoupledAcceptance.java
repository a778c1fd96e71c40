package dev.specula.core.acceptance;

import dev.specula.core.draft.Proposal;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingMode;

/**
 * Verification of {@link SamplingMode#COUPLED} sampling, for every kind of draft: the target's token at each
 * position is its Gumbel-max token argmax(log p + G(seed, position)) ({@link KeyedNoise#gumbelMax}); draft
 * tokens are kept while each equals the target's token at its position, and the target's token follows at the
 * first mismatch (or as the bonus). The emitted tokens are therefore exactly those plain sampled decoding with
 * the same seed emits, whatever was drafted, so each is distributed exactly as p. Drafts only decide how many
 * of them one target call yields: a model draft that samples with the same keyed noise (argmax(log q + G))
 * matches whenever the coupling of p and q lets it (Daliri, Musco, Suresh 2024).
 */
public final class CoupledAcceptance implements AcceptanceRule {
    public static final CoupledAcceptance INSTANCE = new CoupledAcceptance();

    private CoupledAcceptance() {
    }

    @Override
    public Verdict decide(Proposal proposal, TargetScores target, KeyedNoise noise) {
        int[] tokens = proposal.tokens();
        int k = tokens.length;
        for (int i = 0; i < k; i++) {
            int chosen = target.gumbelMax(i, noise, KeyedNoise.Use.TOKEN);
            if (tokens[i] != chosen) {
                return new Verdict(k, i, chosen);
            }
        }
        return new Verdict(k, k, target.gumbelMax(k, noise, KeyedNoise.Use.TOKEN));
    }
}
