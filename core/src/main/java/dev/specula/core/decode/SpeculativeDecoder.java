package dev.specula.core.decode;

import dev.specula.core.StepOutcome;
import dev.specula.core.acceptance.TargetScores;
import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.DraftContext;
import dev.specula.core.draft.DraftProposer;
import dev.specula.core.draft.Drafter;
import dev.specula.core.draft.Proposal;
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
        Generation.checkDrafter(drafter, target);
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
        Generation.validatePrompt(prompt, target);
        return new Run(prompt, params, listener, cancelled).execute();
    }

    /** One generation's loop; its bookkeeping is a {@link Generation}. */
    private final class Run {
        final int[] prompt;
        final SamplingParams params;
        final TokenListener listener;
        final BooleanSupplier cancelled;

        Run(int[] prompt, SamplingParams params, TokenListener listener, BooleanSupplier cancelled) {
            this.prompt = prompt;
            this.params = params;
            this.listener = listener;
            this.cancelled = cancelled;
        }

        GenerationResult execute() {
            long start = clock.getAsLong();
            long seed = params.seed().isPresent() ? params.seed().getAsLong() : seedSource.getAsLong();
            Generation g = new Generation(prompt, params, listener, endOfSequence, target, seed);
            KeyedNoise noise = new KeyedNoise(seed);
            SamplingTransform transform = new SamplingTransform(params, target.vocabSize());
            VerificationContext verification = new VerificationContext(params, new TargetScores(transform), noise);
            DraftScheduler scheduler = scheduling.start();
            long prefillStart = clock.getAsLong();
            try (ModelSequence sequence = target.newSequence();
                 DraftProposer proposer = drafter == null ? NoDraft.INSTANCE
                         : drafter.start(new DraftContext(params, noise, target.vocabSize(), g.history))) {
                if (prompt.length > 1) {
                    sequence.prefill(prompt, 0, prompt.length - 1);
                }
                g.prefillNanos = clock.getAsLong() - prefillStart; // plus the draft's, before its first proposal
                boolean draftPrefilled = false;
                int pending = prompt[prompt.length - 1];
                while (g.reason == null) {
                    if (cancelled.getAsBoolean() || Thread.currentThread().isInterrupted()) {
                        g.reason = FinishReason.CANCELLED;
                        break;
                    }
                    DraftPlan plan = scheduler.plan().capped(g.draftRoom());
                    int k = plan.maxDraftTokens();
                    if (k > 0 && !draftPrefilled) {
                        long p0 = clock.getAsLong();
                        proposer.prefill(g.history);
                        g.prefillNanos += clock.getAsLong() - p0;
                        draftPrefilled = true;
                    }
                    long t0 = clock.getAsLong();
                    Proposal proposal = k == 0 ? Proposal.empty() : proposer.propose(g.history, plan);
                    long t1 = clock.getAsLong();
                    g.check(proposal, k, drafter == null ? "none" : drafter.name());
                    Verdict verdict = verifier.verify(sequence, pending, proposal, verification);
                    long t2 = clock.getAsLong();
                    g.record(k, proposal, t1 - t0, t2 - t1);
                    g.emit(proposal, verdict);
                    pending = verdict.nextToken();
                    StepOutcome outcome = new StepOutcome(plan, proposal, verdict, t1 - t0, t2 - t1);
                    proposer.feedback(outcome);
                    scheduler.feedback(outcome);
                }
                proposer.finish(g.history);
                scheduler.finish();
            }
            return g.result(clock.getAsLong() - start, prompt.length > 1 ? 1 : 0);
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
