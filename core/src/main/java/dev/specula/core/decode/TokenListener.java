package dev.specula.core.decode;

/** Receives generated tokens as soon as they are accepted, in order. Called on the generating thread. */
@FunctionalInterface
public interface TokenListener {

    /**
     * @param token     the token id
     * @param fromDraft true when the token was proposed by the drafter and accepted, false when the target
     *                  chose it (a correction, a bonus token, or plain decoding)
     */
    void onToken(int token, boolean fromDraft);

    TokenListener NONE = (token, fromDraft) -> { };
}
