package dev.specula.draft;

import dev.specula.core.draft.BatchProposals;
import dev.specula.core.draft.BatchProposer;
import dev.specula.core.draft.DraftContext;
import dev.specula.core.draft.DraftProposer;
import dev.specula.core.draft.Drafter;
import dev.specula.core.draft.Proposal;
import dev.specula.core.draft.TokenHistory;
import dev.specula.core.model.CausalLanguageModel;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.model.SequenceBatch;
import dev.specula.core.sampling.Distribution;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingTransform;
import dev.specula.core.schedule.DraftPlan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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

    @Override
    public BatchProposer startBatch(int capacity) {
        return new BatchedProposer(model.newBatch(capacity));
    }

    /**
     * One generation's drafting state, whatever holds its draft sequence: the sampling transform and noise, the
     * tokens the sequence has consumed (to catch it up with the history), and the buffers of q.
     */
    private final class Row {
        final SamplingTransform transform;
        final KeyedNoise noise;
        final boolean greedy;
        int[] fed = new int[64];   // the tokens the draft sequence has consumed, in order
        int synced;                // fed[0, synced) is known to equal the history
        Distribution[] q = new Distribution[0];
        float[] confidence = new float[0];
        int[] tokens = new int[0];
        int drafted;               // tokens of the proposal being built
        int calls;                 // model calls of the proposal being built

        Row(DraftContext context) {
            this.transform = new SamplingTransform(context.params(), model.vocabSize());
            this.noise = context.noise();
            this.greedy = context.params().isGreedy();
        }

        /** The draft length allowed for a plan and history: the plan's, capped by the draft's context. */
        int allowed(TokenHistory history, DraftPlan plan) {
            return Math.min(plan.maxDraftTokens(), model.maxSequenceLength() - history.size());
        }

        /** Starts a proposal of up to {@code k} tokens. */
        void begin(int k) {
            if (q.length < k) {
                Distribution[] grown = Arrays.copyOf(q, k);
                for (int i = q.length; i < k; i++) {
                    grown[i] = new Distribution(model.vocabSize());
                }
                q = grown;
                confidence = new float[k];
            }
            tokens = new int[k];
            drafted = 0;
            calls = 1;
        }

        /** How much of what the sequence of {@code length} tokens consumed the history still holds. */
        int kept(TokenHistory history, int length) {
            int keep = synced;
            while (keep < length && keep < history.size() && fed[keep] == history.get(keep)) {
                keep++;
            }
            return Math.min(keep, history.size() - 1); // always feed at least the last token
        }

        /**
         * Drafts the next token from the last row of {@code logits} (the position after the history and the tokens
         * drafted so far), unless the plan's confidence threshold stops the draft first.
         *
         * @return whether a token was drafted
         */
        boolean next(Logits logits, TokenHistory history, DraftPlan plan) {
            int row = logits.rows() - 1;
            int n = drafted;
            Distribution d = transform.apply(logits, row, q[n]);
            // Whether to stop is decided from q alone, BEFORE drawing: a decision that looked at the drawn
            // token would offer the verifier a token not distributed as q, and bias sampled output.
            float conf = greedy ? (float) SamplingTransform.greedyConfidence(logits, row) : d.prob(d.argmax());
            // The first token is always drafted: the plan's k >= 1 already judged that worth it at the measured
            // acceptance; the threshold only decides how far to extend a draft.
            if (n > 0 && conf < plan.minConfidence()) {
                return false;
            }
            tokens[n] = greedy ? d.argmax() : noise.gumbelMax(d, history.size() + n);
            confidence[n] = conf;
            drafted++;
            return true;
        }

        boolean full() {
            return drafted == tokens.length;
        }

        Proposal proposal() {
            return new Proposal(drafted == tokens.length ? tokens : Arrays.copyOf(tokens, drafted), q, confidence,
                    calls, name());
        }

        void record(int at, int[] tokens, int count) {
            if (fed.length < at + count) {
                fed = Arrays.copyOf(fed, Math.max(at + count, fed.length * 2));
            }
            System.arraycopy(tokens, 0, fed, at, count);
        }
    }

    private final class Proposer implements DraftProposer {
        private final ModelSequence sequence;
        private final Row row;
        private int[] chunk = new int[64];

        Proposer(ModelSequence sequence, DraftContext context) {
            this.sequence = sequence;
            this.row = new Row(context);
        }

        @Override
        public Proposal propose(TokenHistory history, DraftPlan plan) {
            int k = row.allowed(history, plan);
            if (k <= 0) {
                return Proposal.empty();
            }
            row.begin(k);
            Logits logits = catchUp(history);
            while (row.next(logits, history, plan) && !row.full()) {
                logits = feed(row.tokens[row.drafted - 1]);
                row.calls++;
            }
            return row.proposal();
        }

        /** Feeds all but the last token of the context (the first proposal feeds that one and drafts on). */
        @Override
        public void prefill(TokenHistory history) {
            int n = history.size() - 1;
            if (sequence.length() > 0 || n <= 0 || history.size() >= model.maxSequenceLength()) {
                return; // already started, nothing to feed, or beyond the draft's context (it will not draft)
            }
            sequence.prefill(gather(history, 0, n), 0, n);
            row.record(0, chunk, n);
            row.synced = n;
        }

        /** Rolls back what the history no longer holds, feeds what it gained; returns the last row's logits. */
        private Logits catchUp(TokenHistory history) {
            int keep = row.kept(history, sequence.length());
            if (keep < sequence.length()) {
                sequence.rollback(keep);
            }
            int missing = history.size() - keep;
            Logits logits = sequence.appendLast(gather(history, keep, missing), 0, missing); // reads one row
            row.record(keep, chunk, missing);
            row.synced = history.size();
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
            row.record(at, chunk, 1);
            return logits;
        }

        @Override
        public void close() {
            sequence.close();
        }
    }

    /**
     * The batched proposer: every generation's draft sequence is a row of one {@link SequenceBatch} of the draft model,
     * and each draft position is ONE forward call for all rows still drafting (the first call also catches every row
     * up with the tokens its history gained). A row's tokens are exactly those its own {@link Proposer} would draft.
     */
    private final class BatchedProposer implements BatchProposer {
        /**
         * Rows missing more tokens than this (e.g. after many steps without drafting) catch up together in one call
         * before the shared one, so they do not widen it.
         */
        private static final int SHARED_CATCH_UP = 8;

        private final SequenceBatch batch;
        private final Map<Integer, Row> rows = new LinkedHashMap<>();
        private final Map<Integer, Integer> batchRows = new HashMap<>();
        private int nextHandle;
        private boolean open = true;

        BatchedProposer(SequenceBatch batch) {
            this.batch = batch;
        }

        @Override
        public int join(DraftContext context) {
            ensureOpen();
            int handle = nextHandle++;
            rows.put(handle, new Row(context));
            return handle;
        }

        /**
         * Before a row's first proposal: prefills all but the last token of its history on a sequence of its own, then
         * adopts it as a batch row. Done when the row first drafts, not when it joins, so a row that never drafts (a
         * large batch where plain decoding wins) never pays for it.
         */
        private void prefill(int handle, TokenHistory history) {
            ensureOpen();
            Row row = row(handle);
            if (batchRows.containsKey(handle)) {
                return;
            }
            ModelSequence sequence = model.newSequence();
            try {
                int n = history.size() - 1;
                if (n > 0 && history.size() < model.maxSequenceLength()) {
                    int[] prompt = history.toArray(0, n);
                    sequence.prefill(prompt, 0, n);
                    row.record(0, prompt, n);
                    row.synced = n;
                }
                batchRows.put(handle, batch.adopt(sequence)); // the batch owns it from here
            } catch (RuntimeException e) {
                if (!batchRows.containsKey(handle)) {
                    sequence.close();
                }
                throw e;
            }
        }

        @Override
        public BatchProposals propose(int[] handles, TokenHistory[] histories, DraftPlan[] plans) {
            ensureOpen();
            int n = handles.length;
            Proposal[] proposals = new Proposal[n];
            RuntimeException[] failures = new RuntimeException[n];
            List<Integer> drafting = new ArrayList<>(n);
            List<int[]> catchUp = new ArrayList<>(n);
            List<Integer> lagging = new ArrayList<>();
            List<int[]> early = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                try {
                    Row row = row(handles[i]);
                    int k = row.allowed(histories[i], plans[i]);
                    if (k <= 0) {
                        proposals[i] = Proposal.empty();
                        continue;
                    }
                    prefill(handles[i], histories[i]);
                    int b = batchRows.get(handles[i]);
                    row.begin(k);
                    int length = batch.length(b);
                    int keep = row.kept(histories[i], length);
                    if (keep < length) {
                        batch.rollback(b, keep);
                    }
                    int missing = histories[i].size() - keep;
                    if (missing > SHARED_CATCH_UP) { // e.g. after many steps without drafting
                        int[] tokens = histories[i].toArray(keep, histories[i].size() - 1);
                        row.record(keep, tokens, tokens.length);
                        keep += tokens.length;
                        lagging.add(i);
                        early.add(tokens);
                    }
                    int[] gained = histories[i].toArray(keep, histories[i].size());
                    row.record(keep, gained, gained.length);
                    row.synced = histories[i].size();
                    drafting.add(i);
                    catchUp.add(gained);
                } catch (RuntimeException e) {
                    failures[i] = e;
                }
            }
            if (!lagging.isEmpty()) {
                // Every lagging row catches up in ONE call of their own (each call runs over all rows of the batch,
                // so a call per lagging row would cost rows x rows x missing positions).
                int[] call = new int[lagging.size()];
                for (int j = 0; j < call.length; j++) {
                    call[j] = batchRows.get(handles[lagging.get(j)]);
                }
                try {
                    batch.append(call, early);
                } catch (RuntimeException e) {
                    for (int i : lagging) {
                        failures[i] = e;
                    }
                    for (int j = drafting.size() - 1; j >= 0; j--) {
                        if (lagging.contains(drafting.get(j))) {
                            drafting.remove(j);
                            catchUp.remove(j);
                        }
                    }
                }
            }
            List<int[]> inputs = catchUp;
            while (!drafting.isEmpty()) {
                int[] call = new int[drafting.size()];
                for (int j = 0; j < call.length; j++) {
                    call[j] = batchRows.get(handles[drafting.get(j)]);
                }
                List<Logits> logits = batch.append(call, inputs);
                List<Integer> next = new ArrayList<>(drafting.size());
                List<int[]> nextInputs = new ArrayList<>(drafting.size());
                for (int j = 0; j < call.length; j++) {
                    int i = drafting.get(j);
                    Row row = row(handles[i]);
                    try {
                        if (row.next(logits.get(j), histories[i], plans[i]) && !row.full()) {
                            int token = row.tokens[row.drafted - 1];
                            row.record(batch.length(call[j]), new int[]{token}, 1);
                            row.calls++;
                            next.add(i);
                            nextInputs.add(new int[]{token});
                        } else {
                            proposals[i] = row.proposal();
                        }
                    } catch (RuntimeException e) {
                        failures[i] = e;
                    }
                }
                drafting = next;
                inputs = nextInputs;
            }
            return new BatchProposals(proposals, failures);
        }

        @Override
        public void leave(int handle) {
            ensureOpen();
            row(handle);
            rows.remove(handle);
            Integer b = batchRows.remove(handle);
            if (b != null) {
                batch.remove(b);
            }
        }

        @Override
        public void close() {
            if (!open) {
                return;
            }
            open = false;
            rows.clear();
            batchRows.clear();
            batch.close();
        }

        private Row row(int handle) {
            Row row = rows.get(handle);
            if (row == null) {
                throw new IllegalArgumentException("no draft row " + handle + "; rows held: " + rows.keySet());
            }
            return row;
        }

        private void ensureOpen() {
            if (!open) {
                throw new IllegalStateException("batched drafter of " + name() + " is closed");
            }
        }
    }
}
