package dev.specula.core.verify;

import dev.specula.core.acceptance.TargetScores;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingParams;

/**
 * One generation's verification state, passed to the {@link Verifier} at every step.
 *
 * @param params the sampling parameters (which select the acceptance rule)
 * @param scores reusable target scores over the generation's sampling transform
 * @param noise  the generation's keyed noise (its seed is the generation's), shared with the drafter
 */
public record VerificationContext(SamplingParams params, TargetScores scores, KeyedNoise noise) {
}
