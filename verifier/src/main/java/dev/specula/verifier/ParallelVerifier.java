package dev.specula.verifier;

import dev.specula.core.SpeculaException;
import dev.specula.core.acceptance.AcceptanceRule;
import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.Proposal;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.verify.VerificationContext;
import dev.specula.core.verify.Verifier;

/**
 * The target-side verifier: appends the pending token and the k draft tokens to the target in ONE forward
 * call, which returns the k+1 rows of logits that judge every draft position and give the token after them;
 * applies core's acceptance rule for the sampling parameters and kind of proposal (greedy match, speculative
 * sampling, one-hot); and rolls the target back so it holds exactly the accepted tokens.
 *
 * <p>Stateless and thread-safe: share one instance.
 */
public final class ParallelVerifier implements Verifier {

    @Override
    public Verdict verify(ModelSequence target, int pendingToken, Proposal proposal, VerificationContext context) {
        int k = proposal.size();
        int[] input = new int[k + 1];
        input[0] = pendingToken;
        System.arraycopy(proposal.tokens(), 0, input, 1, k);
        int base = target.length();
        Logits logits = target.append(input, 0, k + 1);
        if (logits.rows() != k + 1) {
            throw new SpeculaException("the target returned " + logits.rows() + " rows of logits for " + (k + 1)
                    + " appended tokens; expected one row per token");
        }
        AcceptanceRule rule = AcceptanceRule.select(context.params(), proposal);
        // Row 0 chooses the token at position base + 1: the pending token sits at base.
        Verdict verdict = rule.decide(proposal, context.scores().reset(logits, base + 1L), context.noise());
        target.rollback(base + 1 + verdict.accepted());
        return verdict;
    }
}
