package dev.specula.onnx;

import java.util.Arrays;

/**
 * Turns a stream of token ids into text as it grows, never emitting half a UTF-8 character: byte-level BPE
 * tokens can split a multi-byte character, which decodes to U+FFFD until its last byte arrives. Each push decodes
 * only a short window (the incremental scheme of vLLM and Hugging Face's TextStreamer): the text of the tokens
 * since the last emitted boundary, minus what of it was already emitted.
 *
 * <p>One per generation; not thread-safe.
 */
public final class StreamingDetokenizer {
    private static final char REPLACEMENT = '\uFFFD';

    private final HfTokenizer tokenizer;
    private int[] ids = new int[64];
    private int size;
    private int prefixOffset;
    private int readOffset;

    StreamingDetokenizer(HfTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Adds one token; returns the text it completes (possibly empty, never a partial character). */
    public String push(int id) {
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
        }
        ids[size++] = id;
        String prefix = tokenizer.decode(ids, prefixOffset, readOffset);
        String text = tokenizer.decode(ids, prefixOffset, size);
        if (text.length() > prefix.length() && text.charAt(text.length() - 1) != REPLACEMENT
                && text.startsWith(prefix)) {
            prefixOffset = readOffset;
            readOffset = size;
            return text.substring(prefix.length());
        }
        return "";
    }

    /** Whatever is still held back at the end of the stream (an incomplete character decodes as U+FFFD). */
    public String flush() {
        String prefix = tokenizer.decode(ids, prefixOffset, readOffset);
        String text = tokenizer.decode(ids, prefixOffset, size);
        prefixOffset = readOffset = size;
        return text.length() > prefix.length() && text.startsWith(prefix) ? text.substring(prefix.length()) : "";
    }
}
