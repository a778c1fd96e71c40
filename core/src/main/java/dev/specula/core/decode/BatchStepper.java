package dev.specula.core.decode;

import dev.specula.core.StepOutcome;
import dev.specula.core.acceptance.TargetScores;
import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.BatchProposals;
import dev.specula.core.draft.BatchProposer;
import dev.specula.core.draft.DraftContext;
import dev.specula.core.draft.Proposal;
import dev.specula.core.draft.TokenHistory;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.model.SequenceBatch;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.sampling.SamplingTransform;
import dev.specula.core.schedule.BatchScheduler;
import dev.specula.core.schedule.BatchStepCosts;
import dev.specula.core.schedule.DraftPlan;
import dev.specula.core.verify.BatchVerdicts;
import dev.specula.core.verify.VerificationContext;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;

/**
 * The batched decoding loop, stepped by its caller: each {@link #step()} prefills up to one chunk of prompt tokens
 * of the oldest waiting prompts (so running generations wait at most one chunk; a burst of short prompts joins at
 * once), then advances every running generation by one speculative step: the scheduler plans each row's draft
 * length; the drafter proposes for every drafting row (one draft-model
 * call per draft position for all of them); ONE target call verifies every row's k_i + 1 positions; each row keeps
 * its accepted prefix and the target's next token, rolls back, streams, and leaves when it ends. A generation that
 * fails (its listener or cancellation flag throws, its drafter misbehaves, its logits are not finite) ends alone,
 * with its error; only a failing batched call fails every row in it.
 *
 * <p>Not thread-safe: one thread adds and steps (listeners and cancellation flags are called on it). Owned by whoever
 * called {@link BatchDecoder#stepper()}; {@link #close()} (idempotent) cancels what is still running, completing each
 * with what it has, and closes the batches.
 */
public final class BatchStepper implements AutoCloseable {
    private final BatchDecoder config;
    private final SequenceBatch targetBatch;
    private final BatchProposer proposer;
    private final BatchScheduler scheduler;
    private final ArrayDeque<Row> waiting = new ArrayDeque<>();
    private final List<Row> running = new ArrayList<>();
    private int nextRowId;
    private int peakRunning;
    private boolean open = true;

    BatchStepper(BatchDecoder config) {
        this.config = config;
        this.scheduler = config.scheduling.start(config.maxBatchSize);
        SequenceBatch batch = config.target.newBatch(config.maxBatchSize);
        try {
            this.proposer = config.drafter == null ? null : config.drafter.startBatch(config.maxBatchSize);
        } catch (RuntimeException e) {
            batch.close();
            throw e;
        }
        this.targetBatch = batch;
    }

    /**
     * Queues a generation; it joins the batch when there is room, after its prompt's prefill.
     *
     * @param cancelled polled once per step on the stepping thread; true ends the generation with what it has
     * @return completed with the result when the generation ends (also when cancelled), or exceptionally with what
     *         made it fail
     * @throws IllegalArgumentException as {@link SpeculativeDecoder#generate}
     */
    public CompletableFuture<GenerationResult> add(int[] prompt, SamplingParams params, TokenListener listener,
                                                   BooleanSupplier cancelled) {
        return add(prompt, params, listener, cancelled, true);
    }

    /**
     * {@link #add(int[], SamplingParams, TokenListener, BooleanSupplier)}, choosing whether this generation drafts:
     * with {@code speculative} false it decodes plainly (k = 0 at every step) inside the batch.
     */
    public CompletableFuture<GenerationResult> add(int[] prompt, SamplingParams params, TokenListener listener,
                                                   BooleanSupplier cancelled, boolean speculative) {
        ensureOpen();
        config.validate(prompt, params);
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(cancelled, "cancelled");
        Row row = new Row(nextRowId++, prompt.clone(), params, listener, cancelled, speculative && proposer != null);
        waiting.add(row);
        return row.result;
    }

    /** Generations running (in the batch) now. */
    public int running() {
        return running.size();
    }

    /** The most generations that have run in the batch at once. */
    public int peakRunning() {
        return peakRunning;
    }

    /** Generations queued or prefilling, not yet in the batch. */
    public int waiting() {
        return waiting.size();
    }

