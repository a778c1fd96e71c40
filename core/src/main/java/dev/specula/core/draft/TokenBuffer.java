package dev.specula.core.draft;

import java.util.Arrays;
import java.util.Objects;

/** A growable {@link TokenHistory}, appended to by the decoding loop. Not thread-safe. */
public final class TokenBuffer implements TokenHistory {
    private int[] tokens;
    private int size;
    private final int promptLength;

    public TokenBuffer(int[] prompt) {
        this.tokens = Arrays.copyOf(prompt, Math.max(16, prompt.length * 2));
        this.size = prompt.length;
        this.promptLength = prompt.length;
    }

    public void append(int token) {
        if (size == tokens.length) {
            tokens = Arrays.copyOf(tokens, tokens.length * 2);
        }
        tokens[size++] = token;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public int get(int index) {
        Objects.checkIndex(index, size);
        return tokens[index];
    }

    @Override
    public int promptLength() {
        return promptLength;
    }

    @Override
    public int[] toArray(int from, int to) {
        Objects.checkFromToIndex(from, to, size);
        return Arrays.copyOfRange(tokens, from, to);
    }
}
