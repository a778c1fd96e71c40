package dev.specula.core.verify;

import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.Proposal;
import dev.specula.core.model.ModelSequence;

/**
 * The target side of a step: scores the pending token and the k draft tokens in ONE forward call of the
 * target, applies the acceptance rule, and rolls the target back so that it holds exactly the accepted tokens.
 * Implementations are stateless and thread-safe (all per-generation state is in the arguments).
 */
public interface Verifier {

    /**
     * @param target       the target sequence; it has consumed every token of the history except the last
     * @param pendingToken the last token of the history, not yet consumed by the target
     * @param proposal     the draft tokens to verify (possibly none)
     * @return the verdict; afterwards the target has consumed {@code pendingToken} and the accepted draft
     *         tokens, and {@code verdict.nextToken()} is the new pending token
     */
    Verdict verify(ModelSequence target, int pendingToken, Proposal proposal, VerificationContext context);
}
