package dev.specula.core.decode;

import java.util.Arrays;

/**
 * What one generation measured.
 *
 * @param promptTokens    tokens in the prompt
 * @param generatedTokens tokens emitted (end-of-sequence and stop tokens excluded)
 * @param draftedTokens   draft tokens proposed and verified
 * @param acceptedTokens  draft tokens accepted
 * @param steps           decoding steps (each one target call)
 * @param targetCalls     forward calls of the target, prefill included
 * @param draftCalls      forward calls of the draft model (0 for lookup drafters)
 * @param prefillNanos    time to prefill the target, and the draft model if it drafts
 * @param draftNanos      time spent proposing
 * @param verifyNanos     time spent verifying (target calls, acceptance, rollback)
 * @param totalNanos      wall time of the whole generation
 * @param draftLengths    the draft length the scheduler chose at each step (a copy is returned)
 * @param seed            the seed the generation's noise was keyed with: the one given, or the fresh one drawn
 *                        when none was; pass it back ({@code SamplingParams.Builder.seed}) to replay a sampled
 *                        output (greedy decoding draws no noise)
 */
public record GenerationMetrics(int promptTokens, int generatedTokens, int draftedTokens, int acceptedTokens,
                                int steps, int targetCalls, int draftCalls, long prefillNanos, long draftNanos,
                                long verifyNanos, long totalNanos, int[] draftLengths, long seed) {

    public GenerationMetrics {
        draftLengths = draftLengths.clone();
    }

    @Override
    public int[] draftLengths() {
        return draftLengths.clone();
    }

    /** Accepted over drafted tokens; 0 when nothing was drafted. */
    public double acceptanceRate() {
        return draftedTokens == 0 ? 0 : (double) acceptedTokens / draftedTokens;
    }

    /** Generated tokens per decoding step (target call after prefill); 1 for plain decoding. */
    public double meanTokensPerTargetCall() {
        return steps == 0 ? 0 : (double) generatedTokens / steps;
    }

    /** Generated tokens per second of the whole generation, prefill included. */
    public double tokensPerSecond() {
        return totalNanos == 0 ? 0 : generatedTokens * 1e9 / totalNanos;
    }

    /** Time not spent prefilling, drafting or verifying (sampling, bookkeeping, listeners). */
    public long otherNanos() {
        return Math.max(0, totalNanos - prefillNanos - draftNanos - verifyNanos);
    }

    /** Mean draft length chosen per step. */
    public double meanDraftLength() {
        return Arrays.stream(draftLengths).average().orElse(0);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GenerationMetrics m && promptTokens == m.promptTokens && generatedTokens == m.generatedTokens
                && draftedTokens == m.draftedTokens && acceptedTokens == m.acceptedTokens && steps == m.steps
                && targetCalls == m.targetCalls && draftCalls == m.draftCalls && prefillNanos == m.prefillNanos
                && draftNanos == m.draftNanos && verifyNanos == m.verifyNanos && totalNanos == m.totalNanos
                && Arrays.equals(draftLengths, m.draftLengths) && seed == m.seed;
    }

    @Override
    public int hashCode() {
        return 31 * Long.hashCode(totalNanos) + Arrays.hashCode(draftLengths);
    }

    @Override
    public String toString() {
        return String.format("GenerationMetrics[generated=%d, tokens/s=%.1f, acceptance=%.3f, tokens/call=%.2f,"
                        + " drafted=%d, accepted=%d, steps=%d, draftCalls=%d, prefill=%.1fms, draft=%.1fms,"
                        + " verify=%.1fms, other=%.1fms, seed=%d]", generatedTokens, tokensPerSecond(), acceptanceRate(),
                meanTokensPerTargetCall(), draftedTokens, acceptedTokens, steps, draftCalls, prefillNanos / 1e6,
                draftNanos / 1e6, verifyNanos / 1e6, otherNanos() / 1e6, seed);
    }
}
