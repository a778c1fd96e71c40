package com.example.sparkbatch;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;

/**
 * Reads the prompts, generates on the executors with {@code mapPartitions} ({@link GeneratePartition}), writes the
 * results and summarizes them. The session is the caller's.
 *
 * <pre>{@code
 * BatchSummary s = BatchJob.run(spark, BatchOptions.parse("--input", "prompts.jsonl", "--output", "out"));
 * }</pre>
 */
public final class BatchJob {
    private BatchJob() {
    }

    /** What a job wrote: rows, rows with an error, and generated tokens over all rows. */
    public record BatchSummary(long rows, long errors, long generatedTokens) {
    }

    /** Runs the job and returns the summary of what it wrote. */
    public static BatchSummary run(SparkSession spark, BatchOptions options) {
        Dataset<Row> prompts = spark.read()
                .schema(BatchSchema.INPUT)
                .option("mode", "PERMISSIVE")
                .option("columnNameOfCorruptRecord", BatchSchema.CORRUPT_RECORD)
                .json(options.input());
        int partitions = options.partitions() > 0 ? options.partitions()
                : spark.sparkContext().defaultParallelism();
        Dataset<Row> results = prompts.repartition(partitions)
                .mapPartitions(new GeneratePartition(options.models(), options.maxTokens(), options.seed()),
                        Encoders.row(BatchSchema.OUTPUT));
        results.write()
                .mode(options.overwrite() ? SaveMode.Overwrite : SaveMode.ErrorIfExists)
                .format(options.format().sparkName())
                .save(options.output());
        Row totals = spark.read().schema(BatchSchema.OUTPUT).format(options.format().sparkName())
                .load(options.output())
                .agg(count(lit(1)), count(col("error")), coalesce(sum(col("generated_tokens")), lit(0L)))
                .first();
        return new BatchSummary(totals.getLong(0), totals.getLong(1), totals.getLong(2));
    }
}
