package dev.specula.core.verify;

import dev.specula.core.acceptance.Verdict;

import java.util.Objects;

/**
 * The outcome of a batched verification: for each row either its verdict or the failure that ended that row alone.
 *
 * @param verdicts {@code verdicts[i]} for row i, null where it failed
 * @param failures {@code failures[i]}, null where row i has a verdict
 */
public record BatchVerdicts(Verdict[] verdicts, RuntimeException[] failures) {

    public BatchVerdicts {
        Objects.requireNonNull(verdicts, "verdicts");
        Objects.requireNonNull(failures, "failures");
        if (verdicts.length != failures.length) {
            throw new IllegalArgumentException(verdicts.length + " verdicts but " + failures.length + " failure slots");
        }
        for (int i = 0; i < verdicts.length; i++) {
            if ((verdicts[i] == null) == (failures[i] == null)) {
                throw new IllegalArgumentException("row " + i + " needs exactly one of a verdict and a failure");
            }
        }
    }
}
