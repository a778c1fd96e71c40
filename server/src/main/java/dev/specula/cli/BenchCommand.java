package dev.specula.cli;

import dev.specula.cli.bench.BenchConfig;
import dev.specula.cli.bench.BenchReport;
import dev.specula.cli.bench.BenchRunner;
import dev.specula.cli.bench.ConfigSummary;
import dev.specula.cli.bench.Measurement;
import dev.specula.cli.bench.SchedulerComparison;
import dev.specula.cli.bench.Workload;
import dev.specula.core.schedule.CostCalibration;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.HfTokenizer;
import dev.specula.onnx.OnnxCausalLM;
import dev.specula.onnx.OnnxModelOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;

/** {@code specula bench}: end-to-end speedup of every configuration against plain decoding, in one run. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure tokens/s of drafters and draft-length policies against plain decoding of the same"
                + " target (interleaved, medians, identical-output check).")
final class BenchCommand implements Callable<Integer> {

    @Option(names = {"-m", "--target"}, paramLabel = "DIR",
            description = "Target model directory. Default: the embedded pair.")
    Path target;

    @Option(names = {"-md", "--draft-model"}, paramLabel = "DIR",
            description = "Draft model directory. Default: the embedded draft with the embedded target, none otherwise.")
    Path draftModel;

    @Option(names = "--workloads", paramLabel = "LIST", split = ",", defaultValue = "code,edit,sampled",
            description = "Workloads: code, edit, sampled; or load (1, 4, 16 and 64 concurrent streams, independent"
                    + " and batched). Default: ${DEFAULT-VALUE}.")
    List<String> workloads;

    @Option(names = "--configs", paramLabel = "REGEX",
            description = "Only configurations whose name matches (plain decoding always runs), e.g. 'model/.*'."
                    + " With --workloads load: the serving modes whose label matches, e.g. 'batched' (also runs"
                    + " 'batched, speculative (goodput, cost model only)', an A/B mode that runs only when named).")
    String configs;

    @Option(names = "--repeats", paramLabel = "N", defaultValue = "3", description = "Repeats. Default: ${DEFAULT-VALUE}.")
    int repeats;

    @Option(names = "--streams", paramLabel = "LIST", split = ",",
            description = "With --workloads load: the concurrency levels. Default: 1,4,16,64 (1,4 with --quick).")
    List<Integer> streams;

    @Option(names = {"-n", "--max-new-tokens"}, paramLabel = "N", defaultValue = "0",
            description = "Override the workloads' token counts (0 = theirs). Default: ${DEFAULT-VALUE}.")
    int maxNewTokens;

    @Option(names = "--quick", description = "A smoke run in under two minutes: 2 prompts per workload, 48 tokens,"
            + " 1 repeat, fewer configurations.")
    boolean quick;

    @Option(names = "--prompts", paramLabel = "N", defaultValue = "0",
            description = "Only the first N prompts of each workload (0 = all). Default: ${DEFAULT-VALUE}.")
    int prompts;

    @Option(names = "--calibration-budget", paramLabel = "SECONDS", defaultValue = "120",
            description = "How long each workload's cost calibration passes (one before each repeat, one after the"
                    + " last) may take in all: a pilot prices the full plan (every verify size for drafts of 0..16"
                    + " tokens, 9 repeats) and, when the passes would overrun, fewer sizes (the rest interpolated) and"
                    + " repeats (at least 3, so many repeats can overrun it); a pass whose noise is over 10% is taken"
                    + " again, up to twice, beyond the budget; 0 = the full plan for every pass whatever it costs."
                    + " Default: ${DEFAULT-VALUE}.")
    int calibrationBudget;

    @Option(names = {"-t", "--threads"}, paramLabel = "N",
            description = "Intra-op threads of the target. Default: all cores, up to 8.")
    Integer threads;

    @Option(names = "--draft-threads", paramLabel = "N",
            description = "Intra-op threads of the draft. Default: as the target (they run one after the other).")
    Integer draftThreads;

    @Option(names = "--spinning", paramLabel = "auto|on|off", defaultValue = "auto", description = "Whether intra-op"
            + " threads spin while a forward call runs: 'auto' decides at load (on where other processes leave the"
            + " cores idle), 'on' or 'off'. Default: ${DEFAULT-VALUE}.")
    String spinning;

    @Option(names = "--fused-attention", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Rewrite the models' attention into ONNX Runtime's fused GroupQueryAttention at load, where"
            + " the graph matches and a parity probe finds the same logits. Default: on.")
    boolean fusedAttention = true;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON (with plain decoding's token ids per prompt).")
    Path json;

    @Option(names = "--report", paramLabel = "DIR",
            description = "Also write DIR/benchmarks.md, a markdown report, with PNG charts beside it.")
    Path report;

    @Option(names = "--verbose", description = "Print stack traces of errors.")
    boolean verbose;

    @Override
    public Integer call() throws IOException {
        if (repeats < 1) {
            throw new IllegalArgumentException("--repeats must be >= 1, got " + repeats);
        }
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("--max-new-tokens must be >= 0, got " + maxNewTokens);
        }
        if (prompts < 0) {
            throw new IllegalArgumentException("--prompts must be >= 0 (0 = all), got " + prompts);
        }
        if (calibrationBudget < 0) {
            throw new IllegalArgumentException("--calibration-budget must be >= 0 seconds (0 = the full plan), got "
                    + calibrationBudget);
        }
        if (threads != null && threads < 1 || draftThreads != null && draftThreads < 1) {
            throw new IllegalArgumentException("--threads and --draft-threads must be >= 1");
        }
        if (workloads.contains("load")) {
            return LoadBenchCommand.run(this);
        }
        Pattern filter = configs == null ? null : Pattern.compile(configs);
        List<Workload> ws = Workload.load(workloads, quick, maxNewTokens, prompts);
        int reps = quick ? 1 : repeats;
        Path targetDir = target != null ? target : EmbeddedModels.target();
        Path draftDir = draftModel != null ? draftModel : target == null ? EmbeddedModels.draft() : null;
        OnnxModelOptions targetOptions = targetOptions();
        Map<String, List<BenchConfig>> plan = new LinkedHashMap<>();
        for (Workload w : ws) {
            plan.put(w.name(), BenchConfig.forWorkload(w.name(), quick).stream()
                    .filter(c -> c.isPlain() || (draftDir != null || !usesModel(c)))
                    .filter(c -> c.isPlain() || filter == null || filter.matcher(c.name()).matches()).toList());
        }
        try (HfTokenizer tokenizer = HfTokenizer.load(targetDir);
             OnnxCausalLM t = OnnxCausalLM.load(targetDir, targetOptions);
             OnnxCausalLM d = draftDir == null ? null : OnnxCausalLM.load(draftDir, draftOptions())) {
            long start = System.nanoTime();
            BenchRunner runner = new BenchRunner(t, d, tokenizer, Duration.ofSeconds(calibrationBudget));
            BenchRunner.Results run = runner.run(ws, plan, reps, System.err::println);
            List<Measurement> ms = run.measurements();
            Map<Workload, List<ConfigSummary>> results = new LinkedHashMap<>();
            List<SchedulerComparison> comparisons = new ArrayList<>();
            for (Workload w : ws) {
                CostCalibration calibration = run.calibrations().get(w.name());
                List<ConfigSummary> summaries = ConfigSummary.of(w, plan.get(w.name()), ms, calibration,
                        runner::usesDraftModel);
                results.put(w, summaries);
                comparisons.addAll(SchedulerComparison.of(w, summaries, ms, calibration, d != null));
            }
            Map<String, String> env = environment(t, d, targetOptions, reps, (System.nanoTime() - start) / 1e9);
            BenchReport out = new BenchReport(results, run.calibrations(), comparisons, env);
            out.printTable(System.out);
            if (json != null) {
                out.writeJson(json, ms);
            }
            if (report != null) {
                out.writeMarkdown(report);
                System.err.println("report written to " + report.resolve("benchmarks.md"));
            }
            boolean allIdentical = results.values().stream().flatMap(List::stream)
                    .allMatch(s -> s.identical() == null || s.identical());
            if (!allIdentical && !t.rowInvariance().rowInvariant()) {
                // not a decoding bug: verify calls round this target's rows differently from single-token calls
                System.err.println("warning: a greedy configuration's output differed from plain decoding, as the"
                        + " target's row-variance allows: " + t.rowInvariance().reason());
            } else if (!allIdentical) {
                System.err.println("error: a greedy configuration's output differed from plain decoding");
                return SpeculaCli.EXIT_FAILURE;
            }
        }
        return 0;
    }

    private static boolean usesModel(BenchConfig c) {
        return c.drafter().equals("model");
    }

    private Map<String, String> environment(OnnxCausalLM t, OnnxCausalLM d, OnnxModelOptions options, int reps,
                                            double seconds) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("date", Instant.now().toString());
        env.put("cpu", cpuModel() + ", " + Runtime.getRuntime().availableProcessors() + " cores available");
        env.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        env.put("jvm", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        env.put("target", t.directory() + " (" + t + ", model.onnx sha256 " + t.modelSha256() + ")");
        env.put("target row invariance", t.rowInvariance().toString());
        env.put("draft", d == null ? "none" : d.directory() + " (" + d + ", model.onnx sha256 " + d.modelSha256() + ")");
        env.put("specula", String.valueOf(BenchCommand.class.getPackage().getImplementationVersion()));
        env.put("threads", "target " + options.intraOpThreads() + ", draft " + draftOptions().intraOpThreads());
        env.put("spinning", "target " + t.spinning() + (d == null ? "" : "; draft " + d.spinning()));
        env.put("repeats", String.valueOf(reps) + (quick ? " (quick)" : ""));
        env.put("prompts per workload", prompts == 0 ? (quick ? "2 (quick)" : "all") : "at most " + prompts);
        env.put("calibration budget", calibrationBudget == 0 ? "none (full plan)" : calibrationBudget + " s per workload");
        env.put("peak resident memory", peakRss());
        env.put("bench wall time", String.format("%.0f s", seconds));
        return env;
    }

    private static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("unknown CPU");
        } catch (IOException e) {
            return "unknown CPU";
        }
    }

    private static String peakRss() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmHWM"))
                    .findFirst().map(l -> Arrays.stream(l.split("\\s+")).skip(1).findFirst().orElse("?"))
                    .map(kb -> String.format("%.0f MiB", Long.parseLong(kb) / 1024.0)).orElse("unknown");
        } catch (IOException | NumberFormatException e) {
            return "unknown";
        }
    }

    OnnxModelOptions targetOptions() {
        return (threads != null ? OnnxModelOptions.cpu(threads) : OnnxModelOptions.defaults())
                .withSpinning(ModelOptions.spinning(spinning)).withFusedAttention(fusedAttention);
    }

    OnnxModelOptions draftOptions() {
        return (draftThreads != null ? OnnxModelOptions.cpu(draftThreads) : OnnxModelOptions.defaults())
                .withSpinning(ModelOptions.spinning(spinning)).withFusedAttention(fusedAttention);
    }
}