    /** True while any generation is queued or running. */
    public boolean hasWork() {
        return !waiting.isEmpty() || !running.isEmpty();
    }

    /**
     * One engine iteration: at most one prefill chunk of newcomers' prompt tokens, then one step of every running
     * generation.
     *
     * @return false when there was nothing to do
     */
    public boolean step() {
        ensureOpen();
        if (!hasWork()) {
            return false;
        }
        prefillChunk();
        if (!running.isEmpty()) {
            decodeStep();
        }
        return true;
    }

    /**
     * Prefills waiting prompts, oldest first, up to {@code prefillChunk} prompt tokens in all, and moves each into the
     * batch when its prompt is done: a long prompt takes several steps, a burst of short ones joins at once (so a
     * burst of requests steps as a full batch from its first step instead of one more row per step).
     */
    private void prefillChunk() {
        int budget = config.prefillChunk;
        while (budget > 0 && running.size() < config.maxBatchSize) {
            Row row = waiting.peek();
            if (row == null) {
                return;
            }
            long t0 = config.clock.getAsLong();
            try {
                if (row.isCancelled()) {
                    waiting.poll();
                    row.g.reason = FinishReason.CANCELLED;
                    finish(row, true);
                    continue;
                }
                if (row.sequence == null) {
                    row.start();
                }
                int[] prompt = row.g.prompt;
                int total = prompt.length - 1;
                int n = Math.min(budget, total - row.prefilled);
                if (n > 0) {
                    row.sequence.prefill(prompt, row.prefilled, n);
                    row.prefilled += n;
                    row.prefillCalls++;
                    budget -= n;
                }
                if (row.prefilled < total) {
                    return; // the budget ran out inside this prompt: it goes on next step
                }
                waiting.poll();
                if (row.drafts) {
                    // a draft model's prefill waits for the row's first proposal (at a batch size where plain
                    // decoding wins, no row ever drafts)
                    row.draftRow = proposer.join(new DraftContext(row.g.params, row.noise, config.target.vocabSize(),
                            row.g.history));
                }
                row.targetRow = targetBatch.adopt(row.sequence); // the batch owns it from here
                row.sequence = null;
                scheduler.join(row.id);
                row.scheduled = true;
                running.add(row);
                peakRunning = Math.max(peakRunning, running.size());
            } catch (RuntimeException e) {
                waiting.remove(row);
                fail(row, e);
            } finally {
                row.g.prefillNanos += config.clock.getAsLong() - t0;
            }
        }
    }

    private void decodeStep() {
        // Cancellation first: a cancelled row does not step.
        for (Row r : List.copyOf(running)) {
            try {
                if (r.isCancelled()) {
                    r.g.reason = FinishReason.CANCELLED;
                    finish(r, true);
                }
            } catch (RuntimeException e) {
                fail(r, e);
            }
        }
        if (running.isEmpty()) {
            return;
        }
        Row[] rows = running.toArray(new Row[0]);
        int n = rows.length;
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = rows[i].id;
        }
        long planned = config.clock.getAsLong();
        DraftPlan[] plans = scheduler.plan(ids);
        Proposal[] proposals = new Proposal[n];
        boolean[] failed = new boolean[n];
        int drafting = 0;
        for (int i = 0; i < n; i++) {
            plans[i] = rows[i].drafts ? plans[i].capped(rows[i].g.draftRoom()) : DraftPlan.of(0);
            proposals[i] = Proposal.empty();
            if (plans[i].maxDraftTokens() > 0) {
                drafting++;
            }
        }
        long t0 = config.clock.getAsLong();
        int draftCalls = 0;
        if (drafting > 0) {
            draftCalls = draft(rows, plans, proposals, failed, drafting);
        }
        long t1 = config.clock.getAsLong();

