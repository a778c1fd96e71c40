package dev.specula.benchmarks;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * The states of {@link SamplingBenchmark} and {@link AcceptanceBenchmark} timed in thread CPU time rather than
 * wall time: on a machine shared with other busy processes, JMH's wall-clock averages mostly measure how often
 * the thread was descheduled, while CPU time per operation stays comparable from run to run. Prints the median
 * and the minimum over 21 batches of 40 operations, after 1.5 s of warm-up per case.
 *
 * <pre>{@code
 * java -cp benchmarks/target/specula-benchmarks.jar dev.specula.benchmarks.RowCpuTime [sampling|acceptance]
 * }</pre>
 */
public final class RowCpuTime {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final String[] SETTINGS = {"greedy", "t0.8", "t0.8-topk40", "t0.8-topp0.9", "t0.8-minp0.05",
            "t0.8-topk40-topp0.9-minp0.05"};
    private static final int[] VOCABS = {32000, 151936};
    private static volatile Object sink;

    private RowCpuTime() {
    }

    public static void main(String[] args) {
        String which = args.length > 0 ? args[0] : "all";
        if (!which.equals("acceptance")) {
            for (int vocab : VOCABS) {
                for (String setting : SETTINGS) {
                    SamplingBenchmark b = new SamplingBenchmark();
                    b.setting = setting;
                    b.vocab = vocab;
                    b.setup();
                    report("SamplingBenchmark.transform " + setting + " vocab " + vocab, b::transform);
                }
            }
        }
        if (!which.equals("sampling")) {
            for (int vocab : VOCABS) {
                for (String rule : new String[]{"greedy", "sampling", "one-hot", "coupled"}) {
                    for (int k = 1; k <= 8; k++) {
                        AcceptanceBenchmark b = new AcceptanceBenchmark();
                        b.rule = rule;
                        b.k = k;
                        b.vocab = vocab;
                        b.setup();
                        report("AcceptanceBenchmark.decide " + rule + " k " + k + " vocab " + vocab, b::decide);
                    }
                }
            }
        }
    }

    private static void report(String name, Supplier<Object> op) {
        long warmEnd = System.nanoTime() + 1_500_000_000L;
        for (int i = 0; i < 500 || System.nanoTime() < warmEnd; i++) {
            sink = op.get();
        }
        double[] microsPerOp = new double[21];
        for (int b = 0; b < microsPerOp.length; b++) {
            long start = THREADS.getCurrentThreadCpuTime();
            for (int i = 0; i < 40; i++) {
                sink = op.get();
            }
            microsPerOp[b] = (THREADS.getCurrentThreadCpuTime() - start) / 1e3 / 40;
        }
        Arrays.sort(microsPerOp);
        System.out.printf("%-66s median %9.1f us   min %9.1f us%n", name, microsPerOp[microsPerOp.length / 2],
                microsPerOp[0]);
    }
}
