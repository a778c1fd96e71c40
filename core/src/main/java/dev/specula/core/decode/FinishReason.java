package dev.specula.core.decode;

/** Why a generation ended. */
public enum FinishReason {
    /** The model produced one of its end-of-sequence tokens. */
    END_OF_SEQUENCE,
    /** A caller-given stop token was produced. */
    STOP_TOKEN,
    /** {@code maxNewTokens} were generated. */
    MAX_TOKENS,
    /** The target's context length was reached. */
    CONTEXT_FULL,
    /** The caller cancelled, or the generating thread was interrupted. */
    CANCELLED
}
