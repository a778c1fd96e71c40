package dev.specula.onnx;

import java.util.Arrays;

/**
 * Turns the tokens generated after a prompt into text as they arrive, as vLLM and text-generation-inference do:
 * each push decodes a short window that starts a few tokens back (in the prompt at first) and emits what the new
 * token adds to the window's text. Starting in the prompt gives decoders their context: a SentencePiece
 * ({@code ▁}) decoder strips the leading space of the first piece it sees, so without the prompt a continuation
 * {@code ▁"""} would lose its space. Text that ends in U+FFFD (a character split across byte tokens) is held
 * back until the character completes.
 *
 * <p>The pieces concatenate to {@code decode(prompt + generated)} minus {@code decode(prompt)} whenever the latter
 * is a prefix of the former. One per generation; not thread-safe.
 */
public final class StreamingDetokenizer {
    /** How many prompt tokens before the first generated one the first window includes (vLLM uses 5). */
    static final int PROMPT_CONTEXT = 5;
    private static final char REPLACEMENT = '\uFFFD';

    private final HfTokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private int[] ids;
    private int size;
    private int prefixOffset;
    private int readOffset;

    StreamingDetokenizer(HfTokenizer tokenizer, int[] prompt, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
        int context = Math.min(PROMPT_CONTEXT, prompt.length);
        this.ids = Arrays.copyOf(Arrays.copyOfRange(prompt, prompt.length - context, prompt.length),
                Math.max(64, context * 2));
        this.size = context;
        this.prefixOffset = 0;
        this.readOffset = context;
    }

    /** Adds one token; returns the text it completes (possibly empty, never a partial character). */
    public String push(int id) {
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
        }
        ids[size++] = id;
        String prefix = tokenizer.decode(ids, prefixOffset, readOffset, skipSpecialTokens);
        String text = tokenizer.decode(ids, prefixOffset, size, skipSpecialTokens);
        if (text.length() > prefix.length() && text.charAt(text.length() - 1) != REPLACEMENT
                && text.startsWith(prefix)) {
            prefixOffset = readOffset;
            readOffset = size;
            compact();
            return text.substring(prefix.length());
        }
        return "";
    }

    /** Whatever is still held back at the end of the stream (an incomplete character decodes as U+FFFD). */
    public String flush() {
        String prefix = tokenizer.decode(ids, prefixOffset, readOffset, skipSpecialTokens);
        String text = tokenizer.decode(ids, prefixOffset, size, skipSpecialTokens);
        prefixOffset = readOffset = size;
        return text.length() > prefix.length() && text.startsWith(prefix) ? text.substring(prefix.length()) : "";
    }

    /** Drops tokens before the window so that a long generation keeps a short buffer. */
    private void compact() {
        if (prefixOffset > 256) {
            System.arraycopy(ids, prefixOffset, ids, 0, size - prefixOffset);
            size -= prefixOffset;
            readOffset -= prefixOffset;
            prefixOffset = 0;
        }
    }
}
