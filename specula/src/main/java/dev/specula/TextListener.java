package dev.specula;

/**
 * Receives generated text as it is accepted, never splitting a character. Called on the generating thread, so it
 * should return quickly; an exception it throws ends the generation and propagates out of {@code generate}.
 * Concatenated, the pieces are exactly {@link Completion#text()}.
 *
 * <pre>{@code
 * TextListener print = (text, fromDraft) -> System.out.print(text);
 * }</pre>
 */
@FunctionalInterface
public interface TextListener {

    /**
     * @param text      the new text (one or more tokens' worth)
     * @param fromDraft whether the token that completed it was proposed by the drafter and accepted
     */
    void onText(String text, boolean fromDraft);

    /** Ignores the text. */
    TextListener NONE = (text, fromDraft) -> { };
}
