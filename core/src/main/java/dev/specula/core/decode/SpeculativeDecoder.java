package dev.specula.core.decode;

import dev.specula.core.StepOutcome;
import dev.specula.core.acceptance.TargetScores;
import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.DraftContext;
import dev.specula.core.draft.DraftProposer;
import dev.specula.core.draft.Drafter;
import dev.specula.core.draft.Proposal;
import dev.specula.core.draft.TokenBuffer;
import dev.specula.core.model.CausalLanguageModel;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.sampling.SamplingTransform;
import dev.specula.core.schedule.DraftPlan;
import dev.specula.core.schedule.DraftScheduler;
import dev.specula.core.schedule.Scheduling;
import dev.specula.core.verify.VerificationContext;
import dev.specula.core.verify.Verifier;

import java.util.Arrays;
import java.util.Objects;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * The speculative decoding loop. Prefills the target with the prompt, then repeats: ask the scheduler for k;
 * let the drafter propose up to k tokens; verify them with ONE target call over k+1 positions; keep the
 * accepted prefix and the target's next token; roll back to the accepted length; stream the tokens. It ends
 * at an end-of-sequence or stop token (also inside an accepted draft), after {@code maxNewTokens} (drafts are
 * capped so none runs past it), when the context is full, or on cancellation. With no drafter, or k = 0, it
 * is plain decoding: one target call per token, the baseline of every comparison.
 *
 * <p>Randomness: each generation keys its noise by its seed ({@link KeyedNoise}); with no seed in the
 * parameters it draws a fresh one from the seed source, and reports the seed used in its metrics. In the
 * default {@link dev.specula.core.sampling.SamplingMode#COUPLED} mode a seed fixes the output, identical with and
 * without a drafter, for every draft length and scheduler.
 *
 * <p>Thread-safe: one decoder serves concurrent generations over shared models; each generation owns its
 * sequences, proposer, scheduler and noise, and closes them before returning (also on failure).
 *
 * <pre>{@code
 * SpeculativeDecoder decoder = SpeculativeDecoder.builder()
 *         .target(target).drafter(drafter).verifier(new ParallelVerifier())
 *         .scheduling(Scheduling.adaptive()).endOfSequence(Set.of(eosId))
 *         .build();
 * GenerationResult r = decoder.generate(promptIds, SamplingParams.greedy(128));
 * }</pre>
 */
public final class SpeculativeDecoder {
    private final CausalLanguageModel target;
    private final Drafter drafter;
    private final Verifier verifier;
    private final Scheduling scheduling;
    private final Set<Integer> endOfSequence;
    private final LongSupplier clock;
    private final LongSupplier seedSource;

    private SpeculativeDecoder(Builder b) {
        this.target = Objects.requireNonNull(b.target, "target model is required");
        this.verifier = Objects.requireNonNull(b.verifier, "verifier is required");
        this.drafter = b.drafter;
        this.scheduling = b.scheduling != null ? b.scheduling
                : (b.drafter == null ? Scheduling.fixed(0) : Scheduling.adaptive());
        this.endOfSequence = Set.copyOf(b.endOfSequence);
        this.clock = b.clock;
        this.seedSource = b.seedSource;
        if (drafter != null && drafter.vocabSize().isPresent() && drafter.vocabSize().getAsInt() != target.vocabSize()) {
            throw new IllegalArgumentException("draft vocabulary size " + drafter.vocabSize().getAsInt()
                    + " differs from the target's " + target.vocabSize() + " (" + target.name()
                    + "); draft and target must share one tokenizer and vocabulary");
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public CausalLanguageModel target() {
        return target;
    }

    public Scheduling scheduling() {
        return scheduling;
    }

    /** The drafter, or null for plain decoding. */
    public Drafter drafter() {
        return drafter;
    }

    public GenerationResult generate(int[] prompt, SamplingParams params) {
        return generate(prompt, params, TokenListener.NONE, () -> false);
    }

    public GenerationResult generate(int[] prompt, SamplingParams params, TokenListener listener) {
        return generate(prompt, params, listener, () -> false);
    }

    /**
     * Generates a continuation of {@code prompt}.
     *
     * @param listener  receives each token as soon as it is accepted
     * @param cancelled polled once per step; when it returns true (or the thread is interrupted) the
     *                  generation ends with {@link FinishReason#CANCELLED} and what it produced so far
     * @throws IllegalArgumentException if the prompt is empty, holds ids outside the vocabulary, or leaves no
     *                                  room in the target's context
     */
    public GenerationResult generate(int[] prompt, SamplingParams params, TokenListener listener,
                                     BooleanSupplier cancelled) {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(params, "params");
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(cancelled, "cancelled");
        int vocab = target.vocabSize();
        int maxLength = target.maxSequenceLength();
        if (prompt.length == 0) {
            throw new IllegalArgumentException("prompt must hold at least one token, got none");
        }
        for (int i = 0; i < prompt.length; i++) {
            if (prompt[i] < 0 || prompt[i] >= vocab) {
                throw new IllegalArgumentException("prompt token " + i + " is " + prompt[i]
                        + ", expected an id in [0, " + vocab + ")");
            }
        }
        if (prompt.length >= maxLength) {
            throw new IllegalArgumentException("prompt has " + prompt.length + " tokens but the context of "
                    + target.name() + " holds " + maxLength + ": at most " + (maxLength - 1)
                    + " prompt tokens leave room to generate");
        }
        return new Run(prompt, params, listener, cancelled).execute();
    }

    /** One generation's state. */
    private final class Run {
        private static final byte END = 1;
        private static final byte STOP = 2;

        final int[] prompt;
        final SamplingParams params;
        final TokenListener listener;
        final BooleanSupplier cancelled;
        final TokenBuffer history;
        final byte[] enders;
        int[] output;
        int generated;
        int[] draftLengths = new int[64];
        int steps;
        int drafted;
        int accepted;
        int draftCalls;
        long prefillNanos;
        long draftNanos;
        long verifyNanos;
        FinishReason reason;

        Run(int[] prompt, SamplingParams params, TokenListener listener, BooleanSupplier cancelled) {
            this.prompt = prompt;
            this.params = params;
            this.listener = listener;
            this.cancelled = cancelled;
            this.history = new TokenBuffer(prompt);
            this.output = new int[Math.min(params.maxNewTokens(), 1024)];
            this.enders = new byte[target.vocabSize()];
            for (int id : params.stopTokenIds()) {
                if (id < enders.length) {
                    enders[id] = STOP;
                }
            }
            for (int id : endOfSequence) {
                if (id >= 0 && id < enders.length) {
                    enders[id] = END;
                }
            }
        }

        GenerationResult execute() {
            long start = clock.getAsLong();
            long seed = params.seed().isPresent() ? params.seed().getAsLong() : seedSource.getAsLong();
            KeyedNoise noise = new KeyedNoise(seed);
            SamplingTransform transform = new SamplingTransform(params, target.vocabSize());
            VerificationContext verification = new VerificationContext(params, new TargetScores(transform), noise);
            DraftScheduler scheduler = scheduling.start();
            int maxLength = target.maxSequenceLength();
            long prefillStart = clock.getAsLong();
            try (ModelSequence sequence = target.newSequence();
                 DraftProposer proposer = drafter == null ? NoDraft.INSTANCE
                         : drafter.start(new DraftContext(params, noise, target.vocabSize(), history))) {
                if (prompt.length > 1) {
                    sequence.prefill(prompt, 0, prompt.length - 1);
                }
                prefillNanos = clock.getAsLong() - prefillStart; // plus the draft's, before its first proposal
                boolean draftPrefilled = false;
                int pending = prompt[prompt.length - 1];
                while (reason == null) {
                    if (cancelled.getAsBoolean() || Thread.currentThread().isInterrupted()) {
                        reason = FinishReason.CANCELLED;
                        break;
                    }
                    DraftPlan planned = scheduler.plan();
                    int room = Math.min(params.maxNewTokens() - generated, maxLength - history.size());
                    DraftPlan plan = planned.capped(Math.max(0, room - 1));
                    int k = plan.maxDraftTokens();
                    if (k > 0 && !draftPrefilled) {
                        long p0 = clock.getAsLong();
                        proposer.prefill(history);
                        prefillNanos += clock.getAsLong() - p0;
                        draftPrefilled = true;
                    }
                    long t0 = clock.getAsLong();
                    Proposal proposal = k == 0 ? Proposal.empty() : proposer.propose(history, plan);
                    long t1 = clock.getAsLong();
                    check(proposal, k);
                    Verdict verdict = verifier.verify(sequence, pending, proposal, verification);
                    long t2 = clock.getAsLong();
                    record(k, proposal, t1 - t0, t2 - t1);
                    int[] tokens = proposal.tokens();
                    for (int i = 0; i < verdict.accepted() && reason == null; i++) {
                        emit(tokens[i], true);
                    }
                    if (reason == null) {
                        emit(verdict.nextToken(), false);
                    }
                    pending = verdict.nextToken();
                    StepOutcome outcome = new StepOutcome(plan, proposal, verdict, t1 - t0, t2 - t1);
                    accepted += verdict.accepted();
                    proposer.feedback(outcome);
                    scheduler.feedback(outcome);
                }
                proposer.finish(history);
                scheduler.finish();
            }
            long total = clock.getAsLong() - start;
            GenerationMetrics metrics = new GenerationMetrics(prompt.length, generated, drafted, accepted, steps,
                    steps + (prompt.length > 1 ? 1 : 0), draftCalls, prefillNanos, draftNanos, verifyNanos, total,
                    Arrays.copyOf(draftLengths, steps), seed);
            return new GenerationResult(Arrays.copyOf(output, generated), reason, metrics);
        }

        private void check(Proposal proposal, int k) {
            if (proposal.size() > k) {
                throw new IllegalStateException("drafter " + drafter.name() + " proposed " + proposal.size()
                        + " tokens, but at most " + k + " were asked for");
            }
            for (int t : proposal.tokens()) {
                if (t < 0 || t >= enders.length) {
                    throw new IllegalStateException("drafter " + drafter.name() + " proposed token " + t
                            + ", expected an id in [0, " + enders.length + ")");
                }
            }
        }

        private void record(int k, Proposal proposal, long draft, long verify) {
            if (steps == draftLengths.length) {
                draftLengths = Arrays.copyOf(draftLengths, steps * 2);
            }
            draftLengths[steps++] = k;
            drafted += proposal.size();
            draftCalls += proposal.modelCalls();
            draftNanos += draft;
            verifyNanos += verify;
        }

        private void emit(int token, boolean fromDraft) {
            byte end = enders[token];
            if (end == END) {
                reason = FinishReason.END_OF_SEQUENCE;
                return;
            }
            if (end == STOP) {
                reason = FinishReason.STOP_TOKEN;
                return;
            }
            history.append(token);
            if (generated == output.length) {
                output = Arrays.copyOf(output, Math.min(params.maxNewTokens(), output.length * 2));
            }
            output[generated++] = token;
            listener.onToken(token, fromDraft);
            if (generated >= params.maxNewTokens()) {
                reason = FinishReason.MAX_TOKENS;
            } else if (history.size() >= target.maxSequenceLength()) {
                reason = FinishReason.CONTEXT_FULL;
            }
        }
    }

    /** The proposer of plain decoding. */
    private enum NoDraft implements DraftProposer {
        INSTANCE;

        @Override
        public Proposal propose(dev.specula.core.draft.TokenHistory context, DraftPlan plan) {
            return Proposal.empty();
        }
    }

    /** Builder: {@code target} and {@code verifier} are required. */
    public static final class Builder {
        private CausalLanguageModel target;
        private Drafter drafter;
        private Verifier verifier;
        private Scheduling scheduling;
        private Set<Integer> endOfSequence = Set.of();
        private LongSupplier clock = System::nanoTime;
        private LongSupplier seedSource = KeyedNoise::freshSeed;

        private Builder() {
        }

        public Builder target(CausalLanguageModel target) {
            this.target = target;
            return this;
        }

        /** The drafter; none (the default) means plain decoding. */
        public Builder drafter(Drafter drafter) {
            this.drafter = drafter;
            return this;
        }

        public Builder verifier(Verifier verifier) {
            this.verifier = verifier;
            return this;
        }

        /** The draft-length policy; defaults to adaptive with a drafter, plain decoding without. */
        public Builder scheduling(Scheduling scheduling) {
            this.scheduling = scheduling;
            return this;
        }

        /** The target's end-of-sequence token ids. */
        public Builder endOfSequence(Set<Integer> ids) {
            this.endOfSequence = Objects.requireNonNull(ids, "ids");
            return this;
        }

        /** The clock metrics and schedulers measure with (nanoseconds); simulations inject their own. */
        public Builder clock(LongSupplier clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Where a generation given no seed gets one; defaults to {@link KeyedNoise#freshSeed} (unpredictable,
         * different for every generation). Tests inject their own.
         */
        public Builder seedSource(LongSupplier seedSource) {
            this.seedSource = Objects.requireNonNull(seedSource, "seedSource");
            return this;
        }

        public SpeculativeDecoder build() {
            return new SpeculativeDecoder(this);
        }
    }
}
