package dev.specula.draft;

import dev.specula.core.draft.DraftContext;
import dev.specula.core.draft.DraftProposer;
import dev.specula.core.draft.Drafter;
import dev.specula.core.draft.Proposal;
import dev.specula.core.draft.TokenHistory;
import dev.specula.core.schedule.DraftPlan;

/**
 * Prompt lookup decoding (Saxena 2023; Hugging Face's {@code prompt_lookup_num_tokens}, vLLM's n-gram
 * proposer): find the most recent earlier occurrence of the context's last n tokens, in the prompt or the text
 * generated so far, and propose the tokens that followed it. Tries n from {@code maxN} down to {@code minN}, so
 * the longest match wins. Free to run (no model), it shines when the output copies the input: editing code,
 * quoting, reformatting. Proposals are one-hot.
 *
 * <p>Stateless and thread-safe.
 */
public final class PromptLookupDrafter implements Drafter {
    private final int minN;
    private final int maxN;

    /** Matches of 2 to 4 tokens. */
    public PromptLookupDrafter() {
        this(2, 4);
    }

    public PromptLookupDrafter(int minN, int maxN) {
        if (minN < 1 || maxN < minN || maxN > 64) {
            throw new IllegalArgumentException("need 1 <= minN <= maxN <= 64, got minN " + minN + ", maxN " + maxN);
        }
        this.minN = minN;
        this.maxN = maxN;
    }

    public int minN() {
        return minN;
    }

    public int maxN() {
        return maxN;
    }

    @Override
    public DraftProposer start(DraftContext context) {
        return (history, plan) -> Proposal.oneHot(lookup(history, plan.maxDraftTokens()), name());
    }

    /** The up-to-{@code k} tokens that followed the most recent earlier match of the longest matching suffix. */
    int[] lookup(TokenHistory h, int k) {
        int size = h.size();
        if (k <= 0) {
            return new int[0];
        }
        for (int n = Math.min(maxN, size - 1); n >= minN; n--) {
            int start = find(h, size, n);
            if (start >= 0) {
                int end = Math.min(size, start + k);
                return h.toArray(start, end);
            }
        }
        return new int[0];
    }

    /** Position right after the most recent earlier occurrence of the last n tokens, or -1. */
    static int find(TokenHistory h, int size, int n) {
        int last = h.get(size - 1);
        // An occurrence ending at e (exclusive) with e < size, scanning backwards.
        for (int e = size - 1; e >= n; e--) {
            if (h.get(e - 1) != last) {
                continue;
            }
            boolean match = true;
            for (int j = 2; j <= n; j++) {
                if (h.get(e - j) != h.get(size - j)) {
                    match = false;
                    break;
                }
            }
            if (match) {
                return e;
            }
        }
        return -1;
    }

    @Override
    public String name() {
        return "prompt-lookup";
    }

    @Override
    public String toString() {
        return "PromptLookupDrafter[n=" + minN + ".." + maxN + "]";
    }
}
