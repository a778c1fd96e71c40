package dev.specula;

import dev.specula.core.decode.FinishReason;
import dev.specula.core.decode.GenerationMetrics;

/**
 * A finished generation, returned by {@link Specula#generate(GenerationRequest)}: an immutable value holding no
 * resources (nothing to close), valid after its {@code Specula} is closed.
 *
 * <pre>{@code
 * Completion c = specula.generate("def fibonacci(n):", SamplingParams.greedy(64));
 * System.out.println(c.text());
 * System.out.println(c.finishReason() + ", " + c.metrics().acceptanceRate());
 * }</pre>
 *
 * @param text         the generated text (after the prompt; stop sequences excluded)
 * @param tokenIds     the generated token ids (a copy is returned)
 * @param promptTokens tokens in the prompt
 * @param finishReason why it ended ({@code STOP_TOKEN} also for a stop sequence; {@code CANCELLED} when the
 *                     request's cancellation flag or a thread interrupt ended it)
 * @param metrics      what the generation measured
 */
public record Completion(String text, int[] tokenIds, int promptTokens, FinishReason finishReason,
                         GenerationMetrics metrics) {

    /** Copies {@code tokenIds}. */
    public Completion {
        tokenIds = tokenIds.clone();
    }

    /** The generated token ids (a copy; a stop sequence's tokens up to the one that completed it included). */
    @Override
    public int[] tokenIds() {
        return tokenIds.clone();
    }

    /** Equal when every component is, token ids compared by content. */
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
