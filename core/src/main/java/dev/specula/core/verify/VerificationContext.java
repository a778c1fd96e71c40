package dev.specula.core.verify;

import dev.specula.core.acceptance.TargetScores;
import dev.specula.core.sampling.SamplingParams;

import java.util.random.RandomGenerator;

/**
 * One generation's verification state, passed to the {@link Verifier} at every step.
 *
 * @param params the sampling parameters (which select the acceptance rule)
 * @param scores reusable target scores over the generation's sampling transform
 * @param random the generation's seeded random source
 */
public record VerificationContext(SamplingParams params, TargetScores scores, RandomGenerator random) {
}
