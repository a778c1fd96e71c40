package dev.specula;

import dev.specula.core.sampling.SamplingParams;
import dev.specula.onnx.text.ChatMessage;

import java.util.List;
import java.util.Objects;
import java.util.function.BooleanSupplier;

/**
 * One generation: the prompt and how to generate. An immutable value holding no resources; the listener and the
 * cancellation flag stay the caller's. Pass it to {@link Specula#generate(GenerationRequest)}.
 *
 * <pre>{@code
 * AtomicBoolean stop = new AtomicBoolean();              // set from any thread to end the generation early
 * GenerationRequest request = GenerationRequest.builder("def fibonacci(n):")
 *         .params(SamplingParams.builder().temperature(0.8).seed(7).maxNewTokens(128).build())
 *         .stopSequences(List.of("\ndef "))
 *         .listener((text, fromDraft) -> System.out.print(text))
 *         .cancelled(stop::get)
 *         .build();
 * }</pre>
 *
 * @param prompt            text, token ids or a chat conversation
 * @param params            sampling parameters
 * @param speculative       false to decode plainly (the baseline), true to use the configured drafter
 * @param stopSequences     texts that end the generation (excluded from the output); one that is exactly a special
 *                          token's text (e.g. {@code <|im_end|>}) ends it at that token
 * @param skipSpecialTokens true (the default) leaves special tokens out of the text, as transformers' decode does
 * @param listener          receives text as it is generated
 * @param cancelled         polled before every decoding step, on the generating thread; true ends the generation
 *                          with what it has ({@code CANCELLED}), as does interrupting the calling thread
 * @param batched           true (the default) lets a {@link Specula} with batching on step this generation together
 *                          with the other concurrent ones; false runs it alone on the calling thread
 */
public record GenerationRequest(Prompt prompt, SamplingParams params, boolean speculative, List<String> stopSequences,
                                boolean skipSpecialTokens, TextListener listener, BooleanSupplier cancelled,
                                boolean batched) {

    /**
     * Validates and copies the stop sequences.
     *
     * @throws NullPointerException     if any argument but the booleans is null
     * @throws IllegalArgumentException if a stop sequence is the empty string
     */
    public GenerationRequest {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(params, "params");
        stopSequences = List.copyOf(stopSequences);
        for (String s : stopSequences) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop sequences must not be empty strings");
            }
        }
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(cancelled, "cancelled");
    }

    /** A request for a raw text prompt (encoded with the tokenizer's special tokens, as transformers does). */
    public static Builder builder(String prompt) {
        return new Builder(Prompt.text(prompt));
    }

    /** A request for any prompt: text, token ids or a chat. */
    public static Builder builder(Prompt prompt) {
        return new Builder(prompt);
    }

    /** A chat request: the model's chat template renders {@code messages}. */
    public static Builder chat(List<ChatMessage> messages) {
        return new Builder(Prompt.chat(messages));
    }

    /**
     * Builder: speculative, no stop sequences, special tokens skipped, no listener, never cancelled, greedy 128
     * tokens by default.
     */
    public static final class Builder {
        private final Prompt prompt;
        private SamplingParams params = SamplingParams.greedy(128);
        private boolean speculative = true;
        private List<String> stopSequences = List.of();
        private boolean skipSpecialTokens = true;
        private TextListener listener = TextListener.NONE;
        private BooleanSupplier cancelled = () -> false;
        private boolean batched = true;

        private Builder(Prompt prompt) {
            this.prompt = prompt;
        }

        /** Sampling parameters, including {@code maxNewTokens} and stop token ids (default greedy, 128 tokens). */
        public Builder params(SamplingParams params) {
            this.params = params;
            return this;
        }

        /** False decodes plainly, without the drafter (the baseline; same output when greedy or seeded). */
        public Builder speculative(boolean speculative) {
            this.speculative = speculative;
            return this;
        }

        /**
         * Texts that end the generation at their earliest match, across token boundaries; the match is left out of
         * the text. None may be empty (checked by {@link #build()}).
         */
        public Builder stopSequences(List<String> stops) {
            this.stopSequences = stops;
            return this;
        }

        /** False keeps special tokens (e.g. {@code <think>} markers of some models) in the text. */
        public Builder skipSpecialTokens(boolean skip) {
            this.skipSpecialTokens = skip;
            return this;
        }

        /** Receives the text as it is generated, on the generating thread (default: none). */
        public Builder listener(TextListener listener) {
            this.listener = listener;
            return this;
        }

        /**
         * Polled before every decoding step; returning true ends the generation with what it has (default: never).
         * Keep it cheap: e.g. {@code AtomicBoolean::get}.
         */
        public Builder cancelled(BooleanSupplier cancelled) {
            this.cancelled = cancelled;
            return this;
        }

        /**
         * False opts this request out of batching: it runs alone on the calling thread, as with batching off
         * (default true: batched when the {@link Specula} batches).
         */
        public Builder batched(boolean batched) {
            this.batched = batched;
            return this;
        }

        /**
         * The request.
         *
         * @throws NullPointerException     if a null params, listener or cancellation flag was set
         * @throws IllegalArgumentException if a stop sequence is empty
         */
        public GenerationRequest build() {
            return new GenerationRequest(prompt, params, speculative, stopSequences, skipSpecialTokens, listener,
                    cancelled, batched);
        }
    }
}
