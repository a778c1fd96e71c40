package dev.specula.cli;

import dev.specula.cli.bench.LoadBench;
import dev.specula.cli.bench.Workload;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.OnnxModelOptions;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * {@code specula bench --workloads load}: the concurrent-streams benchmark ({@link LoadBench}) with the bench
 * command's model options; prints a markdown table and, with {@code --report DIR}, writes it to DIR/load.md.
 */
final class LoadBenchCommand {
    private LoadBenchCommand() {
    }

    static int run(BenchCommand options) throws IOException {
        if (options.workloads.size() != 1) {
            throw new IllegalArgumentException("--workloads load runs on its own; got " + options.workloads);
        }
        Path targetDir = options.target != null ? options.target : EmbeddedModels.target();
        Path draftDir = options.draftModel != null ? options.draftModel
                : options.target == null ? EmbeddedModels.draft() : null;
        OnnxModelOptions targetOptions = options.targetOptions();
        OnnxModelOptions draftOptions = options.draftOptions();
        List<String> prompts = Workload.load(List.of("code"), false, 0).get(0).prompts();
        int[] levels = options.streams != null ? options.streams.stream().mapToInt(Integer::intValue).toArray()
                : options.quick ? new int[]{1, 4} : new int[]{1, 4, 16, 64};
        for (int level : levels) {
            if (level < 1) {
                throw new IllegalArgumentException("--streams must list levels >= 1, got " + options.streams);
            }
        }
        Pattern filter = options.configs == null ? null : Pattern.compile(options.configs);
        List<LoadBench.Mode> modes = Arrays.stream(LoadBench.Mode.values())
                .filter(m -> filter == null ? m.standard() : filter.matcher(m.label()).find()).toList();
        if (modes.isEmpty()) {
            throw new IllegalArgumentException("--configs '" + options.configs + "' matches no load mode; modes: "
                    + Arrays.stream(LoadBench.Mode.values()).map(LoadBench.Mode::label).toList());
        }
        int repeats = options.quick ? 1 : options.repeats;
        int tokens = options.maxNewTokens > 0 ? options.maxNewTokens : options.quick ? 24 : 64;
        int minPerLevel = options.quick ? 4 : 8;
        long start = System.nanoTime();
        List<LoadBench.Cell> cells;
        try {
            cells = new LoadBench(targetDir, draftDir, targetOptions, draftOptions)
                    .run(prompts, levels, tokens, minPerLevel, repeats, modes, System.err::println);
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("load benchmark failed: " + e, e);
        }
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        try (PrintStream md = new PrintStream(buffer, true, StandardCharsets.UTF_8)) {
            md.println("## Concurrent streams (`specula bench --workloads load`)");
            md.println();
            md.printf("Greedy, %d new tokens per generation, the code workload's %d prompts cycled over the streams;"
                    + " at least %d generations per level; %d repeat(s), the modes interleaved. %s, %d cores"
                    + " available, spinning %s, %s; %.0f s.%n%n", tokens,
                    prompts.size(), minPerLevel, repeats, Instant.now(), Runtime.getRuntime().availableProcessors(),
                    targetOptions.spinning().name().toLowerCase(java.util.Locale.ROOT),
                    System.getProperty("java.vm.name") + " " + System.getProperty("java.version"),
                    (System.nanoTime() - start) / 1e9);
            LoadBench.printMarkdown(cells, md);
        }
        String text = buffer.toString(StandardCharsets.UTF_8);
        System.out.print(text);
        if (options.report != null) {
            Files.createDirectories(options.report);
            Files.writeString(options.report.resolve("load.md"), text);
            System.err.println("report written to " + options.report.resolve("load.md"));
        }
        boolean identical = cells.stream().allMatch(LoadBench.Cell::identical);
        if (!identical) {
            System.err.println("error: a stream's output differed from independent plain decoding");
            return SpeculaCli.EXIT_FAILURE;
        }
        return 0;
    }
}
