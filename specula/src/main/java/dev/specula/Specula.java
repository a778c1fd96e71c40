package dev.specula;

import dev.specula.core.SpeculaException;
import dev.specula.core.decode.FinishReason;
import dev.specula.core.decode.GenerationResult;
import dev.specula.core.decode.SpeculativeDecoder;
import dev.specula.core.draft.Drafter;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.Scheduling;
import dev.specula.draft.CompositeDrafter;
import dev.specula.draft.ModelDrafter;
import dev.specula.draft.NGramCacheDrafter;
import dev.specula.draft.PromptLookupDrafter;
import dev.specula.onnx.HfTokenizer;
import dev.specula.onnx.OnnxCausalLM;
import dev.specula.onnx.OnnxModelOptions;
import dev.specula.onnx.StreamingDetokenizer;
import dev.specula.verifier.ParallelVerifier;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

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
 * <p>Owns the models and the tokenizer it loads and closes them in {@link #close()} (idempotent). Thread-safe:
 * concurrent {@code generate} calls share the loaded models, each with its own KV caches.
 */
public final class Specula implements AutoCloseable {
    private final OnnxCausalLM target;
    private final OnnxCausalLM draft;
    private final HfTokenizer tokenizer;
    private final Drafter drafter;
    private final SpeculativeDecoder speculative;
    private final SpeculativeDecoder plain;
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
            this.draft = b.draftModel == null ? null : OnnxCausalLM.load(b.draftModel, b.draftOptions);
            if (draft != null) {
                opened.add(draft);
                if (draft.vocabSize() != target.vocabSize()) {
                    throw new SpeculaException("draft model " + b.draftModel + " has vocabulary size " + draft.vocabSize()
                            + " but target " + b.target + " has " + target.vocabSize()
                            + "; draft and target must share one tokenizer and vocabulary");
                }
            }
            List<Drafter> drafters = new ArrayList<>(b.drafters);
            if (draft != null) {
                drafters.add(new ModelDrafter(draft)); // lookups first (free when they match), then the model
            }
            this.drafter = drafters.isEmpty() ? null
                    : drafters.size() == 1 ? drafters.get(0) : new CompositeDrafter(drafters);
            ParallelVerifier verifier = new ParallelVerifier();
            this.plain = SpeculativeDecoder.builder().target(target).verifier(verifier)
                    .endOfSequence(target.config().eosTokenIds()).build();
            this.speculative = drafter == null ? plain : SpeculativeDecoder.builder().target(target).verifier(verifier)
                    .drafter(drafter).scheduling(b.scheduling).endOfSequence(target.config().eosTokenIds()).build();
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

    public static Builder builder() {
        return new Builder();
    }

    /** Greedy or sampled generation with the configured drafter. */
    public Completion generate(String prompt, SamplingParams params) {
        return generate(GenerationRequest.builder(prompt).params(params).build());
    }

    /** Like {@link #generate(String, SamplingParams)}, streaming text to {@code listener} as it is accepted. */
    public Completion generate(String prompt, SamplingParams params, TextListener listener) {
        return generate(GenerationRequest.builder(prompt).params(params).listener(listener).build());
    }

    public Completion generate(GenerationRequest request) {
        ensureOpen();
        int[] ids = tokenizer.encode(request.prompt());
        if (ids.length == 0) {
            throw new IllegalArgumentException("prompt is empty: it must hold at least one token of text");
        }
        SpeculativeDecoder decoder = request.speculative() ? speculative : plain;
        TextStream stream = new TextStream(tokenizer.streaming(), request.stopSequences(), request.listener());
        GenerationResult r = decoder.generate(ids, request.params(), stream::push,
                () -> stream.stopped || request.cancelled().getAsBoolean());
        String text = stream.finish();
        FinishReason reason = stream.stopped ? FinishReason.STOP_TOKEN : r.finishReason();
        int[] tokens = r.tokens();
        if (stream.stopped && stream.tokensKept < tokens.length) {
            tokens = java.util.Arrays.copyOf(tokens, stream.tokensKept);
        }
        return new Completion(text, tokens, ids.length, reason, r.metrics());
    }

    /** The decoder behind {@code generate}: speculative (with the configured drafter) or plain. */
    public SpeculativeDecoder decoder(boolean speculativeDecoding) {
        return speculativeDecoding ? speculative : plain;
    }

    public HfTokenizer tokenizer() {
        return tokenizer;
    }

    public OnnxCausalLM target() {
        return target;
    }

    public Optional<OnnxCausalLM> draftModel() {
        return Optional.ofNullable(draft);
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

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try (HfTokenizer t = tokenizer; OnnxCausalLM m = target) {
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

    /** Builder: {@code target} is required; everything else is optional. */
    public static final class Builder {
        private Path target;
        private Path draftModel;
        private final List<Drafter> drafters = new ArrayList<>();
        private Scheduling scheduling = Scheduling.adaptive();
        private OnnxModelOptions targetOptions = OnnxModelOptions.defaults();
        private OnnxModelOptions draftOptions = OnnxModelOptions.cpu(1);

        private Builder() {
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

        /** Adds any drafter; drafters are tried in the order added, a draft model last. */
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

        /** ONNX Runtime options of the draft model (default: CPU, one thread: a small model gains nothing more). */
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
