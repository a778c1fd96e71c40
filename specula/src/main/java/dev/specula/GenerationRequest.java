package dev.specula;

import dev.specula.core.sampling.SamplingParams;

import java.util.List;
import java.util.Objects;
import java.util.function.BooleanSupplier;

/**
 * One generation: the prompt and how to generate.
 *
 * @param prompt        the prompt text (tokenized exactly as written, no special tokens added)
 * @param params        sampling parameters
 * @param speculative   false to decode plainly (the baseline), true to use the configured drafter
 * @param stopSequences texts that end the generation (excluded from the output)
 * @param listener      receives text as it is generated
 * @param cancelled     polled every step; true ends the generation with what it has
 */
public record GenerationRequest(String prompt, SamplingParams params, boolean speculative, List<String> stopSequences,
                                TextListener listener, BooleanSupplier cancelled) {

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

    public static Builder builder(String prompt) {
        return new Builder(prompt);
    }

    /** Builder: speculative, no stop sequences, no listener, never cancelled, greedy 128 tokens by default. */
    public static final class Builder {
        private final String prompt;
        private SamplingParams params = SamplingParams.greedy(128);
        private boolean speculative = true;
        private List<String> stopSequences = List.of();
        private TextListener listener = TextListener.NONE;
        private BooleanSupplier cancelled = () -> false;

        private Builder(String prompt) {
            this.prompt = prompt;
        }

        public Builder params(SamplingParams params) {
            this.params = params;
            return this;
        }

        public Builder speculative(boolean speculative) {
            this.speculative = speculative;
            return this;
        }

        public Builder stopSequences(List<String> stops) {
            this.stopSequences = stops;
            return this;
        }

        public Builder listener(TextListener listener) {
            this.listener = listener;
            return this;
        }

        public Builder cancelled(BooleanSupplier cancelled) {
            this.cancelled = cancelled;
            return this;
        }

        public GenerationRequest build() {
            return new GenerationRequest(prompt, params, speculative, stopSequences, listener, cancelled);
        }
    }
}
