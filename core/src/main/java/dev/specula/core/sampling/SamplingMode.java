package dev.specula.core.sampling;

/**
 * How sampled decoding draws its tokens and verifies drafts. Both modes emit tokens distributed exactly as the
 * target's distribution p; they differ in what a seed pins and in how many draft tokens are accepted.
 * Greedy decoding (temperature 0) ignores the mode.
 */
public enum SamplingMode {
    /**
     * Gumbel-max with noise keyed by (seed, position) ({@link KeyedNoise}): the token at each position is
     * argmax(log p + G(seed, position)), in plain and in speculative decoding alike; a draft token is accepted
     * iff it is that token, and a model drafter samples with the same noise so that it agrees as often as p and
     * q allow (Daliri, Musco, Suresh 2024). With a given seed, the output is the same with every drafter, draft
     * length and scheduler, and the same as plain decoding's. Per draft token, acceptance is at least
     * (1 - TV) / (1 + TV), below rejection sampling's 1 - TV(p, q) (measured on the embedded pair in
     * {@link SamplingParams#DEFAULT_MODE}).
     */
    COUPLED,
    /**
     * Speculative (rejection) sampling (Leviathan et al. 2023, Chen et al. 2023): accept a draft token x with
     * probability min(1, p(x)/q(x)), else draw from norm(max(0, p - q)). The highest acceptance any lossless
     * rule can reach (1 - TV per token), but the output with a given seed depends on which positions were
     * drafted, hence on the drafter, the draft lengths and, with an adaptive scheduler, on measured time. Its
     * uniforms are keyed by (seed, position) too, so a run with the same draft lengths reproduces.
     */
    REJECTION
}
