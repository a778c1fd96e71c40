package dev.specula.core.decode;

import dev.specula.core.draft.Drafter;
import dev.specula.core.model.CausalLanguageModel;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.BatchScheduling;
import dev.specula.core.schedule.Scheduling;
import dev.specula.core.verify.BatchVerifier;

import java.util.Objects;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * The configuration of batched speculative decoding: concurrent generations over one target stepped together, one
 * batched draft call per draft position and ONE batched target call per step for all of them (continuous batching:
 * generations join and leave between steps; a newcomer's prompt is prefilled in chunks interleaved with the steps).
 * Each generation keeps its own sampling parameters, seed, stops, budget and listener, and gets exactly the tokens
 * {@link SpeculativeDecoder} would give it alone when greedy or seeded ({@link dev.specula.core.sampling.SamplingMode#COUPLED}).
 *
 * <p>Immutable and thread-safe. It runs generations in either of two ways: {@link #stepper()}, stepped by the
 * caller's thread (tests, simulations), or {@link #start()}, an engine with a thread of its own that any thread
 * submits to. Either is owned by its caller, who closes it; the models and drafter stay their owners'.
 *
 * <pre>{@code
 * BatchDecoder decoder = BatchDecoder.builder()
 *         .target(target).drafter(drafter).verifier(new ParallelVerifier())
 *         .scheduling(BatchScheduling.goodput()).endOfSequence(Set.of(eosId)).maxBatchSize(16)
 *         .build();
 * try (BatchEngine engine = decoder.start()) {
 *     GenerationResult r = engine.submit(promptIds, SamplingParams.greedy(128), TokenListener.NONE, () -> false).join();
 * }
 * }</pre>
 */
public final class BatchDecoder {
    /** Prompt tokens newcomers prefill per step, in all, by default: running rows wait at most one such chunk. */
    public static final int DEFAULT_PREFILL_CHUNK = 256;

    final CausalLanguageModel target;
    final Drafter drafter;
    final BatchVerifier verifier;
    final BatchScheduling scheduling;
    final Set<Integer> endOfSequence;
    final LongSupplier clock;
    final LongSupplier seedSource;
    final int maxBatchSize;
    final int prefillChunk;

    private BatchDecoder(Builder b) {
        this.target = Objects.requireNonNull(b.target, "target model is required");
        this.verifier = Objects.requireNonNull(b.verifier, "batch verifier is required");
        this.drafter = b.drafter;
        this.scheduling = b.scheduling != null ? b.scheduling : BatchScheduling.perRow(Scheduling.fixed(0));
        this.endOfSequence = Set.copyOf(b.endOfSequence);
        this.clock = b.clock;
        this.seedSource = b.seedSource;
        if (b.maxBatchSize < 1) {
            throw new IllegalArgumentException("maxBatchSize must be >= 1, got " + b.maxBatchSize);
        }
        if (b.prefillChunk < 1) {
            throw new IllegalArgumentException("prefillChunk must be >= 1 token, got " + b.prefillChunk);
        }
        this.maxBatchSize = b.maxBatchSize;
        this.prefillChunk = b.prefillChunk;
        Generation.checkDrafter(drafter, target);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A stepper driven by the calling thread; the caller owns and closes it. */
    public BatchStepper stepper() {
        return new BatchStepper(this);
    }

    /** An engine stepping on a thread of its own; the caller owns and closes it (which joins the thread). */
    public BatchEngine start() {
        return new BatchEngine(this);
    }

    public CausalLanguageModel target() {
        return target;
    }

    /** The drafter, or null for batched plain decoding. */
    public Drafter drafter() {
        return drafter;
    }

    public BatchScheduling scheduling() {
        return scheduling;
    }

    public int maxBatchSize() {
        return maxBatchSize;
    }

    /** Checks a request as {@link SpeculativeDecoder#generate} does, before it is queued. */
    void validate(int[] prompt, SamplingParams params) {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(params, "params");
        Generation.validatePrompt(prompt, target);
    }

    /** Builder: {@code target} and {@code verifier} are required. */
    public static final class Builder {
        private CausalLanguageModel target;
        private Drafter drafter;
        private BatchVerifier verifier;
        private BatchScheduling scheduling;
        private Set<Integer> endOfSequence = Set.of();
        private LongSupplier clock = System::nanoTime;
        private LongSupplier seedSource = KeyedNoise::freshSeed;
        private int maxBatchSize = 16;
        private int prefillChunk = DEFAULT_PREFILL_CHUNK;

        private Builder() {
        }

        public Builder target(CausalLanguageModel target) {
            this.target = target;
            return this;
        }

        /** The drafter; none (the default) means batched plain decoding. */
        public Builder drafter(Drafter drafter) {
            this.drafter = drafter;
            return this;
        }

        public Builder verifier(BatchVerifier verifier) {
            this.verifier = verifier;
            return this;
        }

        /** The draft-length policy; defaults to plain decoding (k = 0 for every row). */
        public Builder scheduling(BatchScheduling scheduling) {
            this.scheduling = scheduling;
            return this;
        }

        /** The target's end-of-sequence token ids. */
        public Builder endOfSequence(Set<Integer> ids) {
            this.endOfSequence = Objects.requireNonNull(ids, "ids");
            return this;
        }

        /** The clock metrics and schedulers measure with (nanoseconds). */
        public Builder clock(LongSupplier clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Where a generation given no seed gets one (default {@link KeyedNoise#freshSeed}). */
        public Builder seedSource(LongSupplier seedSource) {
            this.seedSource = Objects.requireNonNull(seedSource, "seedSource");
            return this;
        }

        /** The most generations stepped together (default 16); more wait in a queue. */
        public Builder maxBatchSize(int rows) {
            this.maxBatchSize = rows;
            return this;
        }

        /**
         * Prompt tokens newcomers prefill per step, in all (default {@value #DEFAULT_PREFILL_CHUNK}): the oldest
         * waiting prompts first, several short ones in one step.
         */
        public Builder prefillChunk(int tokens) {
            this.prefillChunk = tokens;
            return this;
        }

        public BatchDecoder build() {
            return new BatchDecoder(this);
        }
    }
}
