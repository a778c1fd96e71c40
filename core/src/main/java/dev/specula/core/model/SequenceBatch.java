package dev.specula.core.model;

import java.util.List;

/**
 * Several sequences of one model advanced together: ONE forward call appends tokens to every row of the batch,
 * each row its own number of tokens (shorter rows are padded and masked by the implementation). The batched form
 * of {@link ModelSequence}, used by the engine that steps concurrent generations together.
 *
 * <p>Rows are addressed by the handle {@link #adopt} returned; a handle stays valid until that row is removed,
 * whatever other rows join or leave. Not thread-safe: one engine thread drives a batch. It is owned by whoever
 * called {@link CausalLanguageModel#newBatch(int)}; {@code close()} is idempotent and closes every row still held.
 */
public interface SequenceBatch extends AutoCloseable {

    /**
     * Moves a sequence of the same model (typically just prefilled on its own, in chunks) into the batch as a new
     * row. The batch takes ownership: the sequence must not be used afterwards, and the batch closes it.
     *
     * @return the new row's handle
     * @throws IllegalArgumentException if the sequence comes from another model, or the batch already holds
     *                                  {@link #capacity()} rows
     */
    int adopt(ModelSequence sequence);

    /** Removes a row and releases what it held; its handle becomes invalid. */
    void remove(int row);

    /**
     * ONE forward call over the batch: appends {@code tokens.get(i)} (at least one token) to row {@code rows[i]}.
     * Every row listed must be distinct; rows of the batch not listed do not advance (an implementation may still
     * compute a masked padding slot for them).
     *
     * @return for each listed row, in order, one logits row per appended token; valid until the next call on this
     *         batch
     * @throws IllegalArgumentException for an unknown row, a repeated row, an empty token list, a token outside
     *                                  {@code [0, vocabSize)}, or a row that would exceed the model's maximum length
     */
    List<Logits> append(int[] rows, List<int[]> tokens);

    /** Forgets every token of the row after its first {@code length} ({@link ModelSequence#rollback}). */
    void rollback(int row, int length);

    /** Tokens the row has consumed. */
    int length(int row);

    /** Rows currently held. */
    int size();

    /** The most rows this batch may hold. */
    int capacity();

    int vocabSize();

    @Override
    void close();
}
