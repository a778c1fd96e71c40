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
 * <p>Where the tokenizer cleans up tokenization spaces (transformers' {@code clean_up_tokenization}, e.g. Llama 3's
 * {@code " ." -> "."}), the windows are decoded without it and the clean-up runs over the stream instead, holding
 * back a space that a later piece may still remove; so the pieces equal the clean-up of the whole text.
 *
 * <p>The pieces concatenate to {@code decode(prompt + generated)} minus {@code decode(prompt)} whenever the latter
 * is a prefix of the former; where it is not (a prompt that ends inside a character), they are what follows the
 * text both share. One per generation; not thread-safe.
 */
public final class StreamingDetokenizer {
    /** How many prompt tokens before the first generated one the first window includes (vLLM uses 5). */
    static final int PROMPT_CONTEXT = 5;
    /** The most prompt tokens the first window reaches back to start at a whole character. */
    static final int MAX_PROMPT_CONTEXT = 16;
    /** Tokens kept before the window once it has moved on by more than this many. */
    private static final int COMPACT_AFTER = 256;
    private static final char REPLACEMENT = '\uFFFD';

    private final HfTokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private final SpaceCleanup cleanup;
    private int[] ids;
    private int size;
    private int prefixOffset;
    private int readOffset;
    /** False while readOffset is inside a character (a prompt that ends inside one): no window may start there. */
    private boolean readOffsetAtCharacter;

    StreamingDetokenizer(HfTokenizer tokenizer, int[] prompt, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
        int start = Math.max(0, prompt.length - PROMPT_CONTEXT);
        // A window must not start inside a character: ByteFallback decoders (Llama 2, Gemma) turn a whole run of
        // byte tokens into U+FFFDs when it starts with a continuation byte, so the first window reaches back further.
        while (start > 0 && prompt.length - start < MAX_PROMPT_CONTEXT
                && startsWithReplacement(tokenizer.decodeRaw(prompt, start, prompt.length, skipSpecialTokens))) {
            start--;
        }
        int context = prompt.length - start;
        this.ids = Arrays.copyOf(Arrays.copyOfRange(prompt, start, prompt.length), Math.max(64, context * 2));
        this.size = context;
        this.prefixOffset = 0;
        this.readOffset = context;
        String promptText = tokenizer.decodeRaw(ids, 0, context, skipSpecialTokens);
        this.readOffsetAtCharacter = promptText.isEmpty() || promptText.charAt(promptText.length() - 1) != REPLACEMENT;
        this.cleanup = tokenizer.cleansUpTokenizationSpaces() ? new SpaceCleanup(promptText) : null;
    }

    private static boolean startsWithReplacement(String text) {
        return !text.isEmpty() && text.charAt(0) == REPLACEMENT;
    }

    /** Adds one token; returns the text it completes (possibly empty, never a partial character). */
    public String push(int id) {
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
        }
        ids[size++] = id;
        String prefix = tokenizer.decodeRaw(ids, prefixOffset, readOffset, skipSpecialTokens);
        String text = tokenizer.decodeRaw(ids, prefixOffset, size, skipSpecialTokens);
        if (text.isEmpty() || text.charAt(text.length() - 1) == REPLACEMENT) {
            return "";
        }
        int shared = sharedPrefix(prefix, text);
        if (shared == text.length()) {
            return ""; // nothing new yet (a token that decodes to nothing, or a skipped special token)
        }
        if (readOffsetAtCharacter) {
            prefixOffset = readOffset;
        }
        readOffset = size;
        readOffsetAtCharacter = true;
        compact();
        return clean(text.substring(shared), false);
    }

    /** Whatever is still held back at the end of the stream (an incomplete character decodes as U+FFFD). */
    public String flush() {
        String prefix = tokenizer.decodeRaw(ids, prefixOffset, readOffset, skipSpecialTokens);
        String text = tokenizer.decodeRaw(ids, prefixOffset, size, skipSpecialTokens);
        prefixOffset = readOffset = size;
        return clean(text.substring(sharedPrefix(prefix, text)), true);
    }

    /**
     * How much of the window's new text was already emitted: all of the previous window's text when it is a prefix
     * (the usual case), else the part both share, so that text the new token changed (a character completed
     * after a prompt that ended inside it) is emitted rather than lost.
     */
    private static int sharedPrefix(String prefix, String text) {
        if (text.startsWith(prefix)) {
            return prefix.length();
        }
        int n = 0;
        while (n < prefix.length() && n < text.length() && prefix.charAt(n) == text.charAt(n)) {
            n++;
        }
        if (n > 0 && Character.isHighSurrogate(text.charAt(n - 1))) {
            n--; // never split a surrogate pair
        }
        return n;
    }

    private String clean(String raw, boolean end) {
        return cleanup == null ? raw : cleanup.push(raw, end);
    }

    /** Drops tokens before the window so that a long generation keeps a short buffer. */
    private void compact() {
        if (prefixOffset > COMPACT_AFTER) {
            System.arraycopy(ids, prefixOffset, ids, 0, size - prefixOffset);
            size -= prefixOffset;
            readOffset -= prefixOffset;
            prefixOffset = 0;
        }
    }

    /**
     * transformers' {@code clean_up_tokenization} applied to a stream. Every pattern it replaces starts with a space
     * and is at most four characters long, so text splits into parts cleaned independently wherever the three
     * characters before the split hold no space; text after the last such split is held back.
     */
    static final class SpaceCleanup {
        /** Cleaned prompt text that the first pieces start with and that is not the stream's to emit. */
        private String promptLeft;
        private final StringBuilder pending = new StringBuilder();

        /** {@code promptTail}: the prompt's decoded end, whose spaces may combine with the first pieces. */
        SpaceCleanup(String promptTail) {
            String tail = promptTail.substring(Math.max(0, promptTail.length() - 8));
            pending.append(tail);
            promptLeft = HfTokenizer.cleanUpTokenization(tail);
        }

        String push(String raw, boolean end) {
            pending.append(raw);
            int split = end ? pending.length() : lastSafeSplit(pending);
            String done = HfTokenizer.cleanUpTokenization(pending.substring(0, split));
            pending.delete(0, split);
            if (promptLeft.isEmpty()) {
                return done;
            }
            int n = 0;
            while (n < promptLeft.length() && n < done.length() && promptLeft.charAt(n) == done.charAt(n)) {
                n++;
            }
            // All of the prompt matched, or it differs here (a space of the prompt removed): either way it is over.
            promptLeft = n < promptLeft.length() && n == done.length() ? promptLeft.substring(n) : "";
            return done.substring(n);
        }

        /** The largest split point whose three preceding characters hold no space (0 if none). */
        static int lastSafeSplit(CharSequence s) {
            for (int split = s.length(); split > 0; split--) {
                boolean clear = true;
                for (int i = Math.max(0, split - 3); i < split && clear; i++) {
                    clear = s.charAt(i) != ' ';
                }
                if (clear) {
                    return split;
                }
            }
            return 0;
        }
    }
}
