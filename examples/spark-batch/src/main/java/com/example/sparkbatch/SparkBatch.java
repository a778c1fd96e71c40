package com.example.sparkbatch;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * Offline generation over a JSON Lines file of prompts with Apache Spark, speculative decoding on every executor.
 *
 * <pre>
 * mvn -q -B package -DskipTests -Pspark-submit -pl examples/spark-batch -am
 * spark-submit --class com.example.sparkbatch.SparkBatch examples/spark-batch/target/specula-spark-batch.jar \
 *     --input prompts.jsonl --output results
 * </pre>
 *
 * Without {@code spark.master} (not started by spark-submit) it runs in local mode on every core. See
 * {@link BatchOptions#USAGE} for the options. Exit status: 0 when the job ran (rows with an error included), 2 for
 * invalid arguments; a failed job throws.
 */
public final class SparkBatch {
    private SparkBatch() {
    }

    public static void main(String[] args) {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
            System.out.print(BatchOptions.USAGE);
            return;
        }
        BatchOptions options;
        try {
            options = BatchOptions.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("error: " + e.getMessage());
            System.err.print(BatchOptions.USAGE);
            System.exit(2);
            return;
        }
        SparkConf conf = new SparkConf().setAppName("specula-batch").setIfMissing("spark.master", "local[*]");
        SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
        try {
            long start = System.nanoTime();
            BatchJob.BatchSummary s = BatchJob.run(spark, options);
            System.out.printf("%d rows (%d with an error), %d tokens generated with %s, in %.1f s -> %s%n",
                    s.rows(), s.errors(), s.generatedTokens(), options.models(), (System.nanoTime() - start) / 1e9,
                    options.output());
        } finally {
            spark.stop();
            ExecutorSpecula.closeAll(); // in local mode the executors were this JVM
        }
    }
}
