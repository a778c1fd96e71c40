package dev.specula.core.schedule;

import java.util.HashMap;
import java.util.Map;

/**
 * A scheduler's instruction for one step.
 *
 * @param maxDraftTokens draft at most this many tokens (0 = plain decoding for this step)
 * @param minConfidence  a model drafter stops extending a draft when its confidence in the next draft token falls
 *                       under this (llama.cpp's draft-p-min); the first token is always drafted; 0 never stops
 *                       early
 * @param bySource       plans for particular sources of drafts ({@link dev.specula.core.draft.Proposal#source()}),
 *                       which a composite drafter hands to each of its drafters; sources not listed use this plan
 */
public record DraftPlan(int maxDraftTokens, double minConfidence, Map<String, DraftPlan> bySource) {

    public DraftPlan {
        if (maxDraftTokens < 0) {
            throw new IllegalArgumentException("maxDraftTokens must be >= 0, got " + maxDraftTokens);
        }
        if (!(minConfidence >= 0 && minConfidence <= 1)) {
            throw new IllegalArgumentException("minConfidence must be in [0, 1], got " + minConfidence);
        }
        bySource = Map.copyOf(bySource);
        for (DraftPlan p : bySource.values()) {
            if (p.maxDraftTokens() > maxDraftTokens) {
                throw new IllegalArgumentException("a source's draft length " + p.maxDraftTokens()
                        + " exceeds the step's " + maxDraftTokens);
            }
        }
    }

    public DraftPlan(int maxDraftTokens, double minConfidence) {
        this(maxDraftTokens, minConfidence, Map.of());
    }

    public static DraftPlan of(int maxDraftTokens) {
        return new DraftPlan(maxDraftTokens, 0);
    }

    /** The plan for drafts from {@code source}: its own if the scheduler made one, else this plan. */
    public DraftPlan forSource(String source) {
        DraftPlan p = bySource.get(source);
        return p != null ? p : bySource.isEmpty() ? this : new DraftPlan(maxDraftTokens, minConfidence);
    }

    /** This plan with no draft longer than {@code cap} (the tokens left to generate, say). */
    public DraftPlan capped(int cap) {
        if (maxDraftTokens <= cap) {
            return this;
        }
        Map<String, DraftPlan> capped = new HashMap<>();
        bySource.forEach((s, p) -> capped.put(s, p.capped(cap)));
        return new DraftPlan(Math.max(0, cap), minConfidence, capped);
    }
}
