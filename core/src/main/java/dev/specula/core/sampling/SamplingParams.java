package dev.specula.core.sampling;

import java.util.Set;

/**
 * How tokens are chosen: the sampling transform's parameters, the seed, and when to stop. Validated on
 * construction; every bad value raises an {@link IllegalArgumentException} that names the parameter, the value
 * and the allowed range.
 *
 * <pre>{@code
 * SamplingParams greedy = SamplingParams.greedy(128);
 * SamplingParams sampled = SamplingParams.builder().temperature(0.8).topP(0.95).seed(42).maxNewTokens(256).build();
 * }</pre>
 *
 * @param temperature  0 for greedy decoding, else the divisor of the logits: 0 or in [{@value #MIN_TEMPERATURE}, inf)
 * @param topK         keep only the {@code topK} most likely tokens; 0 disables; {@code >= 0}
 * @param topP         keep the smallest set of most likely tokens whose mass reaches {@code topP}; in (0, 1]
 * @param minP         drop tokens less likely than {@code minP} times the most likely one; in [0, 1)
 * @param seed         seed of the generation's random source (sampling and acceptance draws)
 * @param maxNewTokens the most tokens to generate; in [1, {@value #MAX_NEW_TOKENS_LIMIT}]
 * @param stopTokenIds token ids that end generation (in addition to the model's end-of-sequence ids); not emitted
 */
public record SamplingParams(double temperature, int topK, double topP, double minP, long seed, int maxNewTokens,
                             Set<Integer> stopTokenIds) {

    /** Smallest positive temperature: below it, scaled logits overflow float; use 0 for greedy decoding. */
    public static final double MIN_TEMPERATURE = 1e-4;

    /** Upper bound of {@code maxNewTokens}: a larger value is a bug, not a request. */
    public static final int MAX_NEW_TOKENS_LIMIT = 1 << 20;

    public SamplingParams {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        }
        if (temperature > 0 && temperature < MIN_TEMPERATURE) {
            throw new IllegalArgumentException("temperature must be 0 (greedy) or >= " + MIN_TEMPERATURE + ", got "
                    + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0 (0 = disabled), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1] (1 = disabled), got " + topP);
        }
        if (!(minP >= 0 && minP < 1)) {
            throw new IllegalArgumentException("minP must be in [0, 1) (0 = disabled), got " + minP);
        }
        if (maxNewTokens < 1 || maxNewTokens > MAX_NEW_TOKENS_LIMIT) {
            throw new IllegalArgumentException("maxNewTokens must be in [1, " + MAX_NEW_TOKENS_LIMIT + "], got " + maxNewTokens);
        }
        if (stopTokenIds == null) {
            throw new IllegalArgumentException("stopTokenIds must not be null (use an empty set)");
        }
        for (Integer id : stopTokenIds) {
            if (id == null || id < 0) {
                throw new IllegalArgumentException("stopTokenIds must hold token ids >= 0, got " + id);
            }
        }
        stopTokenIds = Set.copyOf(stopTokenIds);
    }

    /** Greedy decoding of at most {@code maxNewTokens} tokens. */
    public static SamplingParams greedy(int maxNewTokens) {
        return builder().maxNewTokens(maxNewTokens).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder().temperature(temperature).topK(topK).topP(topP).minP(minP).seed(seed)
                .maxNewTokens(maxNewTokens).stopTokenIds(stopTokenIds);
    }

    /** True for temperature 0: the most likely token is taken at every step. */
    public boolean isGreedy() {
        return temperature == 0;
    }

    /** Builder with the defaults of greedy decoding, seed 0 and 128 new tokens. */
    public static final class Builder {
        private double temperature = 0;
        private int topK = 0;
        private double topP = 1;
        private double minP = 0;
        private long seed = 0;
        private int maxNewTokens = 128;
        private Set<Integer> stopTokenIds = Set.of();

        private Builder() {
        }

        public Builder temperature(double temperature) {
            this.temperature = temperature;
            return this;
        }

        public Builder topK(int topK) {
            this.topK = topK;
            return this;
        }

        public Builder topP(double topP) {
            this.topP = topP;
            return this;
        }

        public Builder minP(double minP) {
            this.minP = minP;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public Builder maxNewTokens(int maxNewTokens) {
            this.maxNewTokens = maxNewTokens;
            return this;
        }

        public Builder stopTokenIds(Set<Integer> stopTokenIds) {
            this.stopTokenIds = stopTokenIds;
            return this;
        }

        public SamplingParams build() {
            return new SamplingParams(temperature, topK, topP, minP, seed, maxNewTokens, stopTokenIds);
        }
    }
}
