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
 * @param confidences   the drafter's own probability of each token (a model draft's softmax at temperature 1
 *                      when decoding greedily), used to learn when to stop drafting; null when it has none
 * @param modelCalls    forward calls the draft model made for this proposal (0 for lookups)
 * @param source        which drafter proposed it ({@link Drafter#name()}), so schedulers can learn per source
 */
public record Proposal(int[] tokens, Distribution[] distributions, float[] confidences, int modelCalls,
                       String source) {

    /** The source of drafts that name none. */
    public static final String DEFAULT_SOURCE = "draft";
    private static final Proposal EMPTY = new Proposal(new int[0], null, null, 0, DEFAULT_SOURCE);

    public Proposal {
        Objects.requireNonNull(tokens, "tokens");
        if (distributions != null && distributions.length < tokens.length) {
            throw new IllegalArgumentException("a model draft needs one distribution per token: " + tokens.length
                    + " tokens, " + distributions.length + " distributions");
        }
        if (confidences != null && confidences.length < tokens.length) {
            throw new IllegalArgumentException("confidences must cover every token: " + tokens.length + " tokens, "
                    + confidences.length + " confidences");
        }
        if (modelCalls < 0) {
            throw new IllegalArgumentException("modelCalls must be >= 0, got " + modelCalls);
        }
        Objects.requireNonNull(source, "source");
    }

    /** A proposal from the default source. */
    public Proposal(int[] tokens, Distribution[] distributions, float[] confidences, int modelCalls) {
        this(tokens, distributions, confidences, modelCalls, DEFAULT_SOURCE);
    }

    public static Proposal empty() {
        return EMPTY;
    }

    /** A deterministic (one-hot) draft. */
    public static Proposal oneHot(int[] tokens) {
        return oneHot(tokens, DEFAULT_SOURCE);
    }

    /** A deterministic (one-hot) draft from the named source. */
    public static Proposal oneHot(int[] tokens, String source) {
        return tokens.length == 0 ? EMPTY : new Proposal(tokens, null, null, 0, source);
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
     * The drafter's confidence in token {@code i}: the reported confidence, else its probability under q, else
     * NaN (one-hot drafts).
     */
    public double confidence(int i) {
        if (confidences != null) {
            return confidences[i];
        }
        return distributions == null ? Double.NaN : distributions[i].prob(tokens[i]);
    }
}
