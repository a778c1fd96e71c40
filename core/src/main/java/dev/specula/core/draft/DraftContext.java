package dev.specula.core.draft;

import dev.specula.core.sampling.SamplingParams;

import java.util.random.RandomGenerator;

/**
 * What a drafter needs to start proposing for one generation.
 *
 * @param params    the generation's sampling parameters: a model drafter samples through the same
 *                  {@link dev.specula.core.sampling.SamplingTransform} as the target
 * @param random    the generation's seeded random source (shared with the verifier, used in order)
 * @param vocabSize the target's vocabulary size
 * @param history   the generation's tokens, live: at {@link Drafter#start} it holds the prompt, so a model drafter
 *                  can prefill while the target does (and keep its prefill out of the per-step draft cost)
 */
public record DraftContext(SamplingParams params, RandomGenerator random, int vocabSize, TokenHistory history) {
}
