package dev.specula.core.draft;

import dev.specula.core.sampling.Distribution;

import java.util.Objects;

/**
 * What a drafter proposes: up to k tokens and, for model drafts, the exact distributions they were sampled
 * from (q). Deterministic drafters (n-gram lookups) carry no distributions: their tokens have one-hot
 * semantics. Never null: an empty proposal means "no guess", and the step decodes one token plainly.
 *
 * <p>The distributions are buffers owned by the proposer, valid until its next {@code propose} call.
 *
 * @param tokens        drafted token ids, in order
 * @param distributions for a model draft, {@code distributions[i]} is the distribution {@code tokens[i]} was
 *                      sampled from; null for one-hot drafts
 * @param modelCalls    forward calls the draft model made for this proposal (0 for lookups)
 */
public record Proposal(int[] tokens, Distribution[] distributions, int modelCalls) {

    private static final Proposal EMPTY = new Proposal(new int[0], null, 0);

    public Proposal {
        Objects.requireNonNull(tokens, "tokens");
        if (distributions != null && distributions.length < tokens.length) {
            throw new IllegalArgumentException("a model draft needs one distribution per token: " + tokens.length
                    + " tokens, " + distributions.length + " distributions");
        }
        if (modelCalls < 0) {
            throw new IllegalArgumentException("modelCalls must be >= 0, got " + modelCalls);
        }
    }

    public static Proposal empty() {
        return EMPTY;
    }

    /** A deterministic (one-hot) draft. */
    public static Proposal oneHot(int[] tokens) {
        return tokens.length == 0 ? EMPTY : new Proposal(tokens, null, 0);
    }

    public int size() {
        return tokens.length;
    }

    public boolean isEmpty() {
        return tokens.length == 0;
    }

    /** True when the draft tokens were sampled from reported distributions (a model draft). */
    public boolean hasDistributions() {
        return distributions != null;
    }

    /**
     * The draft's confidence in token {@code i}: its probability under q, or NaN for one-hot drafts.
     */
    public double confidence(int i) {
        return distributions == null ? Double.NaN : distributions[i].prob(tokens[i]);
    }
}
