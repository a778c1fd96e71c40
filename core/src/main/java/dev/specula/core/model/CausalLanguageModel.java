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

    @Override
    void close();
}