        int verifying = 0;
        for (boolean f : failed) {
            verifying += f ? 0 : 1;
        }
        if (verifying == 0) {
            return;
        }
        int[] targetRows = new int[verifying];
        int[] pending = new int[verifying];
        Proposal[] verified = new Proposal[verifying];
        VerificationContext[] contexts = new VerificationContext[verifying];
        Row[] stepping = new Row[verifying];
        DraftPlan[] steppingPlans = new DraftPlan[verifying];
        int widest = 1;
        int positions = 0;
        for (int i = 0, j = 0; i < n; i++) {
            if (failed[i]) {
                continue;
            }
            stepping[j] = rows[i];
            steppingPlans[j] = plans[i];
            targetRows[j] = rows[i].targetRow;
            pending[j] = rows[i].pending;
            verified[j] = proposals[i];
            contexts[j] = rows[i].verification;
            widest = Math.max(widest, proposals[i].size() + 1);
            positions += proposals[i].size() + 1;
            j++;
        }
        BatchVerdicts verdicts;
        try {
            verdicts = config.verifier.verify(targetBatch, targetRows, pending, verified, contexts);
        } catch (RuntimeException e) {
            for (Row r : stepping) {
                fail(r, e); // the one call failed: no row of it can be trusted to go on
            }
            return;
        }
        long t2 = config.clock.getAsLong();

