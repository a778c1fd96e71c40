package dev.specula;

import dev.specula.core.SpeculaException;
import dev.specula.core.decode.BatchDecoder;
import dev.specula.core.decode.BatchEngine;
import dev.specula.core.decode.FinishReason;
import dev.specula.core.decode.GenerationResult;
import dev.specula.core.decode.SpeculativeDecoder;
import dev.specula.core.draft.Drafter;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.BatchScheduling;
import dev.specula.core.schedule.Scheduling;
import dev.specula.core.model.CausalLanguageModel;
import dev.specula.draft.AlignedVocabularyModel;
import dev.specula.draft.CompositeDrafter;
import dev.specula.draft.ModelDrafter;
import dev.specula.draft.NGramCacheDrafter;
import dev.specula.draft.PromptLookupDrafter;
import dev.specula.onnx.HfTokenizer;
import dev.specula.onnx.OnnxCausalLM;
import dev.specula.onnx.OnnxModelOptions;
import dev.specula.onnx.StreamingDetokenizer;
import dev.specula.onnx.text.ChatTemplate;
import dev.specula.verifier.ParallelVerifier;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Speculative decoding for a Hugging Face model exported to ONNX: same output as plain decoding, fewer target
 * calls. Loads the target (and optionally a draft model) from Optimum export directories, tokenizes, drafts,
 * verifies, detokenizes.
 *
 * <pre>{@code
 * try (Specula specula = Specula.builder()
 *         .target(Path.of("models/qwen2.5-1.5b"))
 *         .draftModel(Path.of("models/qwen2.5-0.5b"))
 *         .promptLookup()
 *         .build()) {
 *     Completion c = specula.generate("def quicksort(xs):", SamplingParams.greedy(128));
 *     System.out.println(c.text() + "\n" + c.metrics());
 * }
 * }</pre>
 *
 * <p>Owns the models and the tokenizer it loads and closes them in {@link #close()} (idempotent); the caller owns
 * the {@code Specula} and must close it. Objects it hands out ({@link #target()}, {@link #draftModel()},
 * {@link #tokenizer()}, {@link #drafter()}, {@link #decoder(boolean)}) are borrowed: valid until this instance is
 * closed, never to be closed by the caller. Drafters given to {@link Builder#drafter} stay the caller's. A
 * {@link Completion} holds no native resources. After {@code close()}, {@code generate} and {@code encode} throw
 * {@link IllegalStateException}.
 *
 * <p>Thread-safe: concurrent {@code generate} calls share the loaded models, each with its own KV caches. With
 * batching on (the default, {@link Builder#batching}), an engine thread owned by this instance steps all concurrent
 * generations together, up to {@link Builder#maxBatchSize} at once: one batched draft call per draft position and one
 * batched target call per step, each generation getting exactly the tokens it would get alone (greedy, or seeded);
 * the caller's thread waits, and its listener is called on the engine thread. A request that arrives while nothing
 * runs on the engine runs alone on its calling thread (the same tokens, without the hand-off; requests arriving
 * meanwhile are batched). A request with
 * {@link GenerationRequest#batched()} false, or any request with batching off, runs on the calling thread. A
 * generation ends early when its request's {@link GenerationRequest#cancelled()} returns true or the calling thread is
 * interrupted (see {@link #generate(GenerationRequest)}).
 */
public final class Specula implements AutoCloseable {
    private final OnnxCausalLM target;
    private final OnnxCausalLM draft;
    private final HfTokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private final List<Integer> endOfTurnIds;
    private final Drafter drafter;
    private final SpeculativeDecoder speculative;
    private final SpeculativeDecoder plain;
    private final BatchEngine engine;
    private final int maxBatchSize;
    /** Generations submitted to the engine and not yet finished. */
    private final AtomicInteger onEngine = new AtomicInteger();
    /** Whether a generation runs alone on its calling thread while the engine is idle (at most one does). */
    private final AtomicBoolean aloneRunning = new AtomicBoolean();
    private volatile boolean closed;

    private Specula(Builder b) {
        Objects.requireNonNull(b.target, "target model directory is required");
        if (!java.nio.file.Files.isDirectory(b.target)) {
            throw new SpeculaException("target model directory " + b.target + " does not exist or is not a directory");
        }
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            this.target = OnnxCausalLM.load(b.target, b.targetOptions);
            opened.add(target);
            this.tokenizer = HfTokenizer.load(b.target);
            opened.add(tokenizer);
            if (tokenizer.vocabSize() > target.vocabSize()) {
                throw new SpeculaException("tokenizer " + tokenizer.file() + " has " + tokenizer.vocabSize()
                        + " tokens but model " + b.target + " scores only " + target.vocabSize()
                        + "; the tokenizer does not belong to this model");
            }
            this.chatTemplate = ChatTemplate.forModel(b.target, tokenizer).orElse(ChatTemplate.simple());
            this.endOfTurnIds = chatTemplate.isModelTemplate() ? chatTemplate.endOfTurnTokenIds(tokenizer) : List.of();
            this.draft = b.draftModel == null ? null : OnnxCausalLM.load(b.draftModel, b.draftOptions);
            CausalLanguageModel draftView = draft;
            if (draft != null) {
                opened.add(draft);
                draftView = alignedDraft(b.draftModel, draft, target, tokenizer);
            }
            List<Drafter> drafters = new ArrayList<>(b.drafters);
            if (draft != null) {
                drafters.add(new ModelDrafter(draftView)); // lookups first (free when they match), then the model
            }
            this.drafter = drafters.isEmpty() ? null
                    : drafters.size() == 1 ? drafters.get(0) : new CompositeDrafter(drafters);
            ParallelVerifier verifier = new ParallelVerifier();
            Set<Integer> endOfSequence = new LinkedHashSet<>(target.config().eosTokenIds());
            tokenizer.eosTokenId().ifPresent(endOfSequence::add); // as vLLM: generation_config's ids and the tokenizer's
            this.plain = SpeculativeDecoder.builder().target(target).verifier(verifier)
                    .endOfSequence(endOfSequence).build();
            // the adaptive policy measures this pair's costs now, once, so it drafts from the first step
            Scheduling scheduling = drafter == null ? b.scheduling : b.scheduling.forModels(target, draftView);
            this.speculative = drafter == null ? plain : SpeculativeDecoder.builder().target(target).verifier(verifier)
                    .drafter(drafter).endOfSequence(endOfSequence).scheduling(scheduling).build();
            this.maxBatchSize = b.maxBatchSize;
            if (b.batching) {
                BatchScheduling batchScheduling = b.batchScheduling != null ? b.batchScheduling
                        : drafter == null ? BatchScheduling.perRow(Scheduling.fixed(0))
                        : BatchScheduling.goodputOr(scheduling); // alone: as unbatched; together: goodput
                this.engine = BatchDecoder.builder().target(target).drafter(drafter).verifier(verifier)
                        .endOfSequence(endOfSequence).maxBatchSize(b.maxBatchSize)
                        .scheduling(batchScheduling.forModels(target, draftView, b.maxBatchSize)).build().start();
                opened.add(engine);
            } else {
                this.engine = null;
            }
            losslessCaveat().ifPresent(caveat -> System.getLogger(Specula.class.getName())
                    .log(System.Logger.Level.WARNING, caveat)); // once per instance, at build
        } catch (RuntimeException e) {
            for (AutoCloseable c : opened) {
                try {
                    c.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /** A builder with no target set; {@link Builder#target(Path)} is required before {@link Builder#build()}. */
    public static Builder builder() {
        return new Builder();
    }

    /** The stop sequence of the fallback chat layout: the model starting a new {@code ###} turn. */
    private static final String SIMPLE_TEMPLATE_STOP = "\n### ";

    /**
     * Greedy or sampled generation of a raw text prompt with the configured drafter, no stop sequences.
     *
     * @throws IllegalArgumentException as {@link #generate(GenerationRequest)}
     * @throws IllegalStateException    if this instance is closed
     */
    public Completion generate(String prompt, SamplingParams params) {
        return generate(GenerationRequest.builder(prompt).params(params).build());
    }

    /**
     * Like {@link #generate(String, SamplingParams)}, streaming text to {@code listener} as it is accepted (on this
     * thread, or on the engine thread when batched).
     */
    public Completion generate(String prompt, SamplingParams params, TextListener listener) {
        return generate(GenerationRequest.builder(prompt).params(params).listener(listener).build());
    }

    /**
     * Runs one generation: encodes the prompt (a chat is rendered with the model's chat template first), decodes
     * plainly or speculatively, and streams the text to the request's listener. The text streamed and returned is
     * exactly what the generated tokens add to the prompt's text. A chat reply ends at the template's end-of-turn
     * token; every generation ends at the model's end-of-sequence ids, a stop sequence, {@code maxNewTokens}, or
     * the end of the context, whichever comes first.
     *
     * <p>Cancellation: {@link GenerationRequest#cancelled()} is polled before every decoding step (after the
     * prompt's prefill); when it returns true, or the calling thread is interrupted (the interrupt flag is left
     * set), the generation ends with the text and tokens it has, {@link FinishReason#CANCELLED}. A stop sequence
     * ends it with {@link FinishReason#STOP_TOKEN}: the text stops before the match (nothing of the match is
     * streamed) and the token ids end with the token that completed it. {@code maxNewTokens} is clamped to the room
     * left in the context, reported as {@link FinishReason#CONTEXT_FULL} when that limit ends it.
     *
     * <pre>{@code
     * AtomicBoolean stop = new AtomicBoolean();
     * Completion c = specula.generate(GenerationRequest.builder("def quicksort(xs):")
     *         .params(SamplingParams.greedy(256))
     *         .stopSequences(List.of("\n\n\n"))
     *         .listener((text, fromDraft) -> System.out.print(text))
     *         .cancelled(stop::get)
     *         .build());
     * }</pre>
     *
     * @return the completion; its text and token ids exclude the prompt
     * @throws IllegalStateException    if this instance is closed
     * @throws IllegalArgumentException if the prompt is empty, holds ids outside the vocabulary, or leaves no room
     *                                  in the context; or the chat template rejects the conversation
     */
    public Completion generate(GenerationRequest request) {
        ensureOpen();
        Set<Integer> stopIds = new LinkedHashSet<>(request.params().stopTokenIds());
        List<String> stops = new ArrayList<>();
        for (String stop : request.stopSequences()) {
            OptionalInt special = tokenizer.tokenId(stop);
            if (special.isPresent() && tokenizer.isSpecial(special.getAsInt())) {
                stopIds.add(special.getAsInt()); // a special token's text is matched as the token itself
            } else {
                stops.add(stop);
            }
        }
        int[] ids = encode(request.prompt());
        if (request.prompt() instanceof Prompt.Chat) {
            stopIds.addAll(endOfTurnIds);
            if (!chatTemplate.isModelTemplate()) {
                stops.add(SIMPLE_TEMPLATE_STOP);
            }
        }
        if (ids.length == 0) {
            throw new IllegalArgumentException("prompt is empty: it must hold at least one token of text");
        }
        int room = target.maxSequenceLength() - ids.length;
        if (room < 1) {
            throw new IllegalArgumentException("prompt has " + ids.length + " tokens but the context of "
                    + target.name() + " holds " + target.maxSequenceLength() + ": at most "
                    + (target.maxSequenceLength() - 1) + " prompt tokens leave room to generate");
        }
        SamplingParams params = request.params().toBuilder()
                .maxNewTokens(Math.min(request.params().maxNewTokens(), room))
                .stopTokenIds(stopIds).build();
        SpeculativeDecoder decoder = request.speculative() ? speculative : plain;
        TextStream stream = new TextStream(tokenizer.streaming(ids, request.skipSpecialTokens()), stops,
                request.listener());
        boolean alone = engine == null || !request.batched() || runsAlone();
        GenerationResult r;
        if (alone) {
            try {
                r = decoder.generate(ids, params, stream::push, () -> stream.stopped
                        || request.cancelled().getAsBoolean() || Thread.currentThread().isInterrupted());
            } finally {
                if (engine != null && request.batched()) {
                    aloneRunning.set(false);
                }
            }
        } else {
            r = generateBatched(ids, params, stream, request);
        }
        String text = stream.finish();
        FinishReason reason = stream.stopped ? FinishReason.STOP_TOKEN : r.finishReason();
        if (reason == FinishReason.MAX_TOKENS && request.params().maxNewTokens() > room) {
            reason = FinishReason.CONTEXT_FULL; // the limit that ended it was the context's, not the request's
        }
        int[] tokens = r.tokens();
        if (stream.stopped && stream.tokensKept < tokens.length) {
            tokens = java.util.Arrays.copyOf(tokens, stream.tokensKept);
        }
        return new Completion(text, tokens, ids.length, reason, r.metrics());
    }

    /**
     * Whether a batchable request should run on its calling thread: when nothing runs on the engine and no other
     * request runs alone, the unbatched path is the same work without the hand-off to the engine thread (a lone
     * generation gains nothing from the batch). Requests arriving meanwhile are batched on the engine.
     */
    private boolean runsAlone() {
        return onEngine.get() == 0 && aloneRunning.compareAndSet(false, true);
    }

    /**
     * Runs one generation on the batch engine and waits for it. An interrupt of the waiting thread cancels the
     * generation (it ends with what it has) and is kept for the caller, as on the unbatched path.
     */
    private GenerationResult generateBatched(int[] ids, SamplingParams params, TextStream stream,
                                             GenerationRequest request) {
        AtomicBoolean interrupted = new AtomicBoolean(Thread.currentThread().isInterrupted());
        onEngine.incrementAndGet();
        CompletableFuture<GenerationResult> result;
        try {
            result = engine.submit(ids, params, stream::push,
                    () -> stream.stopped || interrupted.get() || request.cancelled().getAsBoolean(), request.speculative());
        } catch (RuntimeException | Error e) {
            onEngine.decrementAndGet();
            throw e;
        }
        result.whenComplete((value, failure) -> onEngine.decrementAndGet());
        boolean wasInterrupted = false;
        try {
            while (true) {
                try {
                    return result.get();
                } catch (InterruptedException e) {
                    interrupted.set(true); // the engine ends the generation at its next step; wait for that
                    wasInterrupted = true;
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    if (cause instanceof RuntimeException re) {
                        throw re;
                    }
                    if (cause instanceof Error err) {
                        throw err;
                    }
                    throw new SpeculaException("batched generation failed: " + cause, cause);
                }
            }
        } finally {
            if (wasInterrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Whether concurrent {@code generate} calls are stepped together ({@link Builder#batching}). */
    public boolean batching() {
        return engine != null;
    }

    /** The most generations stepped together so far (0 without batching); for tests and diagnostics. */
    int peakBatchSize() {
        return engine == null ? 0 : engine.peakBatchSize();
    }

    /** The engine's thread, null without batching; for tests. */
    Thread engineThread() {
        return engine == null ? null : engine.thread();
    }

    /** The most generations stepped together when batching. */
    public int maxBatchSize() {
        return maxBatchSize;
    }

    /**
     * The token ids {@code prompt} stands for: what {@link #generate(GenerationRequest)} feeds the model.
     *
     * @throws IllegalStateException if this instance is closed
     */
    public int[] encode(Prompt prompt) {
        ensureOpen();
        if (prompt instanceof Prompt.Text t) {
            return tokenizer.encode(t.text(), t.addSpecialTokens());
        }
        if (prompt instanceof Prompt.Tokens t) {
            return t.ids();
        }
        String rendered = chatTemplate.render(((Prompt.Chat) prompt).messages(), true);
        return tokenizer.encode(rendered, false); // the template writes BOS itself
    }

    /**
     * The chat template chat prompts are rendered with: the model's own, or, for a model without one,
     * {@link ChatTemplate#simple()} ({@link ChatTemplate#isModelTemplate()} false).
     */
    public ChatTemplate chatTemplate() {
        return chatTemplate;
    }

    /** The most tokens a sequence of the target may hold, prompt included. */
    public int contextLength() {
        return target.maxSequenceLength();
    }

    /**
     * The draft seen through the target's vocabulary: checks that both tokenizers map ids to the same tokens (when
     * the draft ships a tokenizer) and hides ids the draft must not propose (padding beyond the tokenizer, or
     * beyond either model's logits width).
     */
    private static CausalLanguageModel alignedDraft(Path draftDir, OnnxCausalLM draft, OnnxCausalLM target,
                                                    HfTokenizer tokenizer) {
        if (java.nio.file.Files.isRegularFile(draftDir.resolve("tokenizer.json"))) {
            try (HfTokenizer draftTokenizer = HfTokenizer.load(draftDir)) {
                Optional<String> difference = tokenizer.differenceFrom(draftTokenizer);
                if (difference.isPresent()) {
                    throw new SpeculaException("draft model " + draftDir + " does not share the target's tokenizer: "
                            + difference.get() + "; a draft must use the target's tokenizer");
                }
            }
        } else if (draft.vocabSize() != target.vocabSize()) {
            throw new SpeculaException("draft model " + draftDir + " has no tokenizer.json and scores " + draft.vocabSize()
                    + " ids but target scores " + target.vocabSize() + "; add the draft's tokenizer.json so that"
                    + " the two vocabularies can be compared");
        }
        int usable = Math.min(tokenizer.vocabSize(), Math.min(draft.vocabSize(), target.vocabSize()));
        if (draft.vocabSize() == target.vocabSize() && usable == target.vocabSize()) {
            return draft;
        }
        return new AlignedVocabularyModel(draft, target.vocabSize(), usable);
    }

    /**
     * The decoder behind {@code generate}: speculative (with the configured drafter) or plain; borrowed from this
     * instance (the same as plain when no drafter is configured).
     */
    public SpeculativeDecoder decoder(boolean speculativeDecoding) {
        return speculativeDecoding ? speculative : plain;
    }

    /** The target's tokenizer; owned by this instance, which closes it. */
    public HfTokenizer tokenizer() {
        return tokenizer;
    }

    /** The target model; owned by this instance, which closes it. */
    public OnnxCausalLM target() {
        return target;
    }

    /** The draft model, if one was configured; owned by this instance, which closes it. */
    public Optional<OnnxCausalLM> draftModel() {
        return Optional.ofNullable(draft);
    }

    /**
     * Why greedy output may differ from plain unbatched decoding here, if it may: the target's rows depend on the
     * other rows of a call ({@link OnnxCausalLM#rowInvariance()}, e.g. a graph that quantizes activations per call)
     * and rows share calls: speculation (a verify call's draft tokens) or batching (concurrent generations). Empty
     * where outputs are equal up to floating-point summation order.
     */
    public Optional<String> losslessCaveat() {
        if (target.rowInvariance().rowInvariant() || drafter == null && engine == null) {
            return Optional.empty();
        }
        return Optional.of((drafter != null ? "greedy speculative output may differ from plain decoding"
                : "greedy output of generations batched together may differ from unbatched decoding")
                + " at near-ties: target " + target.name() + " is row-variant (" + target.rowInvariance().reason() + ")");
    }

    /** The drafter, if any (a composite when several were configured). */
    public Optional<Drafter> drafter() {
        return Optional.ofNullable(drafter);
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("this Specula instance is closed");
        }
    }

    /**
     * Stops the batch engine (batched generations still running end with what they have, {@code CANCELLED}, and its
     * thread is joined), then closes the target, the draft model and the tokenizer; a second call does nothing. An
     * unbatched generation in flight uses the models it would close: call it once none is running.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try (HfTokenizer t = tokenizer; OnnxCausalLM m = target) {
            if (engine != null) {
                engine.close(); // cancels what is still batched and joins the engine thread, before the models go
            }
            if (draft != null) {
                draft.close();
            }
        }
    }

    /** Streams text to the listener, holding back what could be the start of a stop sequence. */
    private static final class TextStream {
        private final StreamingDetokenizer detokenizer;
        private final List<String> stops;
        private final TextListener listener;
        private final int holdBack;
        private final StringBuilder text = new StringBuilder();
        private int emitted;
        private int tokens;
        private boolean lastFromDraft;
        boolean stopped;
        /** Tokens up to and including the one that completed a stop sequence (all of them if none did). */
        int tokensKept = -1;

        TextStream(StreamingDetokenizer detokenizer, List<String> stops, TextListener listener) {
            this.detokenizer = detokenizer;
            this.stops = stops;
            this.listener = listener;
            this.holdBack = stops.stream().mapToInt(String::length).max().orElse(1) - 1;
        }

        void push(int token, boolean fromDraft) {
            if (stopped) {
                return; // tokens of the same step after a stop sequence: generated, but not part of the answer
            }
            tokens++;
            lastFromDraft = fromDraft;
            String piece = detokenizer.push(token);
            if (!piece.isEmpty()) {
                append(piece);
            }
        }

        private void append(String piece) {
            int searchFrom = Math.max(0, text.length() - holdBack);
            text.append(piece);
            int cut = -1;
            for (String stop : stops) { // the earliest match of any stop sequence ends the text
                int at = text.indexOf(stop, searchFrom);
                if (at >= 0 && (cut < 0 || at < cut)) {
                    cut = at;
                }
            }
            if (cut >= 0) {
                text.setLength(cut);
                stopped = true;
                tokensKept = tokens;
            }
            int safe = stopped ? text.length() : text.length() - holdBack;
            if (safe > emitted && safe < text.length() && Character.isHighSurrogate(text.charAt(safe - 1))) {
                safe--; // never split a character's surrogate pair across two pieces
            }
            if (safe > emitted) {
                listener.onText(text.substring(emitted, safe), lastFromDraft);
                emitted = safe;
            }
        }

        String finish() {
            if (!stopped) {
                String rest = detokenizer.flush();
                if (!rest.isEmpty()) {
                    append(rest);
                }
            }
            if (!stopped && text.length() > emitted) {
                listener.onText(text.substring(emitted), lastFromDraft);
                emitted = text.length();
            }
            return text.toString();
        }
    }

    /**
     * Builder: {@code target} is required; everything else is optional. Drafters are tried in the order added, a
     * draft model last. {@link #build()} loads the models; the {@code Specula} it returns owns them.
     */
    public static final class Builder {
        private Path target;
        private Path draftModel;
        private final List<Drafter> drafters = new ArrayList<>();
        private Scheduling scheduling = Scheduling.adaptive();
        private OnnxModelOptions targetOptions = OnnxModelOptions.defaults();
        private OnnxModelOptions draftOptions = OnnxModelOptions.defaults();
        private boolean batching = true;
        private int maxBatchSize = 16;
        private BatchScheduling batchScheduling;

        private Builder() {
        }

        /**
         * Whether concurrent {@code generate} calls are stepped together by one engine thread (default true): one
         * batched target call per step for all of them, each with exactly the output it would get alone. False runs
         * every generation on its calling thread, independently.
         */
        public Builder batching(boolean batching) {
            this.batching = batching;
            return this;
        }

        /** The most generations stepped together (default 16); more wait for a row to free up. */
        public Builder maxBatchSize(int rows) {
            if (rows < 1) {
                throw new IllegalArgumentException("maxBatchSize must be >= 1, got " + rows);
            }
            this.maxBatchSize = rows;
            return this;
        }

        /**
         * The draft-length policy of batched generations (default {@link BatchScheduling#goodputOr}: a generation
         * running alone is scheduled by {@link #scheduling}'s policy as it would be unbatched, several together by
         * goodput; calibrated when the models load).
         */
        public Builder batchScheduling(BatchScheduling scheduling) {
            this.batchScheduling = Objects.requireNonNull(scheduling, "scheduling");
            return this;
        }

        /** The target model directory (an Optimum export: model.onnx, config.json, tokenizer.json). */
        public Builder target(Path dir) {
            this.target = dir;
            return this;
        }

        /** A draft model directory sharing the target's tokenizer. */
        public Builder draftModel(Path dir) {
            this.draftModel = dir;
            return this;
        }

        /** Adds prompt lookup (matches of 2 to 4 tokens); tried before a draft model. */
        public Builder promptLookup() {
            return drafter(new PromptLookupDrafter());
        }

        /** Adds a cross-request n-gram cache; tried before a draft model. */
        public Builder ngramCache() {
            return drafter(new NGramCacheDrafter());
        }

        /**
         * Adds any drafter; drafters are tried in the order added, a draft model last. Concurrent generations share
         * it (a {@link Drafter} is thread-safe); it stays the caller's: {@link Specula#close()} does not touch it.
         */
        public Builder drafter(Drafter drafter) {
            this.drafters.add(Objects.requireNonNull(drafter, "drafter"));
            return this;
        }

        /** The draft-length policy (default {@link Scheduling#adaptive()}). */
        public Builder scheduling(Scheduling scheduling) {
            this.scheduling = Objects.requireNonNull(scheduling, "scheduling");
            return this;
        }

        /** ONNX Runtime options of the target (default: CPU, one thread per core up to 8). */
        public Builder targetOptions(OnnxModelOptions options) {
            this.targetOptions = Objects.requireNonNull(options, "options");
            return this;
        }

        /**
         * ONNX Runtime options of the draft model (default: as the target's default; draft and target run one after
         * the other, so each may use every core: two threads made the draft step 2-19% faster than one here).
         */
        public Builder draftOptions(OnnxModelOptions options) {
            this.draftOptions = Objects.requireNonNull(options, "options");
            return this;
        }

        /** Loads the models and the tokenizer. */
        public Specula build() {
            return new Specula(this);
        }
    }
}
