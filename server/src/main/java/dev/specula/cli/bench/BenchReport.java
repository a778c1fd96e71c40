package dev.specula.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.specula.core.schedule.CostCalibration;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The benchmark's outputs: a table on stdout, a JSON file, a markdown report with PNG charts. */
public final class BenchReport {
    private final Map<Workload, List<ConfigSummary>> results;
    private final Map<String, CostCalibration> calibrations;
    private final List<SchedulerComparison> comparisons;
    private final Map<String, String> environment;

    /**
     * @param calibrations per workload name, the calibration its predictions came from
     * @param comparisons  adaptive versus heuristic versus fixed draft lengths, per workload and drafter
     */
    public BenchReport(Map<Workload, List<ConfigSummary>> results, Map<String, CostCalibration> calibrations,
                       List<SchedulerComparison> comparisons, Map<String, String> environment) {
        this.results = results;
        this.calibrations = calibrations;
        this.comparisons = List.copyOf(comparisons);
        this.environment = environment;
    }

    /**
     * How far a prediction may be off from calibration noise alone: it is a ratio of two calibrated costs, each
     * within the calibration's relative standard error, so two standard errors of each.
     */
    static double tolerance(CostCalibration c) {
        return 2 * 2 * c.noise();
    }

    /** Whether a configuration beat its prediction by more than the calibration's noise explains. */
    static boolean exceedsBound(ConfigSummary s, CostCalibration c) {
        return s.achievedOverPredicted() > 1 + tolerance(c);
    }

    public List<SchedulerComparison> comparisons() {
        return comparisons;
    }

    public void printTable(PrintStream out) {
        for (Map.Entry<Workload, List<ConfigSummary>> e : results.entrySet()) {
            CostCalibration c = calibrations.get(e.getKey().name());
            out.println();
            out.println("== " + e.getKey().name() + ": " + e.getKey().description() + " ==");
            out.println("calibration: " + c);
            out.println(String.format(Locale.ROOT, "%-26s %9s %9s %15s %7s %7s %8s %9s %8s %8s %8s %s", "config",
                    "tok/s", "speedup", "(min-max)", "accept", "pos.acc", "tok/call", "predicted", "achieved",
                    "outside", "B/token", "identical"));
            for (ConfigSummary s : e.getValue()) {
                out.println(String.format(Locale.ROOT, "%-26s %9.1f %8.2fx %6.2f-%-6.2f  %7.3f %7s %8.2f %8.2fx %7.0f%%%s %7.1f%% %8.0f %s",
                        s.config(), s.tokensPerSecond(), s.speedup(), s.minSpeedup(), s.maxSpeedup(),
                        s.acceptanceRate(), Double.isNaN(s.positionAcceptance()) ? "-"
                                : String.format(Locale.ROOT, "%.3f", s.positionAcceptance()), s.tokensPerCall(), s.predicted(),
                        100 * s.achievedOverPredicted(), exceedsBound(s, c) ? "!" : " ", 100 * s.outsideRuntime(),
                        s.bytesPerToken(), s.identical() == null ? "n/a (sampled)" : s.identical() ? "yes" : "NO"));
            }
        }
        out.println();
        for (SchedulerComparison c : comparisons) {
            out.printf(Locale.ROOT, "%s %s: adaptive %.2fx, heuristic %.2fx, best fixed k=%d %.2fx;"
                            + " adaptive / best fixed k or heuristic: %.3f (at calibrated prices %.3f);"
                            + " calibrated oracle k=%d predicts %.2fx%n",
                    c.workload(), c.drafter(), c.adaptive(), c.heuristic(), c.bestFixedK(), c.bestFixed(),
                    c.adaptiveOverBest(), c.pricedOverBest(), c.oracleK(), c.oraclePredicted());
        }
    }

    public void writeJson(Path file) throws IOException {
        writeJson(file, List.of());
    }