        List<Integer> fedBack = new ArrayList<>(verifying);
        List<StepOutcome> outcomes = new ArrayList<>(verifying);
        for (int j = 0; j < verifying; j++) {
            Row r = stepping[j];
            Verdict verdict = verdicts.verdicts()[j];
            if (verdict == null) {
                fail(r, verdicts.failures()[j]);
                continue;
            }
            try {
                r.g.record(steppingPlans[j].maxDraftTokens(), verified[j], t1 - t0, t2 - t1);
                r.pending = verdict.nextToken();
                r.g.emit(verified[j], verdict);
                StepOutcome outcome = new StepOutcome(steppingPlans[j], verified[j], verdict, t1 - t0, t2 - t1);
                if (r.drafts) {
                    proposer.feedback(r.draftRow, outcome);
                }
                fedBack.add(r.id);
                outcomes.add(outcome);
            } catch (RuntimeException e) {
                fail(r, e);
            }
        }
        if (!fedBack.isEmpty()) {
            scheduler.feedback(fedBack.stream().mapToInt(Integer::intValue).toArray(),
                    outcomes.toArray(new StepOutcome[0]),
                    new BatchStepCosts(drafting, draftCalls, t1 - t0, verifying, widest, positions, t2 - t1,
                            Math.max(config.clock.getAsLong() - planned, t2 - t0)));
        }
        for (Row r : stepping) {
            if (r.g.reason != null && running.contains(r)) {
                finish(r, true);
            }
        }
    }

    /** Proposes for every drafting row in one batched call; returns the draft-model calls of the longest proposal. */
    private int draft(Row[] rows, DraftPlan[] plans, Proposal[] proposals, boolean[] failed, int drafting) {
        int[] draftRows = new int[drafting];
        TokenHistory[] histories = new TokenHistory[drafting];
        DraftPlan[] draftPlans = new DraftPlan[drafting];
        int[] index = new int[drafting];
        for (int i = 0, j = 0; i < rows.length; i++) {
            if (plans[i].maxDraftTokens() > 0) {
                draftRows[j] = rows[i].draftRow;
                histories[j] = rows[i].g.history;
                draftPlans[j] = plans[i];
                index[j++] = i;
            }
        }
        BatchProposals drafts;
        try {
            drafts = proposer.propose(draftRows, histories, draftPlans);
        } catch (RuntimeException e) {
            for (int i : index) {
                fail(rows[i], e);
                failed[i] = true;
            }
            return 0;
        }
        int calls = 0;
        for (int j = 0; j < drafting; j++) {
            int i = index[j];
            Proposal p = drafts.proposals()[j];
            try {
                if (p == null) {
                    throw drafts.failures()[j];
                }
                rows[i].g.check(p, plans[i].maxDraftTokens(), config.drafter.name());
                proposals[i] = p;
                calls = Math.max(calls, p.modelCalls());
            } catch (RuntimeException e) {
                fail(rows[i], e);
                failed[i] = true;
            }
        }
        return calls;
    }

    /** Ends a row normally: it leaves the batch and its result completes. */
    private void finish(Row row, boolean completed) {
        GenerationResult result = null;
        RuntimeException failure = null;
        try {
            if (completed && row.draftRow >= 0) {
                proposer.finish(row.draftRow, row.g.history);
            }
            result = row.g.result(config.clock.getAsLong() - row.startNanos, row.prefillCalls);
        } catch (RuntimeException e) {
            failure = e;
        }
        RuntimeException released = release(row, failure == null);
        if (failure == null) {
            failure = released;
        }
        if (failure != null) {
            row.result.completeExceptionally(failure);
        } else {
            row.result.complete(result);
        }
    }

    /** Ends a row with an error: it leaves the batch, and its result completes exceptionally. */
    private void fail(Row row, RuntimeException e) {
        RuntimeException released = release(row, false);
        if (released != null && released != e) {
            e.addSuppressed(released);
        }
        row.result.completeExceptionally(e);
    }

    /** Removes a row from the batches and the scheduler; returns the first failure doing so, if any. */
    private RuntimeException release(Row row, boolean completed) {
        running.remove(row);
        RuntimeException first = null;
        if (row.sequence != null) {
            try {
                row.sequence.close();
            } catch (RuntimeException e) {
                first = e;
            }
            row.sequence = null;
        }
        if (row.targetRow >= 0) {
            try {
                targetBatch.remove(row.targetRow);
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
            row.targetRow = -1;
        }
        if (row.draftRow >= 0) {
            try {
                proposer.leave(row.draftRow);
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
            row.draftRow = -1;
        }
        if (row.scheduled) {
            try {
                scheduler.leave(row.id, completed);
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
            row.scheduled = false;
        }
        return first;
    }

    /**
     * Cancels every generation still queued or running (each completes with what it has, {@link FinishReason#CANCELLED})
     * and closes the batches; a second call does nothing.
     */
    @Override
    public void close() {
        if (!open) {
            return;
        }
        open = false;
        List<Row> left = new ArrayList<>(running);
        left.addAll(waiting);
        waiting.clear();
        for (Row r : left) {
            r.g.reason = FinishReason.CANCELLED;
            finish(r, false);
        }
        try (SequenceBatch b = targetBatch) {
            if (proposer != null) {
                proposer.close();
            }
        }
    }

    /**
     * Fails every generation still queued or running with {@code cause} (a fault of the loop itself, after which none
     * can be trusted to go on) and closes the batches.
     */
    public void abort(Throwable cause) {
        if (!open) {
            return;
        }
        RuntimeException e = cause instanceof RuntimeException re ? re
                : new IllegalStateException("the batched decoding loop failed", cause);
        List<Row> left = new ArrayList<>(running);
        left.addAll(waiting);
        waiting.clear();
        for (Row r : left) {
            fail(r, e);
        }
        close();
    }

    private void ensureOpen() {
        if (!open) {
            throw new IllegalStateException("batch stepper is closed");
        }
    }

    /** One generation's state in the batch. */
    private final class Row {
        final int id;
        final Generation g;
        final BooleanSupplier cancelled;
        final KeyedNoise noise;
        final VerificationContext verification;
        final CompletableFuture<GenerationResult> result = new CompletableFuture<>();
        final long startNanos;
        final boolean drafts;
        ModelSequence sequence;   // the target sequence while prefilling, before the batch adopts it
        int prefilled;
        int prefillCalls;
        int targetRow = -1;
        int draftRow = -1;
        boolean scheduled;
        int pending;

        Row(int id, int[] prompt, SamplingParams params, TokenListener listener, BooleanSupplier cancelled,
            boolean drafts) {
            this.id = id;
            this.drafts = drafts;
            this.startNanos = config.clock.getAsLong();
            long seed = params.seed().isPresent() ? params.seed().getAsLong() : config.seedSource.getAsLong();
            this.g = new Generation(prompt, params, listener, config.endOfSequence, config.target, seed);
            this.cancelled = cancelled;
            this.noise = new KeyedNoise(seed);
            this.verification = new VerificationContext(params,
                    new TargetScores(new SamplingTransform(params, config.target.vocabSize())), noise);
            this.pending = prompt[prompt.length - 1];
        }

        void start() {
            sequence = config.target.newSequence();
        }

        boolean isCancelled() {
            return cancelled.getAsBoolean();
        }
    }
}
