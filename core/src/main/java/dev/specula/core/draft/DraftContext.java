package dev.specula.core.draft;

import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingParams;

/**
 * What a drafter needs to start proposing for one generation.
 *
 * @param params    the generation's sampling parameters: a model drafter samples through the same
 *                  {@link dev.specula.core.sampling.SamplingTransform} as the target
 * @param noise     the generation's keyed noise, shared with the verifier: a model drafter samples the token at
 *                  sequence position t (the index it will have in the history, prompt included) as
 *                  {@code noise.gumbelMax(q, t)}, so it agrees with the target's choice there as often as p
 *                  and q allow
 * @param vocabSize the target's vocabulary size
 * @param history   the generation's tokens, live: at {@link Drafter#start} it holds the prompt, so a model drafter
 *                  can prefill while the target does (and keep its prefill out of the per-step draft cost)
 */
public record DraftContext(SamplingParams params, KeyedNoise noise, int vocabSize, TokenHistory history) {
}
