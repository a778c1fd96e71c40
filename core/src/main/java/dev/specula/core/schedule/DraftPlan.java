package dev.specula.core.schedule;

/**
 * A scheduler's instruction for one step.
 *
 * @param maxDraftTokens draft at most this many tokens (0 = plain decoding for this step)
 * @param minConfidence  a model drafter stops early when its probability for the next draft token falls
 *                       under this (llama.cpp's draft-p-min); 0 never stops early
 */
public record DraftPlan(int maxDraftTokens, double minConfidence) {

    public DraftPlan {
        if (maxDraftTokens < 0) {
            throw new IllegalArgumentException("maxDraftTokens must be >= 0, got " + maxDraftTokens);
        }
        if (!(minConfidence >= 0 && minConfidence <= 1)) {
            throw new IllegalArgumentException("minConfidence must be in [0, 1], got " + minConfidence);
        }
    }

    public static DraftPlan of(int maxDraftTokens) {
        return new DraftPlan(maxDraftTokens, 0);
    }

    public DraftPlan withMaxDraftTokens(int k) {
        return k == maxDraftTokens ? this : new DraftPlan(k, minConfidence);
    }
}
