package dev.specula.cli.bench;

import dev.specula.Completion;
import dev.specula.GenerationRequest;
import dev.specula.Specula;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.onnx.OnnxModelOptions;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * {@code specula bench --workloads load}: N concurrent streams in one process, each a greedy generation of the code
 * workload's prompts, for N in 1, 4, 16 and 64, in four ways: independent generations on their own threads (plain, and
 * speculative with the adaptive scheduler: what {@code generate} did before batching), and generations batched by one
 * engine thread (plain, and speculative with goodput scheduling). Reports aggregate tokens/s, time to first token and
 * time per output token (p50, p99), and whether every output equals the independent plain one.
 */
public final class LoadBench {
    /** How the streams are served. */
    public enum Mode {
        INDEPENDENT_PLAIN("independent, plain", false, false),
        INDEPENDENT_SPECULATIVE("independent, speculative (adaptive)", false, true),
        BATCHED_PLAIN("batched, plain", true, false),
        BATCHED_SPECULATIVE("batched, speculative (goodput)", true, true);

        final String label;
        final boolean batched;
        final boolean speculative;

        Mode(String label, boolean batched, boolean speculative) {
            this.label = label;
            this.batched = batched;
            this.speculative = speculative;
        }
    }

    /**
     * One cell of the table.
     *
     * @param streams          concurrent streams
     * @param mode             how they were served
     * @param generations      generations measured
     * @param tokens           tokens generated in all
     * @param tokensPerSecond  aggregate: all tokens over the wall time of the whole level
     * @param ttftP50          time to first token, median, milliseconds
     * @param ttftP99          time to first token, 99th percentile (nearest rank), milliseconds
     * @param tpotP50          time per output token after the first, median, milliseconds
     * @param tpotP99          time per output token, 99th percentile, milliseconds
     * @param identical        whether every output equalled the independent plain output of its prompt
     */
    public record Cell(int streams, Mode mode, int generations, long tokens, double tokensPerSecond, double ttftP50,
                       double ttftP99, double tpotP50, double tpotP99, boolean identical) {
    }

    private final Path target;
    private final Path draft;
    private final OnnxModelOptions targetOptions;
    private final OnnxModelOptions draftOptions;

    public LoadBench(Path target, Path draft, OnnxModelOptions targetOptions, OnnxModelOptions draftOptions) {
        this.target = Objects.requireNonNull(target, "target");
        this.draft = draft;
        this.targetOptions = targetOptions;
        this.draftOptions = draftOptions;
    }

    /**
     * Runs every level and mode.
     *
     * @param prompts     the prompts, cycled over the streams
     * @param levels      the concurrency levels
     * @param tokens      new tokens per generation (greedy)
     * @param minPerLevel generations per level at least (a level of N streams runs ceil(min / N) rounds)
     */
    public List<Cell> run(List<String> prompts, int[] levels, int tokens, int minPerLevel, Consumer<String> log)
            throws Exception {
        int maxLevel = Arrays.stream(levels).max().orElse(1);
        List<Cell> cells = new ArrayList<>();
        Map<String, int[]> reference = new HashMap<>();
        try (Specula independent = open(false, maxLevel); Specula batched = open(true, maxLevel)) {
            SamplingParams params = SamplingParams.greedy(tokens);
            for (String p : prompts) {
                reference.put(p, independent.generate(GenerationRequest.builder(p).params(params).speculative(false)
                        .build()).tokenIds());
            }
            for (int n : levels) {
                for (Mode mode : Mode.values()) {
                    Specula s = mode.batched ? batched : independent;
                    Cell c = level(s, mode, n, prompts, params, Math.max(1, (minPerLevel + n - 1) / n), reference);
                    log.accept(String.format("load: %d streams, %s: %.1f tokens/s, TTFT p50 %.0f ms, TPOT p50 %.1f ms",
                            n, mode.label, c.tokensPerSecond(), c.ttftP50(), c.tpotP50()));
                    cells.add(c);
                }
            }
        }
        return cells;
    }

