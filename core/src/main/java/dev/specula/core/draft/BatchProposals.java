package dev.specula.core.draft;

import java.util.Objects;

/**
 * What a {@link BatchProposer} proposed for several rows: for each row a proposal, or the failure that ends that
 * row alone (a per-row drafter that threw, say).
 *
 * @param proposals {@code proposals[i]} for row i, null where it failed
 * @param failures  {@code failures[i]}, null where row i has a proposal
 */
public record BatchProposals(Proposal[] proposals, RuntimeException[] failures) {

    public BatchProposals {
        Objects.requireNonNull(proposals, "proposals");
        Objects.requireNonNull(failures, "failures");
        if (proposals.length != failures.length) {
            throw new IllegalArgumentException(proposals.length + " proposals but " + failures.length
                    + " failure slots");
        }
        for (int i = 0; i < proposals.length; i++) {
            if ((proposals[i] == null) == (failures[i] == null)) {
                throw new IllegalArgumentException("row " + i + " needs exactly one of a proposal and a failure");
            }
        }
    }
}
