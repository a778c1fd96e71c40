package dev.specula.core.model;

/**
 * The state of one sequence in a causal language model (its KV cache and positions): the handle both the
 * draft and the target are driven through.
 *
 * <p>Not thread-safe: one generation drives it. It is owned by whoever called
 * {@link CausalLanguageModel#newSequence()} and must be closed by that owner; {@code close()} is idempotent and
 * any other call after it throws {@link IllegalStateException}.
 *
 * <pre>{@code
 * try (ModelSequence seq = model.newSequence()) {
 *     Logits prefill = seq.append(promptIds);        // one forward call, a row per prompt token
 *     Logits verify = seq.append(last, d1, d2, d3);  // one call scores 4 positions
 *     seq.rollback(seq.length() - 2);                // drop the two rejected draft tokens
 * }
 * }</pre>
 */
public interface ModelSequence extends AutoCloseable {

    /**
     * Appends {@code count} tokens in ONE forward call and returns a logits row for every appended position.
     * New tokens attend causally to each other and to everything already in the sequence.
     *
     * @return logits valid until the next call on this sequence
     * @throws IllegalArgumentException if a token is outside {@code [0, vocabSize)}, {@code count < 1}, or the
     *                                  sequence would exceed the model's maximum length
     */
    Logits append(int[] tokens, int offset, int count);

    default Logits append(int... tokens) {
        return append(tokens, 0, tokens.length);
    }

    /**
     * {@link #append(int[], int, int)} for a caller that needs no logits (a prefill of all but the last prompt
     * token): the same forward call, without handing out count x vocabulary scores (for a long prompt and a large
     * vocabulary, hundreds of megabytes an implementation would otherwise copy).
     */
    default void prefill(int[] tokens, int offset, int count) {
        append(tokens, offset, count);
    }

    /**
     * Appends {@code count} tokens and returns the logits of the LAST appended position only (one row): for a
     * caller that reads only the next token's scores after feeding several (a draft model catching up). An
     * implementation may split the tokens over several forward calls and skip the other rows (ONNX models do);
     * this default makes the one {@link #append(int[], int, int)} call and views its last row.
     *
     * @return one row of logits, valid until the next call on this sequence
     */
    default Logits appendLast(int[] tokens, int offset, int count) {
        Logits all = append(tokens, offset, count);
        return all.row(all.rows() - 1);
    }

    /**
     * Forgets every token after the first {@code length}, as if they had never been appended (KV truncation).
     *
     * @throws IllegalArgumentException if {@code length} is negative or greater than {@link #length()}
     */
    void rollback(int length);

    /** Number of tokens the sequence has consumed. */
    int length();

    int vocabSize();

    @Override
    void close();
}
