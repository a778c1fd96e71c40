package dev.specula.core;

/**
 * The one unchecked exception Specula throws for failures that are not caller bugs: a model that cannot be
 * loaded or run, a model that produces non-finite logits, an inconsistent model pair. Caller bugs (a bad
 * argument, use after close) are {@link IllegalArgumentException} and {@link IllegalStateException}.
 */
public class SpeculaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SpeculaException(String message) {
        super(message);
    }

    public SpeculaException(String message, Throwable cause) {
        super(message, cause);
    }
}
