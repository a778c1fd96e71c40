package dev.specula.core.verify;

import dev.specula.core.draft.Proposal;
import dev.specula.core.model.SequenceBatch;

/**
 * The target side of a batched step: scores every listed row's pending token and draft tokens in ONE forward call
 * of the target batch (each row its own k + 1 positions), applies each row's acceptance rule, and rolls each row
 * back so that it holds exactly its accepted tokens. The batched form of {@link Verifier}; implementations are
 * stateless and thread-safe (all per-generation state is in the arguments).
 */
public interface BatchVerifier {

    /**
     * @param target    the target batch; row {@code rows[i]} has consumed every token of its history but the last
     * @param rows      the rows to verify, distinct
     * @param pending   {@code pending[i]}: the last token of row i's history, not yet consumed
     * @param proposals {@code proposals[i]}: row i's draft tokens (possibly none)
     * @param contexts  {@code contexts[i]}: row i's verification state
     * @return per row, its verdict or the failure that ended it (a row whose logits hold NaN, say); a failure of the
     *         forward call itself is thrown, since it cannot be pinned on one row
     */
    BatchVerdicts verify(SequenceBatch target, int[] rows, int[] pending, Proposal[] proposals,
                         VerificationContext[] contexts);
}
