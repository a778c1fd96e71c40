package dev.specula.core.draft;

import java.util.OptionalInt;

/**
 * A source of draft tokens, shared and thread-safe: a small model, a prompt lookup, a cross-request n-gram
 * cache. Each generation gets its own {@link DraftProposer}.
 */
public interface Drafter {

    /** Starts proposing for one generation; the caller owns and closes the proposer. */
    DraftProposer start(DraftContext context);

    /**
     * Starts proposing for generations stepped together by a batched engine; the caller owns and closes it. By
     * default each row proposes on its own ({@link PerRowBatchProposer}); a draft model overrides this to make one
     * forward call per draft position for all rows.
     *
     * @param capacity the most rows held at once
     */
    default BatchProposer startBatch(int capacity) {
        return new PerRowBatchProposer(this);
    }

    /** The vocabulary size of a model drafter (checked against the target's), empty for vocabulary-free ones. */
    default OptionalInt vocabSize() {
        return OptionalInt.empty();
    }

    /** A short name for metrics and reports. */
    default String name() {
        return getClass().getSimpleName();
    }
}
