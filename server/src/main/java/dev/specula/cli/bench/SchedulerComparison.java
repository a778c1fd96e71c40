package dev.specula.cli.bench;

import dev.specula.core.schedule.CostCalibration;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * For one workload and drafter: the adaptive scheduler against the heuristic one, the best fixed draft length
 * measured (in hindsight), and the oracle the calibration predicts.
 *
 * @param workload          workload name
 * @param drafter           the drafter
 * @param adaptive          the adaptive configuration's speedup
 * @param heuristic         the heuristic configuration's speedup (NaN if not run)
 * @param bestFixed         the highest speedup among the fixed draft lengths run
 * @param bestFixedK        its draft length
 * @param acceptance        per-position acceptance pooled over the fixed-length runs
 * @param oracleK           the fixed draft length in 0..16 with the highest calibrated prediction at that acceptance
 *                          (for a lookup drafter it assumes a match at every step, so it is optimistic)
 * @param oraclePredicted   that prediction
 * @param adaptiveOverBest  adaptive / max(heuristic, bestFixed)
 * @param adaptivePriced    the same three at the calibration's prices ({@link ConfigSummary#priced()}): the
 *                          policies' choices compared without machine noise
 * @param heuristicPriced   (NaN if not run)
 * @param bestFixedPriced   the highest priced speedup among the fixed draft lengths run
 * @param pricedOverBest    adaptivePriced / max(heuristicPriced, bestFixedPriced)
 */
public record SchedulerComparison(String workload, String drafter, double adaptive, double heuristic, double bestFixed,
                                  int bestFixedK, double acceptance, int oracleK, double oraclePredicted,
                                  double adaptiveOverBest, double adaptivePriced, double heuristicPriced,
                                  double bestFixedPriced, double pricedOverBest) {

    /** One comparison per drafter of this workload that has an adaptive and at least one fixed-length run. */
    public static List<SchedulerComparison> of(Workload w, List<ConfigSummary> summaries, List<Measurement> all,
                                               CostCalibration calibration, boolean draftModelLoaded) {
        List<SchedulerComparison> out = new ArrayList<>();
        for (ConfigSummary a : summaries) {
            if (!a.config().endsWith("/adaptive")) {
                continue;
            }
            String drafter = a.config().substring(0, a.config().indexOf('/'));
            Optional<ConfigSummary> best = summaries.stream().filter(s -> s.config().startsWith(drafter + "/fixed-"))
                    .max(Comparator.comparingDouble(ConfigSummary::speedup));
            if (best.isEmpty()) {
                continue;
            }
            double heuristic = summaries.stream().filter(s -> s.config().equals(drafter + "/heuristic"))
                    .mapToDouble(ConfigSummary::speedup).findFirst().orElse(Double.NaN);
            List<List<StepLog.Step>> fixedSteps = all.stream().filter(m -> m.workload().equals(w.name())
                    && m.config().startsWith(drafter + "/fixed-")).map(Measurement::steps).toList();
            double acceptance = CalibratedBound.pooledAcceptance(fixedSteps);
            boolean modelDraft = draftModelLoaded && (drafter.equals("model") || drafter.equals("composite"));
            int tokens = w.params().maxNewTokens();
            int oracleK = 0;
            double oracle = 1;
            for (int k = 1; k <= 16 && !Double.isNaN(acceptance); k++) {
                double p = CalibratedBound.predictedFixed(calibration, acceptance, k, modelDraft, tokens);
                if (p > oracle) {
                    oracle = p;
                    oracleK = k;
                }
            }
            double ceiling = Double.isNaN(heuristic) ? best.get().speedup() : Math.max(heuristic, best.get().speedup());
            double heuristicPriced = summaries.stream().filter(s -> s.config().equals(drafter + "/heuristic"))
                    .mapToDouble(ConfigSummary::priced).findFirst().orElse(Double.NaN);
            double bestFixedPriced = summaries.stream().filter(s -> s.config().startsWith(drafter + "/fixed-"))
                    .mapToDouble(ConfigSummary::priced).max().orElse(Double.NaN);
            double pricedCeiling = Double.isNaN(heuristicPriced) ? bestFixedPriced
                    : Math.max(heuristicPriced, bestFixedPriced);
            out.add(new SchedulerComparison(w.name(), drafter, a.speedup(), heuristic, best.get().speedup(),
                    Integer.parseInt(best.get().config().substring((drafter + "/fixed-").length())), acceptance,
                    oracleK, oracle, a.speedup() / ceiling, a.priced(), heuristicPriced, bestFixedPriced,
                    a.priced() / pricedCeiling));
        }
        return out;
    }
}
