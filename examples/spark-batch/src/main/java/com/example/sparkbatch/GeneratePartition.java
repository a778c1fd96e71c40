package com.example.sparkbatch;

import dev.specula.Completion;
import dev.specula.Specula;
import dev.specula.core.decode.GenerationMetrics;
import dev.specula.core.sampling.SamplingParams;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

import java.util.Iterator;
import java.util.Locale;

/**
 * The {@code mapPartitions} function: generates one output row ({@link BatchSchema#OUTPUT}) per input row
 * ({@link BatchSchema#INPUT}) with the executor's shared {@link Specula} ({@link ExecutorSpecula}). Rows are
 * generated one at a time as Spark pulls them, so a partition never holds more than one completion in memory.
 *
 * <p>A row whose values are invalid becomes an error row and the job goes on; a failure of the models themselves
 * propagates and fails the task (Spark retries it). Sampled rows without a seed get one derived from the job's base
 * seed and the row's id, so a retried task writes the same text.
 */
public final class GeneratePartition implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;
    private static final int MAX_ERROR_LINE = 200;

    private final ModelSource models;
    private final int defaultMaxTokens;
    private final long baseSeed;

    /**
     * @param models           the models every executor loads (once per JVM)
     * @param defaultMaxTokens the length of a row without {@code max_tokens}; at least 1
     * @param baseSeed         mixed with a row's id into the seed of a sampled row without {@code seed}
     */
    public GeneratePartition(ModelSource models, int defaultMaxTokens, long baseSeed) {
        if (defaultMaxTokens < 1 || defaultMaxTokens > SamplingParams.MAX_NEW_TOKENS_LIMIT) {
            throw new IllegalArgumentException("default max tokens must be in [1, "
                    + SamplingParams.MAX_NEW_TOKENS_LIMIT + "], got " + defaultMaxTokens);
        }
        this.models = models;
        this.defaultMaxTokens = defaultMaxTokens;
        this.baseSeed = baseSeed;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
        Specula specula = ExecutorSpecula.get(models);
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return input.hasNext();
            }

            @Override
            public Row next() {
                return generate(specula, input.next());
            }
        };
    }

    /** The output row of one input row. */
    Row generate(Specula specula, Row in) {
        String id = in.getAs("id");
        String corrupt = in.getAs(BatchSchema.CORRUPT_RECORD);
        if (corrupt != null) {
            return error(id, "line is not a JSON object with id (string), prompt (string), max_tokens (integer),"
                    + " temperature (number), seed (integer): " + abbreviate(corrupt));
        }
        if (id == null) {
            return error(null, "missing \"id\" (every line needs one to match its output)");
        }
        String prompt = in.getAs("prompt");
        if (prompt == null) {
            return error(id, "missing \"prompt\"");
        }
        Integer maxTokens = in.getAs("max_tokens");
        Double temperature = in.getAs("temperature");
        Long seed = in.getAs("seed");
        try {
            SamplingParams.Builder params = SamplingParams.builder()
                    .maxNewTokens(maxTokens == null ? defaultMaxTokens : checkedMaxTokens(maxTokens));
            boolean sampled = temperature != null && temperature != 0;
            if (temperature != null) {
                params.temperature(temperature);
            }
            if (sampled) {
                params.seed(seed != null ? seed : derivedSeed(baseSeed, id));
            }
            Completion c = specula.generate(prompt, params.build());
            GenerationMetrics m = c.metrics();
            return RowFactory.create(id, c.text(), c.finishReason().name().toLowerCase(Locale.ROOT),
                    c.promptTokens(), m.generatedTokens(), m.targetCalls(), m.draftedTokens(), m.acceptedTokens(),
                    m.acceptanceRate(), m.meanTokensPerTargetCall(), m.meanDraftLength(), m.tokensPerSecond(),
                    m.totalNanos() / 1e6, sampled ? m.seed() : null, null);
        } catch (IllegalArgumentException e) {
            return error(id, e.getMessage());
        }
    }

    private static int checkedMaxTokens(int maxTokens) {
        if (maxTokens < 1 || maxTokens > SamplingParams.MAX_NEW_TOKENS_LIMIT) {
            throw new IllegalArgumentException("max_tokens must be in [1, " + SamplingParams.MAX_NEW_TOKENS_LIMIT
                    + "], got " + maxTokens);
        }
        return maxTokens;
    }

    /** A seed that depends only on the job's base seed and the row's id (SplitMix64's finalizer). */
    static long derivedSeed(long baseSeed, String id) {
        long z = baseSeed * 0x9E3779B97F4A7C15L + id.hashCode();
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static Row error(String id, String message) {
        return RowFactory.create(id, null, null, null, null, null, null, null, null, null, null, null, null, null,
                message);
    }

    private static String abbreviate(String line) {
        return line.length() <= MAX_ERROR_LINE ? line : line.substring(0, MAX_ERROR_LINE) + "...";
    }
}
