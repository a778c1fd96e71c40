package dev.specula.cli;

import dev.specula.Completion;
import dev.specula.GenerationRequest;
import dev.specula.Specula;
import dev.specula.core.sampling.SamplingParams;
import org.apache.commons.math3.stat.regression.SimpleRegression;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * {@code specula soak}: many short generations over shared models, sampling resident memory and open file
 * descriptors as it goes; prints their slopes after the warm-up half. Flat means nothing native leaks.
 */
@Command(name = "soak", mixinStandardHelpOptions = true,
        description = "Run many short generations and report resident memory and open file descriptors over time.")
final class SoakCommand implements Callable<Integer> {
    private static final double MAX_FD_SLOPE = 5; // descriptors per 1000 generations

    private static final List<String> PROMPTS = List.of("def f(x):\n", "class A:\n    def __init__(self):\n",
            "import os\n", "    return self.", "for i in range(", "try:\n    import");

    @Mixin
    ModelOptions models;

    @Option(names = "--generations", paramLabel = "N", defaultValue = "10000",
            description = "Generations to run. Default: ${DEFAULT-VALUE}.")
    int generations;

    @Option(names = {"-n", "--max-new-tokens"}, paramLabel = "N", defaultValue = "16",
            description = "Tokens per generation. Default: ${DEFAULT-VALUE}.")
    int maxNewTokens;

    @Option(names = "--samples", paramLabel = "N", defaultValue = "50",
            description = "Measurements over the run. Default: ${DEFAULT-VALUE}.")
    int samples;

    @Option(names = "--max-rss-slope-kib", paramLabel = "KIB", defaultValue = "-1",
            description = "Fail (exit 1) if resident memory grows faster than this many KiB per 1000 generations"
                    + " after the warm-up half, or open file descriptors by more than 5; -1 only reports."
                    + " Default: ${DEFAULT-VALUE}.")
    double maxSlope;

    @Option(names = "--verbose", description = "Print stack traces of errors.")
    boolean verbose;

    @Override
    public Integer call() {
        if (generations < 2 || samples < 2 || samples > generations) {
            throw new IllegalArgumentException("need 2 <= --samples <= --generations, got " + samples + " and " + generations);
        }
        PrintStream out = System.out;
        SimpleRegression rss = new SimpleRegression();
        SimpleRegression fds = new SimpleRegression();
        int every = generations / samples;
        long start = System.nanoTime();
        long tokens = 0;
        try (Specula specula = models.open()) {
            out.println("generation,rss_kib,open_fds,heap_used_kib,seconds");
            for (int g = 1; g <= generations; g++) {
                SamplingParams params = g % 3 == 0
                        ? SamplingParams.builder().temperature(0.8).seed(g).maxNewTokens(maxNewTokens).build()
                        : SamplingParams.greedy(maxNewTokens);
                Completion c = specula.generate(GenerationRequest.builder(PROMPTS.get(g % PROMPTS.size()))
                        .params(params).speculative(g % 5 != 0).build());
                tokens += c.tokenIds().length;
                if (g % every == 0) {
                    // Collect first: garbage the JVM has not yet collected is not a leak, what survives is.
                    System.gc();
                    long r = residentKib();
                    int f = openFileDescriptors();
                    Runtime rt = Runtime.getRuntime();
                    out.printf(Locale.ROOT, "%d,%d,%d,%d,%.1f%n", g, r, f, (rt.totalMemory() - rt.freeMemory()) / 1024,
                            (System.nanoTime() - start) / 1e9);
                    if (g > generations / 2) {
                        rss.addData(g, r);
                        fds.addData(g, f);
                    }
                }
            }
        }
        double rssSlope = rss.getN() >= 2 ? rss.getSlope() * 1000 : 0;
        double fdSlope = fds.getN() >= 2 ? fds.getSlope() * 1000 : 0;
        out.printf(Locale.ROOT, "summary: %d generations, %d tokens in %.0f s; after the warm-up half: resident memory"
                        + " slope %.1f KiB per 1000 generations, open file descriptors slope %.2f per 1000 generations%n",
                generations, tokens, (System.nanoTime() - start) / 1e9, rssSlope, fdSlope);
        // A descriptor open for a moment while a sample is taken (the JVM's, the allocator's) shows as 14 vs 15 and
        // a slope of 1-2 per 1000 generations over a short run; a leak of one per generation shows as 1000.
        if (maxSlope >= 0 && (rssSlope > maxSlope || fdSlope > MAX_FD_SLOPE)) {
            System.err.println("error: resources grow: " + String.format(Locale.ROOT, "%.1f KiB and %.2f descriptors"
                    + " per 1000 generations", rssSlope, fdSlope));
            return SpeculaCli.EXIT_FAILURE;
        }
        return 0;
    }

    static long residentKib() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmRSS"))
                    .map(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElse(-1L);
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    static int openFileDescriptors() {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        } catch (IOException e) {
            return -1;
        }
    }
}
