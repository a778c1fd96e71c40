package dev.specula.cli.bench;

import dev.specula.Completion;
import dev.specula.GenerationRequest;
import dev.specula.Specula;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.BatchScheduling;
import dev.specula.core.schedule.GoodputScheduler;
import dev.specula.core.schedule.Scheduling;
import dev.specula.onnx.OnnxModelOptions;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
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
        BATCHED_SPECULATIVE("batched, speculative (goodput)", true, true),
        /** Goodput scheduling by its cost model alone (measured steps never overrule it): an A/B comparison only. */
        BATCHED_SPECULATIVE_COST_MODEL("batched, speculative (goodput, cost model only)", true, true, false);

        final String label;
        final boolean batched;
        final boolean speculative;
        final boolean standard;

        Mode(String label, boolean batched, boolean speculative) {
            this(label, batched, speculative, true);
        }

        Mode(String label, boolean batched, boolean speculative, boolean standard) {
            this.label = label;
            this.batched = batched;
            this.speculative = speculative;
            this.standard = standard;
        }

        /** The mode's label in the table. */
        public String label() {
            return label;
        }

        /** Whether it runs by default (the others only when asked for by name). */
        public boolean standard() {
            return standard;
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
     * @param repeats          how many times the level ran (tokens/s is the median of the repeats; the percentiles
     *                         are over all their generations)
     * @param vsBatchedPlain   the median over repeats of this cell's tokens/s over batched plain decoding's in the
     *                         same repeat (NaN when batched plain did not run)
     */
    public record Cell(int streams, Mode mode, int generations, long tokens, double tokensPerSecond, double ttftP50,
                       double ttftP99, double tpotP50, double tpotP99, boolean identical, int repeats,
                       double vsBatchedPlain) {
    }

    /** One run of one mode at one level: per generation {ttft ms, tpot ms, tokens}, and the level's wall time. */
    private record Run(List<double[]> generations, double seconds, boolean identical) {
        double tokensPerSecond() {
            return generations.stream().mapToDouble(x -> x[2]).sum() / seconds;
        }
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
     * @param repeats     runs of every mode per level, interleaved (the order of the modes reversed every other
     *                    repeat), so that ratios between modes compare runs made close together
     * @param modes       the modes to run
     */
    public List<Cell> run(List<String> prompts, int[] levels, int tokens, int minPerLevel, int repeats,
                          List<Mode> modes, Consumer<String> log) throws Exception {
        if (repeats < 1) {
            throw new IllegalArgumentException("repeats must be >= 1, got " + repeats);
        }
        if (modes.isEmpty()) {
            throw new IllegalArgumentException("no modes to run; expected at least one of "
                    + Arrays.toString(Mode.values()));
        }
        int maxLevel = Arrays.stream(levels).max().orElse(1);
        List<Cell> cells = new ArrayList<>();
        Map<String, int[]> reference = new HashMap<>();
        boolean costModelOnly = modes.contains(Mode.BATCHED_SPECULATIVE_COST_MODEL);
        try (Specula independent = open(false, maxLevel, null); Specula batched = open(true, maxLevel, null);
             Specula costModel = costModelOnly ? open(true, maxLevel, BatchScheduling.goodputOr(Scheduling.adaptive(),
                     GoodputScheduler.Options.defaults().withMeasuredSteps(false))) : null) {
            SamplingParams params = SamplingParams.greedy(tokens);
            for (String p : prompts) {
                reference.put(p, independent.generate(GenerationRequest.builder(p).params(params).speculative(false)
                        .build()).tokenIds());
            }
            for (int n : levels) {
                Map<Mode, List<Run>> runs = new LinkedHashMap<>();
                modes.forEach(m -> runs.put(m, new ArrayList<>()));
                for (int r = 0; r < repeats; r++) {
                    List<Mode> order = new ArrayList<>(modes);
                    if (r % 2 == 1) {
                        Collections.reverse(order);
                    }
                    for (Mode mode : order) {
                        Specula s = mode == Mode.BATCHED_SPECULATIVE_COST_MODEL ? costModel
                                : mode.batched ? batched : independent;
                        Run run = level(s, mode, n, prompts, params, Math.max(1, (minPerLevel + n - 1) / n), reference);
                        log.accept(String.format("load: %d streams, %s, repeat %d: %.1f tokens/s", n, mode.label,
                                r + 1, run.tokensPerSecond()));
                        runs.get(mode).add(run);
                    }
                }
                for (Mode mode : modes) {
                    Cell c = cell(n, mode, runs.get(mode), runs.get(Mode.BATCHED_PLAIN));
                    log.accept(String.format("load: %d streams, %s: %.1f tokens/s (median of %d), %.2fx batched plain,"
                                    + " TTFT p50 %.0f ms, TPOT p50 %.1f ms", n, mode.label, c.tokensPerSecond(),
                            repeats, c.vsBatchedPlain(), c.ttftP50(), c.tpotP50()));
                    cells.add(c);
                }
            }
        }
        return cells;
    }

    private static Cell cell(int streams, Mode mode, List<Run> runs, List<Run> batchedPlain) {
        double[] rates = runs.stream().mapToDouble(Run::tokensPerSecond).sorted().toArray();
        double vsPlain = Double.NaN;
        if (batchedPlain != null) {
            double[] ratios = new double[runs.size()];
            for (int i = 0; i < ratios.length; i++) {
                ratios[i] = runs.get(i).tokensPerSecond() / batchedPlain.get(i).tokensPerSecond();
            }
            Arrays.sort(ratios);
            vsPlain = median(ratios);
        }
        List<double[]> all = new ArrayList<>();
        runs.forEach(r -> all.addAll(r.generations()));
        long tokens = all.stream().mapToLong(x -> (long) x[2]).sum();
        double[] ttft = all.stream().mapToDouble(x -> x[0]).sorted().toArray();
        double[] tpot = all.stream().mapToDouble(x -> x[1]).filter(x -> !Double.isNaN(x)).sorted().toArray();
        return new Cell(streams, mode, all.size(), tokens, median(rates), quantile(ttft, 0.5), quantile(ttft, 0.99),
                quantile(tpot, 0.5), quantile(tpot, 0.99), runs.stream().allMatch(Run::identical), runs.size(),
                vsPlain);
    }

    /** The median of sorted values. */
    static double median(double[] sorted) {
        int n = sorted.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private Specula open(boolean batching, int maxBatch, BatchScheduling scheduling) {
        Specula.Builder b = Specula.builder().target(target).targetOptions(targetOptions).draftOptions(draftOptions)
                .batching(batching).maxBatchSize(maxBatch);
        if (scheduling != null) {
            b.batchScheduling(scheduling);
        }
        if (draft != null) {
            b.draftModel(draft);
        }
        return b.build();
    }

    private static Run level(Specula specula, Mode mode, int streams, List<String> prompts, SamplingParams params,
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
            return new Run(all, seconds, identical[0]);
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

    /**
     * The cells as a markdown table, with each cell's throughput against independent speculative decoding and against
     * batched plain decoding (the median of the per-repeat ratios).
     */
    public static void printMarkdown(List<Cell> cells, PrintStream out) {
        out.println("| streams | serving | tokens/s | vs independent speculative | vs batched plain | TTFT p50 (ms)"
                + " | TTFT p99 (ms) | TPOT p50 (ms) | TPOT p99 (ms) | generations | identical to plain |");
        out.println("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        for (Cell c : cells) {
            double base = cells.stream().filter(x -> x.streams() == c.streams()
                    && x.mode() == Mode.INDEPENDENT_SPECULATIVE).mapToDouble(Cell::tokensPerSecond).findFirst()
                    .orElse(Double.NaN);
            out.printf("| %d | %s | %.1f | %s | %s | %.0f | %.0f | %.1f | %.1f | %d | %s |%n", c.streams(),
                    c.mode().label, c.tokensPerSecond(), ratio(c.tokensPerSecond() / base), ratio(c.vsBatchedPlain()),
                    c.ttftP50(), c.ttftP99(), c.tpotP50(), c.tpotP99(), c.generations(), c.identical() ? "yes" : "NO");
        }
    }

    private static String ratio(double r) {
        return Double.isNaN(r) ? "-" : String.format("%.2fx", r);
    }
}
