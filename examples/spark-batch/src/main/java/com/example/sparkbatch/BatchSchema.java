package com.example.sparkbatch;

import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/** The columns a batch job reads and writes. */
public final class BatchSchema {
    /** Where Spark puts an input line it could not parse into {@link #INPUT}'s columns. */
    public static final String CORRUPT_RECORD = "_corrupt_record";

    /**
     * One prompt per JSON line: {@code {"id": "a1", "prompt": "def f(x):", "max_tokens": 64, "temperature": 0.8,
     * "seed": 7}}; {@code id} and {@code prompt} are required, the rest optional (greedy and the job's default
     * length when absent).
     */
    public static final StructType INPUT = new StructType(new StructField[]{
            DataTypes.createStructField("id", DataTypes.StringType, true),
            DataTypes.createStructField("prompt", DataTypes.StringType, true),
            DataTypes.createStructField("max_tokens", DataTypes.IntegerType, true),
            DataTypes.createStructField("temperature", DataTypes.DoubleType, true),
            DataTypes.createStructField("seed", DataTypes.LongType, true),
            DataTypes.createStructField(CORRUPT_RECORD, DataTypes.StringType, true)});

    /**
     * One row per input line. A row that could not be generated (a malformed line, a missing field, an invalid
     * value) has {@code error} set and no text or metrics; every other row has {@code error} null. {@code seed} is
     * the seed of a sampled row (replay it by passing it back) and null for a greedy one.
     */
    public static final StructType OUTPUT = new StructType(new StructField[]{
            DataTypes.createStructField("id", DataTypes.StringType, true),
            DataTypes.createStructField("text", DataTypes.StringType, true),
            DataTypes.createStructField("finish_reason", DataTypes.StringType, true),
            DataTypes.createStructField("prompt_tokens", DataTypes.IntegerType, true),
            DataTypes.createStructField("generated_tokens", DataTypes.IntegerType, true),
            DataTypes.createStructField("target_calls", DataTypes.IntegerType, true),
            DataTypes.createStructField("drafted_tokens", DataTypes.IntegerType, true),
            DataTypes.createStructField("accepted_tokens", DataTypes.IntegerType, true),
            DataTypes.createStructField("acceptance_rate", DataTypes.DoubleType, true),
            DataTypes.createStructField("tokens_per_target_call", DataTypes.DoubleType, true),
            DataTypes.createStructField("mean_draft_length", DataTypes.DoubleType, true),
            DataTypes.createStructField("tokens_per_second", DataTypes.DoubleType, true),
            DataTypes.createStructField("duration_ms", DataTypes.DoubleType, true),
            DataTypes.createStructField("seed", DataTypes.LongType, true),
            DataTypes.createStructField("error", DataTypes.StringType, true)});

    private BatchSchema() {
    }
}
