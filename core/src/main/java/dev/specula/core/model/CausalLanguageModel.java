package dev.specula.core.model;

/**
 * A loaded causal language model (weights, session): thread-safe and shared by many generations, each of which
 * drives its own {@link ModelSequence}. Draft and target models are the same kind of object; only their use
 * differs.
 *
 * <p>The model is owned by whoever created it, who closes it after every sequence made from it is closed.
 */
public interface CausalLanguageModel extends AutoCloseable {

    /** A short human-readable name (a directory name, say) for messages and reports. */
    String name();

    int vocabSize();

    /** The most tokens one sequence may hold (the model's context length). */
    int maxSequenceLength();

    /** A new, empty sequence; the caller owns and closes it. */
    ModelSequence newSequence();

    /**
     * A new, empty batch of at most {@code capacity} rows, each stepped with the others in one forward call; the
     * caller owns and closes it. Models that cannot batch natively return {@link SequentialBatch}, which keeps the
     * contract with one call per row.
     */
    default SequenceBatch newBatch(int capacity) {
        return new SequentialBatch(this, capacity);
    }

    @Override
    void close();
}
