package dev.specula.verifier;

import dev.specula.core.SpeculaException;
import dev.specula.core.acceptance.AcceptanceRule;
import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.Proposal;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.model.SequenceBatch;
import dev.specula.core.verify.BatchVerdicts;
import dev.specula.core.verify.BatchVerifier;
import dev.specula.core.verify.VerificationContext;
import dev.specula.core.verify.Verifier;

import java.util.ArrayList;
import java.util.List;

/**
 * The target-side verifier, single and batched: appends the pending token and the k draft tokens to the target in
 * ONE forward call (for a batch, one call for every row, each with its own k + 1 tokens), which returns the k+1 rows
 * of logits that judge every draft position and give the token after them; applies core's acceptance rule for each
 * generation's sampling parameters and kind of proposal (greedy match, coupled Gumbel-max, speculative sampling,
 * one-hot); and rolls the target (each row) back so it holds exactly the accepted tokens.
 *
 * <p>Stateless and thread-safe: share one instance.
 */
public final class ParallelVerifier implements Verifier, BatchVerifier {

    @Override
    public Verdict verify(ModelSequence target, int pendingToken, Proposal proposal, VerificationContext context) {
        int base = target.length();
        Logits logits = target.append(input(pendingToken, proposal), 0, proposal.size() + 1);
        Verdict verdict = decide(logits, base, proposal, context);
        target.rollback(base + 1 + verdict.accepted());
        return verdict;
    }

    @Override
    public BatchVerdicts verify(SequenceBatch target, int[] rows, int[] pending, Proposal[] proposals,
                                VerificationContext[] contexts) {
        int n = rows.length;
        if (pending.length != n || proposals.length != n || contexts.length != n) {
            throw new IllegalArgumentException("batched verification of " + n + " rows got " + pending.length
                    + " pending tokens, " + proposals.length + " proposals and " + contexts.length
                    + " contexts; expected one of each per row");
        }
        int[] base = new int[n];
        List<int[]> inputs = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            base[i] = target.length(rows[i]);
            inputs.add(input(pending[i], proposals[i]));
        }
        List<Logits> logits = target.append(rows, inputs);
        if (logits.size() != n) {
            throw new SpeculaException("the target batch returned logits for " + logits.size() + " rows, expected "
                    + n + " (one per row appended to)");
        }
        Verdict[] verdicts = new Verdict[n];
        RuntimeException[] failures = new RuntimeException[n];
        for (int i = 0; i < n; i++) {
            try {
                verdicts[i] = decide(logits.get(i), base[i], proposals[i], contexts[i]);
                target.rollback(rows[i], base[i] + 1 + verdicts[i].accepted());
            } catch (RuntimeException e) {
                verdicts[i] = null;
                failures[i] = e;
            }
        }
        return new BatchVerdicts(verdicts, failures);
    }

    private static int[] input(int pendingToken, Proposal proposal) {
        int k = proposal.size();
        int[] input = new int[k + 1];
        input[0] = pendingToken;
        System.arraycopy(proposal.tokens(), 0, input, 1, k);
        return input;
    }

    /** The acceptance rule's verdict on one sequence's k + 1 rows of logits; the pending token sat at {@code base}. */
    private static Verdict decide(Logits logits, int base, Proposal proposal, VerificationContext context) {
        int k = proposal.size();
        if (logits.rows() != k + 1) {
            throw new SpeculaException("the target returned " + logits.rows() + " rows of logits for " + (k + 1)
                    + " appended tokens; expected one row per token");
        }
        AcceptanceRule rule = AcceptanceRule.select(context.params(), proposal);
        // Row 0 chooses the token at position base + 1: the pending token sits at base.
        return rule.decide(proposal, context.scores().reset(logits, base + 1L), context.noise());
    }
}
