package dev.specula.cli.bench;

import dev.specula.core.schedule.CostCalibration;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * One configuration's results on one workload, aggregated over prompts per repeat, then medians over repeats.
 *
 * @param workload           workload name
 * @param config             configuration name
 * @param tokensPerSecond    median over repeats of (tokens / wall time) summed over the prompts
 * @param minTokensPerSecond lowest repeat
 * @param maxTokensPerSecond highest repeat
 * @param speedup            median over repeats of the ratio to plain decoding in the same repeat
 * @param minSpeedup         lowest repeat's ratio
 * @param maxSpeedup         highest repeat's ratio
 * @param acceptanceRate     accepted over drafted tokens
 * @param positionAcceptance accepted tokens over accepted tokens plus rejections: the probability that a drafted
 *                           position is accepted given the ones before it were (NaN if nothing was drafted)
 * @param tokensPerCall      generated tokens per decoding step (target call)
 * @param predicted          the calibrated prediction ({@link CalibratedBound}): Leviathan's expected tokens per
 *                           step at each source's measured per-position acceptance for the draft lengths this
 *                           configuration drafted, over the calibrated cost of those steps, against plain decoding's
 *                           calibrated step; nothing in it comes from this run's clock
 * @param achievedOverPredicted speedup / predicted
 * @param priced             the tokens this configuration made over the calibrated cost of the steps it took
 *                           ({@link CalibratedBound#pricedSpeedup}): its choices at the calibration's prices, free of
 *                           machine noise
 * @param outsideRuntime     share of wall time spent outside ONNX Runtime calls
 * @param bytesPerToken      Java heap bytes allocated per generated token
 * @param identical          for greedy workloads, whether every output equals plain decoding's; null if sampled
 * @param draftLengths       the draft length chosen at each step of one generation (first prompt, last repeat)
 */
public record ConfigSummary(String workload, String config, double tokensPerSecond, double minTokensPerSecond,
                            double maxTokensPerSecond, double speedup, double minSpeedup, double maxSpeedup,
                            double acceptanceRate, double positionAcceptance, double tokensPerCall, double predicted,
                            double achievedOverPredicted, double priced,
                            double outsideRuntime, double bytesPerToken, Boolean identical, int[] draftLengths) {

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /**
     * Summaries in configuration order, for one workload's measurements.
     *
     * @param calibration    the workload's calibration
     * @param usesDraftModel which configurations prefill and step the draft model
     */
    public static List<ConfigSummary> of(Workload w, List<BenchConfig> configs, List<Measurement> all,
                                         CostCalibration calibration, Predicate<BenchConfig> usesDraftModel) {
        List<Measurement> ms = all.stream().filter(m -> m.workload().equals(w.name())).toList();
        Map<String, List<Measurement>> byConfig = ms.stream().collect(Collectors.groupingBy(Measurement::config));
        List<Measurement> plain = byConfig.get(BenchConfig.PLAIN.name());
        int repeats = ms.stream().mapToInt(Measurement::repeat).max().orElse(0) + 1;
        double[] plainRates = rates(plain, repeats);
        List<ConfigSummary> out = new ArrayList<>();
        for (BenchConfig c : configs) {
            List<Measurement> list = byConfig.get(c.name());
            if (list == null) {
                continue;
            }
            double[] rates = rates(list, repeats);
            double[] speedups = new double[repeats];
            for (int r = 0; r < repeats; r++) {
                speedups[r] = rates[r] / plainRates[r];
            }
            double steps = sum(list, m -> m.metrics().steps());
            double generated = sum(list, m -> m.metrics().generatedTokens());
            double drafted = sum(list, m -> m.metrics().draftedTokens());
            double tokensPerCall = generated / steps;
            List<List<StepLog.Step>> stepLists = list.stream().map(Measurement::steps).toList();
            double predicted = c.isPlain() ? 1
                    : CalibratedBound.predictedSpeedup(calibration, stepLists, usesDraftModel.test(c));
            double priced = c.isPlain() ? 1 : CalibratedBound.pricedSpeedup(calibration, stepLists, generated,
                    usesDraftModel.test(c));
            double speedup = median(speedups);
            Boolean identical = w.params().isGreedy() ? list.stream().allMatch(m -> Arrays.equals(m.tokens(),
                    plain.stream().filter(p -> p.repeat() == m.repeat() && p.prompt() == m.prompt()).findFirst()
                            .orElseThrow().tokens())) : null;
            int[] trace = list.stream().filter(m -> m.repeat() == repeats - 1 && m.prompt() == 0).findFirst()
                    .map(m -> m.metrics().draftLengths()).orElse(new int[0]);
            out.add(new ConfigSummary(w.name(), c.name(), median(rates), Arrays.stream(rates).min().orElse(0),
                    Arrays.stream(rates).max().orElse(0), speedup, Arrays.stream(speedups).min().orElse(0),
                    Arrays.stream(speedups).max().orElse(0),
                    drafted == 0 ? 0 : sum(list, m -> m.metrics().acceptedTokens()) / drafted,
                    CalibratedBound.pooledAcceptance(stepLists), tokensPerCall, predicted, speedup / predicted, priced,
                    1 - sum(list, Measurement::runtimeNanos) / sum(list, m -> m.metrics().totalNanos()),
                    sum(list, Measurement::allocatedBytes) / generated, identical, trace));
        }
        return out;
    }

    private static double[] rates(List<Measurement> list, int repeats) {
        double[] tokens = new double[repeats];
        double[] nanos = new double[repeats];
        for (Measurement m : list) {
            tokens[m.repeat()] += m.metrics().generatedTokens();
            nanos[m.repeat()] += m.metrics().totalNanos();
        }
        double[] rates = new double[repeats];
        for (int r = 0; r < repeats; r++) {
            rates[r] = tokens[r] * 1e9 / nanos[r];
        }
        return rates;
    }

    private static double sum(List<Measurement> list, java.util.function.ToDoubleFunction<Measurement> f) {
        return list.stream().mapToDouble(f).sum();
    }
}
