package dev.specula.cli.serve;

import dev.specula.GenerationRequest;
import dev.specula.Prompt;
import dev.specula.TextListener;
import dev.specula.core.sampling.SamplingParams;

import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * A validated request of either completion endpoint, reduced to what the generation needs.
 *
 * @param model         the model name to echo in the response
 * @param prompt        the prompt: text, token ids, or the chat conversation
 * @param params        sampling parameters
 * @param stopSequences texts that end the generation
 * @param stream        whether to answer with server-sent events
 * @param speculative   false to decode plainly
 * @param skipSpecialTokens false keeps special tokens in the text (vLLM's {@code skip_special_tokens})
 */
record CompletionSpec(String model, Prompt prompt, SamplingParams params, List<String> stopSequences, boolean stream,
                      boolean speculative, boolean skipSpecialTokens) {

    CompletionSpec {
        stopSequences = List.copyOf(stopSequences);
    }

    GenerationRequest toRequest(TextListener listener, BooleanSupplier cancelled) {
        return GenerationRequest.builder(prompt).params(params).stopSequences(stopSequences).speculative(speculative)
                .skipSpecialTokens(skipSpecialTokens).listener(listener).cancelled(cancelled).build();
    }
}
