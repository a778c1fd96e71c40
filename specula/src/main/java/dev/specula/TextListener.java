package dev.specula;

/** Receives generated text as it is accepted, never splitting a character. Called on the generating thread. */
@FunctionalInterface
public interface TextListener {

    /**
     * @param text      the new text (one or more tokens' worth)
     * @param fromDraft whether the token that completed it was proposed by the drafter and accepted
     */
    void onText(String text, boolean fromDraft);

    TextListener NONE = (text, fromDraft) -> { };
}
