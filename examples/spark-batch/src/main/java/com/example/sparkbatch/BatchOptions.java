package com.example.sparkbatch;

import java.util.Locale;
import java.util.Objects;

/**
 * What one batch job does.
 *
 * @param input      the JSON Lines file (or directory of them) of prompts, see {@link BatchSchema#INPUT}
 * @param output     the directory Spark writes the results into, see {@link BatchSchema#OUTPUT}
 * @param format     the output format
 * @param models     the models every executor loads
 * @param maxTokens  tokens generated for a line without {@code max_tokens}
 * @param seed       base seed of sampled lines without {@code seed}
 * @param partitions how many partitions to spread the prompts over; 0 for Spark's default parallelism
 * @param overwrite  whether to replace an existing output directory
 */
public record BatchOptions(String input, String output, OutputFormat format, ModelSource models, int maxTokens,
                           long seed, int partitions, boolean overwrite) {

    /** The help text of {@link #parse}. */
    public static final String USAGE = """
            Usage: SparkBatch --input PROMPTS.jsonl --output DIR [options]
              --input PATH        JSON Lines of {"id": ..., "prompt": ..., "max_tokens": n, "temperature": t, "seed": s};
                                  id and prompt required
              --output DIR        where Spark writes the results (one part file per partition)
              --format FORMAT     json (JSON Lines) or parquet (default: json)
              --target DIR        target model directory on every executor (default: the embedded pair)
              --draft DIR         draft model directory, with --target (default: none, prompt lookup only)
              --no-prompt-lookup  draft with the draft model only
              --max-tokens N      tokens per line without max_tokens (default: 128)
              --seed N            base seed of sampled lines without a seed (default: 0)
              --partitions N      partitions to spread the prompts over (default: Spark's default parallelism)
              --overwrite         replace DIR if it exists (default: fail)
            """;

    public BatchOptions {
        Objects.requireNonNull(input, "input path is required (--input)");
        Objects.requireNonNull(output, "output directory is required (--output)");
        Objects.requireNonNull(format, "format is required (--format json|parquet)");
        Objects.requireNonNull(models, "models are required");
        if (maxTokens < 1) {
            throw new IllegalArgumentException("--max-tokens must be >= 1, got " + maxTokens);
        }
        if (partitions < 0) {
            throw new IllegalArgumentException("--partitions must be >= 1 (or absent for the default), got "
                    + partitions);
        }
    }

    /** How results are written. */
    public enum OutputFormat {
        JSON, PARQUET;

        /** Spark's name of this data source. */
        public String sparkName() {
            return name().toLowerCase(Locale.ROOT);
        }

        static OutputFormat parse(String value) {
            for (OutputFormat f : values()) {
                if (f.sparkName().equals(value)) {
                    return f;
                }
            }
            throw new IllegalArgumentException("--format must be json or parquet, got '" + value + "'");
        }
    }

    /**
     * Parses command-line arguments.
     *
     * @throws IllegalArgumentException naming the flag, when an argument is unknown, missing or invalid
     */
    public static BatchOptions parse(String... args) {
        String input = null;
        String output = null;
        OutputFormat format = OutputFormat.JSON;
        String target = null;
        String draft = null;
        boolean promptLookup = true;
        int maxTokens = 128;
        long seed = 0;
        int partitions = 0;
        boolean overwrite = false;
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            switch (flag) {
                case "--input" -> input = value(args, ++i, flag);
                case "--output" -> output = value(args, ++i, flag);
                case "--format" -> format = OutputFormat.parse(value(args, ++i, flag));
                case "--target" -> target = value(args, ++i, flag);
                case "--draft" -> draft = value(args, ++i, flag);
                case "--no-prompt-lookup" -> promptLookup = false;
                case "--max-tokens" -> maxTokens = (int) number(args, ++i, flag, 1, Integer.MAX_VALUE);
                case "--seed" -> seed = number(args, ++i, flag, Long.MIN_VALUE, Long.MAX_VALUE);
                case "--partitions" -> partitions = (int) number(args, ++i, flag, 1, Integer.MAX_VALUE);
                case "--overwrite" -> overwrite = true;
                default -> throw new IllegalArgumentException("unknown argument '" + flag + "'; expected one of"
                        + " --input --output --format --target --draft --no-prompt-lookup --max-tokens --seed"
                        + " --partitions --overwrite");
            }
        }
        if (input == null || output == null) {
            throw new IllegalArgumentException((input == null ? "--input" : "--output") + " is required");
        }
        if (draft != null && target == null) {
            throw new IllegalArgumentException("--draft " + draft + " needs --target too (without both, the"
                    + " embedded pair is used)");
        }
        ModelSource models = target == null ? new ModelSource(null, null, promptLookup)
                : new ModelSource(target, draft, promptLookup);
        return new BatchOptions(input, output, format, models, maxTokens, seed, partitions, overwrite);
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return args[i];
    }

    private static long number(String[] args, int i, String flag, long min, long max) {
        String v = value(args, i, flag);
        long n;
        try {
            n = Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " must be an integer, got '" + v + "'", e);
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException(flag + " must be in [" + min + ", " + max + "], got " + n);
        }
        return n;
    }
}
