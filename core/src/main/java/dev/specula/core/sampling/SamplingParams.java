package dev.specula.core.sampling;

import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;

/**
 * How tokens are chosen: the sampling transform's parameters, the sampling mode, the seed, and when to stop.
 * Validated on construction; every bad value raises an {@link IllegalArgumentException} that names the
 * parameter, the value and the allowed range.
 *
 * <p>Without a seed, every generation draws a fresh one ({@link KeyedNoise#freshSeed}) and reports it in its
 * metrics, so that any output can be replayed by passing that seed back.
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
 * @param seed         the seed of the generation's keyed noise (sampling and acceptance draws); empty: a fresh
 *                     seed per generation
 * @param mode         how sampled tokens are drawn and drafts verified (ignored when greedy)
 * @param maxNewTokens the most tokens to generate; in [1, {@value #MAX_NEW_TOKENS_LIMIT}]
 * @param stopTokenIds token ids that end generation (in addition to the model's end-of-sequence ids); not emitted
 */
public record SamplingParams(double temperature, int topK, double topP, double minP, OptionalLong seed,
                             SamplingMode mode, int maxNewTokens, Set<Integer> stopTokenIds) {

    /** Smallest positive temperature: below it, scaled logits overflow float; use 0 for greedy decoding. */
    public static final double MIN_TEMPERATURE = 1e-4;

    /** Upper bound of {@code maxNewTokens}: a larger value is a bug, not a request. */
    public static final int MAX_NEW_TOKENS_LIMIT = 1 << 20;

    /**
     * The mode of a builder that sets none: {@link SamplingMode#COUPLED}, because a seed then pins the output
     * whatever drafter, draft length and scheduler run, and equal to plain decoding's, which tests, caches,
     * evaluations and bug reports rely on (with rejection sampling, an adaptive scheduler that picks k from measured
     * time makes the text of a seed change from run to run). It costs acceptance: on the embedded pair's sampled
     * workload (the benchmark's 8 prompts, T = 0.8, 128 tokens, model draft, 5 seeds each) a draft token was
     * accepted with probability 0.63 coupled against 0.68 with rejection sampling at k = 1 (0.44 vs 0.46 per token
     * at k = 3, 0.32 vs 0.36 at k = 5), i.e. 2.29 vs 2.37 tokens per target call at k = 3 and 2.58 vs 2.75 at
     * k = 5: 3-6% fewer. Choose {@link SamplingMode#REJECTION} for those tokens when reproducing a seed across
     * configurations does not matter.
     */
    public static final SamplingMode DEFAULT_MODE = SamplingMode.COUPLED;

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
        Objects.requireNonNull(seed, "seed must not be null (use OptionalLong.empty() for a fresh seed per generation)");
        Objects.requireNonNull(mode, "mode must not be null (e.g. SamplingMode.COUPLED)");
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
        return new Builder().temperature(temperature).topK(topK).topP(topP).minP(minP).seed(seed).mode(mode)
                .maxNewTokens(maxNewTokens).stopTokenIds(stopTokenIds);
    }

    /** True for temperature 0: the most likely token is taken at every step. */
    public boolean isGreedy() {
        return temperature == 0;
    }

    /** Builder with the defaults of greedy decoding, no seed (a fresh one per generation), {@link #DEFAULT_MODE}
     * and 128 new tokens. */
    public static final class Builder {
        private double temperature = 0;
        private int topK = 0;
        private double topP = 1;
        private double minP = 0;
        private OptionalLong seed = OptionalLong.empty();
        private SamplingMode mode = DEFAULT_MODE;
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

        /** The seed: the same seed, prompt and parameters give the same output. */
        public Builder seed(long seed) {
            this.seed = OptionalLong.of(seed);
            return this;
        }

        /** The seed, or none (empty): each generation then draws a fresh one and reports it in its metrics. */
        public Builder seed(OptionalLong seed) {
            this.seed = seed;
            return this;
        }

        public Builder mode(SamplingMode mode) {
            this.mode = mode;
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
            return new SamplingParams(temperature, topK, topP, minP, seed, mode, maxNewTokens, stopTokenIds);
        }
    }
}
