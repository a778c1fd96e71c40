package dev.specula.core.draft;

/**
 * Read-only view of a generation's tokens: the prompt followed by every token emitted so far. Drafters read it
 * without copying; it grows as the generation goes on.
 */
public interface TokenHistory {

    /** Number of tokens (prompt and generated). */
    int size();

    /** Token at {@code index} in {@code [0, size())}. */
    int get(int index);

    /** Number of prompt tokens at the start of the history. */
    int promptLength();

    /** Copies {@code [from, to)} into a new array. */
    default int[] toArray(int from, int to) {
        int[] out = new int[to - from];
        for (int i = from; i < to; i++) {
            out[i - from] = get(i);
        }
        return out;
    }
}