    /**
     * {@link #writeJson(Path)}, each workload also listing plain decoding's generated token ids per prompt (first
     * repeat) as {@code plain_tokens}: what compares two models' greedy outputs on the bench prompts (a realistic-cost
     * twin against the pair it was made from).
     */
    public void writeJson(Path file, List<Measurement> measurements) throws IOException {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.set("environment", mapper.valueToTree(environment));
        ArrayNode workloads = root.putArray("workloads");
        results.forEach((w, list) -> {
            ObjectNode wn = workloads.addObject();
            wn.put("name", w.name());
            wn.put("description", w.description());
            wn.put("prompts", w.prompts().size());
            wn.put("max_new_tokens", w.params().maxNewTokens());
            wn.put("temperature", w.params().temperature());
            wn.set("calibration", mapper.valueToTree(calibrations.get(w.name())));
            wn.set("configs", mapper.valueToTree(list));
            List<int[]> plain = measurements.stream()
                    .filter(m -> m.workload().equals(w.name()) && m.config().equals(BenchConfig.PLAIN.name())
                            && m.repeat() == 0)
                    .sorted(java.util.Comparator.comparingInt(Measurement::prompt)).map(Measurement::tokens).toList();
            if (!plain.isEmpty()) {
                wn.set("plain_tokens", mapper.valueToTree(plain));
            }
        });
        root.set("schedulers", mapper.valueToTree(comparisons));
        if (file.getParent() != null) {
            Files.createDirectories(file.getParent());
        }
        mapper.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), root);
    }

    /** Writes {@code dir/benchmarks.md} and its charts {@code dir/benchmarks-*.png}. */
    public void writeMarkdown(Path dir) throws IOException {
        Files.createDirectories(dir);
        System.setProperty("java.awt.headless", "true");
        speedupChart(dir.resolve("benchmarks-speedup.png"));
        List<String> traces = new ArrayList<>();
        for (Map.Entry<Workload, List<ConfigSummary>> e : results.entrySet()) {
            String file = "benchmarks-draft-length-" + e.getKey().name() + ".png";
            if (draftLengthChart(e.getKey(), e.getValue(), dir.resolve(file))) {
                traces.add(file);
            }
        }
        StringBuilder md = new StringBuilder("# Specula benchmark report\n\n");
        md.append("Generated by `specula bench`. Every number is a ratio or rate measured in this one run: all"
                + " configurations decode the same prompts with the same seeds, interleaved, after a warm-up;"
                + " medians over repeats (spread in parentheses).\n\n");
        md.append("| environment | |\n|---|---|\n");
        environment.forEach((k, v) -> md.append("| ").append(k).append(" | ").append(v.replace("|", "\\|")).append(" |\n"));
        md.append("\n![speedup per configuration](benchmarks-speedup.png)\n\n");
        md.append("Columns: tokens/s; speedup over plain decoding of the same target in the same run; acceptance"
                + " (accepted / drafted); per-position acceptance a (accepted / (accepted + steps that ended in a"
                + " rejection): the chance a drafted position is accepted given the ones before it were); tokens per"
                + " target call; the **predicted** speedup and the share of it **achieved**; the share of wall time"
                + " outside ONNX Runtime calls; Java heap bytes allocated per token; whether greedy outputs are"
                + " identical to plain decoding.\n\n");
        md.append("**The prediction** is calibrated, not fitted to the run: before each repeat of a workload's"
                + " timed runs and after the last, a calibration pass measures, at the workload's mean context length,"
                + " one target call over k + 1 positions for k = 0..16 and one draft model step (interleaved, medians"
                + " of repeats), and prefill at its mean prompt length; each cost is the median over the passes, so"
                + " the machine's drift during the runs is in it, and its spread between passes counts as noise."
                + " A configuration's prediction takes only its step counts from the timed"
                + " runs: every step that drafted d tokens from a source with per-position acceptance a counts"
                + " Leviathan's (1 - a^(d+1)) / (1 - a) expected tokens and costs the calibrated draft model steps it"
                + " took plus a target call over d + 1 positions; plain decoding makes the same tokens at one"
                + " calibrated step each; both pay the calibrated prefill. Work outside those calls (sampling,"
                + " acceptance, the drafter's bookkeeping) is not in it, so a configuration should reach a little"
                + " under 100%; a row marked ! beat its prediction by more than the calibration's own noise"
                + " explains (four relative standard errors of its medians, stated per workload).\n");
        for (Map.Entry<Workload, List<ConfigSummary>> e : results.entrySet()) {
            Workload w = e.getKey();
            CostCalibration c = calibrations.get(w.name());
            md.append("\n## ").append(w.name()).append(": ").append(w.description()).append("\n\n");
            md.append(String.format(Locale.ROOT, "%d prompts, %d new tokens each.%n%n", w.prompts().size(),
                    w.params().maxNewTokens()));
            md.append(calibrationText(c));
            md.append("| config | tokens/s | speedup | acceptance | per-position a | tokens/call | predicted | achieved | outside ORT | B/token | identical |\n");
            md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
            for (ConfigSummary s : e.getValue()) {
                md.append(String.format(Locale.ROOT, "| %s | %.1f | %.2fx (%.2f-%.2f) | %.3f | %s | %.2f | %.2fx | %.0f%%%s | %.1f%% | %.0f | %s |%n",
                        s.config(), s.tokensPerSecond(), s.speedup(), s.minSpeedup(), s.maxSpeedup(),
                        s.acceptanceRate(), Double.isNaN(s.positionAcceptance()) ? "-"
                                : String.format(Locale.ROOT, "%.3f", s.positionAcceptance()),
                        s.tokensPerCall(), s.predicted(), 100 * s.achievedOverPredicted(), exceedsBound(s, c) ? " !" : "",
                        100 * s.outsideRuntime(), s.bytesPerToken(),
                        s.identical() == null ? "n/a (sampled)" : s.identical() ? "yes" : "**NO**"));
            }
        }
        md.append("\n## Adaptive versus heuristic versus the best fixed draft length\n\n");
        md.append("Measured speedups; the best fixed length is the best of those run, in hindsight. The calibrated"
                + " oracle is the fixed length in 0..16 the calibration predicts best at the per-position acceptance"
                + " pooled over the fixed-length runs (for prompt lookup it assumes a match at every step, so it is"
                + " optimistic). The goal: adaptive at least 0.97 of the better of heuristic and best fixed. The"
                + " priced columns compare the same runs' choices without machine noise: the tokens each configuration"
                + " made over the calibrated cost of the steps it took (its draft lengths, draft model calls and target"
                + " calls), against plain decoding's calibrated steps.\n\n");
        md.append("| workload | drafter | adaptive | heuristic | best fixed (k) | adaptive / max(heuristic, best fixed) | priced: adaptive | heuristic | best fixed | adaptive / max | a | oracle k | oracle predicted |\n");
        md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (SchedulerComparison c : comparisons) {
            md.append(String.format(Locale.ROOT, "| %s | %s | %.2fx | %s | %.2fx (%d) | %.3f | %.2fx | %s | %.2fx | %.3f | %.3f | %d | %.2fx |%n",
                    c.workload(), c.drafter(), c.adaptive(),
                    Double.isNaN(c.heuristic()) ? "-" : String.format(Locale.ROOT, "%.2fx", c.heuristic()),
                    c.bestFixed(), c.bestFixedK(), c.adaptiveOverBest(), c.adaptivePriced(),
                    Double.isNaN(c.heuristicPriced()) ? "-" : String.format(Locale.ROOT, "%.2fx", c.heuristicPriced()),
                    c.bestFixedPriced(), c.pricedOverBest(), c.acceptance(), c.oracleK(), c.oraclePredicted()));
        }
        if (!traces.isEmpty()) {
            md.append("\n## Draft lengths the adaptive scheduler chose over one generation\n\n");
            traces.forEach(t -> md.append("![").append(t).append("](").append(t).append(")\n\n"));
        }
        Files.writeString(dir.resolve("benchmarks.md"), md.toString());
    }

    private static String calibrationText(CostCalibration c) {
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "Calibration at %d tokens of context, %d"
                        + " repeats over all passes: one call's spread (IQR / median) %.1f%%, relative standard error of a median"
                        + " %.1f%% (median over sizes), so predictions are good to about %.1f%%. Draft model %s; prefill of %d"
                        + " tokens %.2f ms (draft %s). Target call over k + 1 positions, ms:%n%n", c.contextLength(),
                c.repeats(), 100 * c.spread(), 100 * c.noise(), 100 * tolerance(c),
                c.hasDraftModel() ? String.format(Locale.ROOT, "step %.3f ms after a target call, %.3f ms each further step"
                        + " of the same draft", c.draftStepNanos() / 1e6, c.draftNextStepNanos() / 1e6) : "(none)",
                c.prefillLength(), c.prefillNanos() / 1e6,
                Double.isNaN(c.draftPrefillNanos()) ? "-" : String.format(Locale.ROOT, "%.2f ms", c.draftPrefillNanos() / 1e6)));
        StringBuilder head = new StringBuilder("| k |");
        StringBuilder rule = new StringBuilder("|---|");
        StringBuilder row = new StringBuilder("| ms |");
        for (int n : c.positions()) {
            head.append(' ').append(n - 1).append(" |");
            rule.append("---:|");
            row.append(String.format(Locale.ROOT, " %.2f |", c.verifyNanos(n) / 1e6));
        }
        return s.append(head).append('\n').append(rule).append('\n').append(row).append("\n\n").toString();
    }

    private void speedupChart(Path file) throws IOException {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        results.forEach((w, list) -> list.forEach(s -> data.addValue(s.speedup(), w.name(), s.config())));
        JFreeChart chart = ChartFactory.createBarChart("Speedup over plain decoding (same run, medians)", "configuration",
                "speedup (x)", data, PlotOrientation.HORIZONTAL, true, false, false);
        int rows = data.getColumnCount();
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 900, Math.max(400, 60 + rows * 28));
    }

    private static boolean draftLengthChart(Workload w, List<ConfigSummary> list, Path file) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        for (ConfigSummary s : list) {
            if (s.config().endsWith("/adaptive") && s.draftLengths().length > 0) {
                XYSeries series = new XYSeries(s.config());
                int[] ks = s.draftLengths();
                for (int i = 0; i < ks.length; i++) {
                    series.add(i, ks[i]);
                }
                data.addSeries(series);
            }
        }
        if (data.getSeriesCount() == 0) {
            return false;
        }
        JFreeChart chart = ChartFactory.createXYLineChart("Draft length chosen per step (" + w.name() + ", first prompt)",
                "step", "k", data, PlotOrientation.VERTICAL, true, false, false);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 900, 360);
        return true;
    }
}
