package dev.specula.cli;

import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingParams;
import picocli.CommandLine.Option;

import java.util.Map;

/** Sampling parameters of one generation. */
final class SamplingOptions {
    @Option(names = {"-n", "--max-new-tokens"}, paramLabel = "N", defaultValue = "128",
            description = "Most tokens to generate. Default: ${DEFAULT-VALUE}.")
    int maxNewTokens;

    @Option(names = {"--temp", "--temperature"}, paramLabel = "T", defaultValue = "0",
            description = "0 for greedy decoding, else the sampling temperature. Default: ${DEFAULT-VALUE}.")
    double temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "0",
            description = "Top-k filter, 0 = off. Default: ${DEFAULT-VALUE}.")
    int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "1",
            description = "Nucleus filter in (0, 1], 1 = off. Default: ${DEFAULT-VALUE}.")
    double topP;

    @Option(names = {"-s", "--seed"}, paramLabel = "S",
            description = "Random seed for sampling (the same seed gives the same tokens with or without a draft)."
                    + " Default: a fresh one, printed with the metrics.")
    Long seed;

    /**
     * The parameters; without {@code --seed} one fresh seed is drawn here, so that every run of the command
     * (warm-up, speculative, baseline) samples with the same one.
     *
     * @throws IllegalArgumentException naming the bad parameter (exit code 2)
     */
    SamplingParams params() {
        try {
            return SamplingParams.builder().maxNewTokens(maxNewTokens).temperature(temperature).topK(topK).topP(topP)
                    .seed(seed != null ? seed : KeyedNoise.freshSeed()).build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(withFlagName(e.getMessage()), e);
        }
    }

    /** SamplingParams' messages start with its parameter's Java name; the user typed the flag. */
    static String withFlagName(String message) {
        String name = message.substring(0, Math.max(0, message.indexOf(' ')));
        String flag = FLAGS.get(name);
        return flag == null ? message : flag + message.substring(name.length());
    }

    private static final Map<String, String> FLAGS = Map.of("maxNewTokens", "--max-new-tokens",
            "temperature", "--temperature", "topK", "--top-k", "topP", "--top-p");
}
