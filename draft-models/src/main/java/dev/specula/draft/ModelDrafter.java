package dev.specula.draft;

import dev.specula.core.draft.DraftContext;
import dev.specula.core.draft.DraftProposer;
import dev.specula.core.draft.Drafter;
import dev.specula.core.draft.Proposal;
import dev.specula.core.draft.TokenHistory;
import dev.specula.core.model.CausalLanguageModel;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.sampling.Distribution;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingTransform;
import dev.specula.core.schedule.DraftPlan;

import java.util.Arrays;
import java.util.OptionalInt;

/**
 * Drafts with a small causal language model: k autoregressive steps, each token drawn from q, the draft's
 * logits through the SAME {@link SamplingTransform} the target uses (so p and q are comparable), and q reported
 * with the proposal. A sampled token at sequence position t is q's Gumbel-max token under the generation's
 * keyed noise, {@code noise.gumbelMax(q, t)}: an exact sample of q, and, since the target chooses its token
 * there with the same noise, equal to the target's token as often as p and q allow. After the first token, drafting stops early when the draft's confidence at the next
 * position falls under the plan's {@code minConfidence}: the largest probability of q when sampling (decided
 * before drawing, so the drafted tokens stay exact samples of q), the top-versus-runner-up probability when greedy
 * ({@link SamplingTransform#greedyConfidence}).
 *
 * <p>Each generation's proposer keeps its own sequence (KV cache) of the draft model, catches it up with the
 * accepted tokens in one call, and rolls back rejected draft tokens. The model is shared and not owned here:
 * whoever loaded it closes it.
 */
public final class ModelDrafter implements Drafter {
    private final CausalLanguageModel model;

    public ModelDrafter(CausalLanguageModel model) {
        this.model = model;
    }

    public CausalLanguageModel model() {
        return model;
    }

    @Override
    public DraftProposer start(DraftContext context) {
        return new Proposer(model.newSequence(), context);
    }

    @Override
    public OptionalInt vocabSize() {
        return OptionalInt.of(model.vocabSize());
    }

    @Override
    public String name() {
        return "model:" + model.name();
    }

    private final class Proposer implements DraftProposer {
        private final ModelSequence sequence;
        private final SamplingTransform transform;
        private final KeyedNoise noise;
        private final boolean greedy;
        private int[] fed = new int[64];   // the tokens the draft sequence has consumed, in order
        private int synced;                // fed[0, synced) is known to equal the history
        private Distribution[] q = new Distribution[0];
        private float[] confidence = new float[0];
        private int[] chunk = new int[64];

        Proposer(ModelSequence sequence, DraftContext context) {
            this.sequence = sequence;
            this.transform = new SamplingTransform(context.params(), model.vocabSize());
            this.noise = context.noise();
            this.greedy = context.params().isGreedy();
        }

        @Override
        public Proposal propose(TokenHistory history, DraftPlan plan) {
            int k = Math.min(plan.maxDraftTokens(), model.maxSequenceLength() - history.size());
            if (k <= 0) {
                return Proposal.empty();
            }
            ensureCapacity(k);
            Logits logits = catchUp(history);
            int[] tokens = new int[k];
            int calls = 1;
            int n = 0;
            while (true) {
                int row = logits.rows() - 1;
                Distribution d = transform.apply(logits, row, q[n]);
                // Whether to stop is decided from q alone, BEFORE drawing: a decision that looked at the drawn
                // token would offer the verifier a token not distributed as q, and bias sampled output.
                float conf = greedy ? (float) SamplingTransform.greedyConfidence(logits, row) : d.prob(d.argmax());
                // The first token is always drafted: the plan's k >= 1 already judged that worth it at the measured
                // acceptance; the threshold only decides how far to extend a draft.
                if (n > 0 && conf < plan.minConfidence()) {
                    break;
                }
                int token = greedy ? d.argmax() : noise.gumbelMax(d, history.size() + n);
                tokens[n] = token;
                confidence[n] = conf;
                n++;
                if (n == k) {
                    break;
                }
                logits = feed(token);
                calls++;
            }
            return new Proposal(n == k ? tokens : Arrays.copyOf(tokens, n), q, confidence, calls, name());
        }

        /** Feeds all but the last token of the context (the first proposal feeds that one and drafts on). */
        @Override
        public void prefill(TokenHistory history) {
            int n = history.size() - 1;
            if (sequence.length() > 0 || n <= 0 || history.size() >= model.maxSequenceLength()) {
                return; // already started, nothing to feed, or beyond the draft's context (it will not draft)
            }
            sequence.prefill(gather(history, 0, n), 0, n);
            record(0, chunk, n);
            synced = n;
        }

        /** Rolls back what the history no longer holds, feeds what it gained; returns the last row's logits. */
        private Logits catchUp(TokenHistory history) {
            int len = sequence.length();
            int keep = synced;
            while (keep < len && keep < history.size() && fed[keep] == history.get(keep)) {
                keep++;
            }
            keep = Math.min(keep, history.size() - 1); // always feed at least the last token
            if (keep < len) {
                sequence.rollback(keep);
            }
            int missing = history.size() - keep;
            Logits logits = sequence.appendLast(gather(history, keep, missing), 0, missing); // reads one row
            record(keep, chunk, missing);
            synced = history.size();
            return logits;
        }

        /** Copies {@code count} tokens of the history from {@code from} into {@link #chunk} and returns it. */
        private int[] gather(TokenHistory history, int from, int count) {
            if (chunk.length < count) {
                chunk = new int[Math.max(count, chunk.length * 2)];
            }
            for (int i = 0; i < count; i++) {
                chunk[i] = history.get(from + i);
            }
            return chunk;
        }

        private Logits feed(int token) {
            int at = sequence.length();
            Logits logits = sequence.append(token);
            chunk[0] = token;
            record(at, chunk, 1);
            return logits;
        }

        private void record(int at, int[] tokens, int count) {
            if (fed.length < at + count) {
                fed = Arrays.copyOf(fed, Math.max(at + count, fed.length * 2));
            }
            System.arraycopy(tokens, 0, fed, at, count);
        }

        private void ensureCapacity(int k) {
            if (q.length < k) {
                Distribution[] grown = Arrays.copyOf(q, k);
                for (int i = q.length; i < k; i++) {
                    grown[i] = new Distribution(model.vocabSize());
                }
                q = grown;
                confidence = new float[k];
            }
        }

        @Override
        public void close() {
            sequence.close();
        }
    }
}