    private Specula open(boolean batching, int maxBatch) {
        Specula.Builder b = Specula.builder().target(target).targetOptions(targetOptions).draftOptions(draftOptions)
                .batching(batching).maxBatchSize(maxBatch);
        if (draft != null) {
            b.draftModel(draft);
        }
        return b.build();
    }

    private static Cell level(Specula specula, Mode mode, int streams, List<String> prompts, SamplingParams params,
                              int rounds, Map<String, int[]> reference) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(streams);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<List<double[]>>> futures = new ArrayList<>();
            boolean[] identical = {true};
            for (int i = 0; i < streams; i++) {
                int client = i;
                futures.add(pool.submit(() -> {
                    go.await();
                    List<double[]> out = new ArrayList<>();
                    for (int r = 0; r < rounds; r++) {
                        String prompt = prompts.get((client + r * streams) % prompts.size());
                        long[] first = {0};
                        long t0 = System.nanoTime();
                        Completion c = specula.generate(GenerationRequest.builder(prompt).params(params)
                                .speculative(mode.speculative).batched(mode.batched)
                                .listener((text, fromDraft) -> {
                                    if (first[0] == 0) {
                                        first[0] = System.nanoTime();
                                    }
                                }).build());
                        long t1 = System.nanoTime();
                        int n = c.tokenIds().length;
                        double ttft = ((first[0] == 0 ? t1 : first[0]) - t0) / 1e6;
                        double tpot = n > 1 ? (t1 - (first[0] == 0 ? t1 : first[0])) / 1e6 / (n - 1) : Double.NaN;
                        if (!Arrays.equals(reference.get(prompt), c.tokenIds())) {
                            synchronized (identical) {
                                identical[0] = false;
                            }
                        }
                        out.add(new double[]{ttft, tpot, n});
                    }
                    return out;
                }));
            }
            long start = System.nanoTime();
            go.countDown();
            List<double[]> all = new ArrayList<>();
            for (Future<List<double[]>> f : futures) {
                all.addAll(f.get());
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            long tokens = all.stream().mapToLong(x -> (long) x[2]).sum();
            double[] ttft = all.stream().mapToDouble(x -> x[0]).sorted().toArray();
            double[] tpot = all.stream().mapToDouble(x -> x[1]).filter(x -> !Double.isNaN(x)).sorted().toArray();
            return new Cell(streams, mode, all.size(), tokens, tokens / seconds, quantile(ttft, 0.5),
                    quantile(ttft, 0.99), quantile(tpot, 0.5), quantile(tpot, 0.99), identical[0]);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Nearest-rank quantile of sorted values; NaN when empty. */
    static double quantile(double[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(q * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    /** The cells as a markdown table, with each cell's throughput against independent speculative decoding. */
    public static void printMarkdown(List<Cell> cells, PrintStream out) {
        out.println("| streams | serving | tokens/s | vs independent speculative | TTFT p50 (ms) | TTFT p99 (ms)"
                + " | TPOT p50 (ms) | TPOT p99 (ms) | generations | identical to plain |");
        out.println("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|");
        for (Cell c : cells) {
            double base = cells.stream().filter(x -> x.streams() == c.streams()
                    && x.mode() == Mode.INDEPENDENT_SPECULATIVE).mapToDouble(Cell::tokensPerSecond).findFirst()
                    .orElse(Double.NaN);
            out.printf("| %d | %s | %.1f | %.2fx | %.0f | %.0f | %.1f | %.1f | %d | %s |%n", c.streams(), c.mode().label,
                    c.tokensPerSecond(), c.tokensPerSecond() / base, c.ttftP50(), c.ttftP99(), c.tpotP50(), c.tpotP99(),
                    c.generations(), c.identical() ? "yes" : "NO");
        }
    }
}
