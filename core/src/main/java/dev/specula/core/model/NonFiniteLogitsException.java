package dev.specula.core.model;

import dev.specula.core.SpeculaException;

/** A model returned NaN or +Infinity logits, so no distribution can be formed from them. */
public final class NonFiniteLogitsException extends SpeculaException {
    private static final long serialVersionUID = 1L;

    public NonFiniteLogitsException(int row, int token, float value) {
        super("model returned a non-finite logit " + value + " (row " + row + ", token " + token
                + "); expected finite values or -Infinity for excluded tokens");
    }
}
