package dev.specula;

import dev.specula.core.decode.FinishReason;
import dev.specula.core.decode.GenerationMetrics;

/**
 * A finished generation.
 *
 * @param text         the generated text (after the prompt; stop sequences excluded)
 * @param tokenIds     the generated token ids (a copy is returned)
 * @param promptTokens tokens in the prompt
 * @param finishReason why it ended ({@code STOP_TOKEN} also for a stop sequence)
 * @param metrics      what the generation measured
 */
public record Completion(String text, int[] tokenIds, int promptTokens, FinishReason finishReason,
                         GenerationMetrics metrics) {

    public Completion {
        tokenIds = tokenIds.clone();
    }

    @Override
    public int[] tokenIds() {
        return tokenIds.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Completion c && text.equals(c.text) && java.util.Arrays.equals(tokenIds, c.tokenIds)
                && promptTokens == c.promptTokens && finishReason == c.finishReason && metrics.equals(c.metrics);
    }

    @Override
    public int hashCode() {
        return text.hashCode() * 31 + java.util.Arrays.hashCode(tokenIds);
    }

    @Override
    public String toString() {
        return "Completion[" + finishReason + ", " + tokenIds.length + " tokens, " + metrics + "]";
    }
}
