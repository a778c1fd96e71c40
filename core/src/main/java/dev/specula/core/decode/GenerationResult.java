package dev.specula.core.decode;

/**
 * The outcome of one generation.
 *
 * @param tokens       generated token ids (end-of-sequence and stop tokens excluded); a copy is returned
 * @param finishReason why it ended
 * @param metrics      what it measured
 */
public record GenerationResult(int[] tokens, FinishReason finishReason, GenerationMetrics metrics) {

    public GenerationResult {
        tokens = tokens.clone();
    }

    @Override
    public int[] tokens() {
        return tokens.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GenerationResult r && java.util.Arrays.equals(tokens, r.tokens)
                && finishReason == r.finishReason && metrics.equals(r.metrics);
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(tokens) * 31 + finishReason.hashCode();
    }

    @Override
    public String toString() {
        return "GenerationResult[tokens=" + tokens.length + ", finishReason=" + finishReason + ", " + metrics + "]";
    }
}
