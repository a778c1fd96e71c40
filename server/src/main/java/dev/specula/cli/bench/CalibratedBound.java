package dev.specula.cli.bench;

import dev.specula.core.schedule.CostCalibration;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The speedup a configuration should reach, predicted from a {@link CostCalibration} and the run's step counts alone
 * (nothing from the run's clock): every step that drafted d tokens from a source with per-position acceptance a
 * yields Leviathan's (1 - a^(d+1)) / (1 - a) tokens in expectation and costs the calibrated draft steps it took (the
 * first after a target call, then the cheaper further ones) plus
 * a target call over d + 1 positions; plain decoding makes the same tokens one calibrated step each. Both pay the
 * calibrated prefill once per generation (the draft model's too, for configurations that use it).
 */
final class CalibratedBound {
    private CalibratedBound() {
    }

    /**
     * Per source, the probability that a drafted position is accepted given the ones before it were: accepted
     * tokens over accepted tokens plus steps that ended in a rejection (the maximum-likelihood estimate when each
     * position is accepted independently with one probability).
     */
    static Map<String, Double> positionAcceptance(List<List<StepLog.Step>> generations) {
        Map<String, double[]> counts = new HashMap<>();
        for (List<StepLog.Step> g : generations) {
            for (StepLog.Step s : g) {
                if (s.drafted() > 0) {
                    double[] c = counts.computeIfAbsent(s.source(), k -> new double[2]);
                    c[0] += s.accepted();
                    c[1] += s.accepted() < s.drafted() ? 1 : 0;
                }
            }
        }
        Map<String, Double> out = new HashMap<>();
        counts.forEach((source, c) -> out.put(source, c[0] + c[1] == 0 ? 0 : c[0] / (c[0] + c[1])));
        return out;
    }

    /** The pooled per-position acceptance over every source (NaN when nothing was drafted). */
    static double pooledAcceptance(List<List<StepLog.Step>> generations) {
        double accepted = 0;
        double rejections = 0;
        for (List<StepLog.Step> g : generations) {
            for (StepLog.Step s : g) {
                accepted += s.accepted();
                rejections += s.drafted() > 0 && s.accepted() < s.drafted() ? 1 : 0;
            }
        }
        return accepted + rejections == 0 ? Double.NaN : accepted / (accepted + rejections);
    }

    /**
     * The predicted speedup over plain decoding of a configuration whose generations took these steps.
     *
     * @param usesDraftModel whether the configuration prefills a draft model
     */
    static double predictedSpeedup(CostCalibration c, List<List<StepLog.Step>> generations, boolean usesDraftModel) {
        Map<String, Double> acceptance = positionAcceptance(generations);
        double prefill = Double.isNaN(c.prefillNanos()) ? 0 : c.prefillNanos();
        double draftPrefill = usesDraftModel && !Double.isNaN(c.draftPrefillNanos()) ? c.draftPrefillNanos() : 0;
        double tokens = 0;
        double speculative = 0;
        for (List<StepLog.Step> g : generations) {
            speculative += prefill + draftPrefill;
            for (StepLog.Step s : g) {
                double a = s.drafted() == 0 ? 0 : acceptance.get(s.source());
                tokens += CostCalibration.expectedTokens(a, s.drafted());
                speculative += c.stepNanos(s.drafted(), s.modelCalls());
            }
        }
        double plain = generations.size() * prefill + tokens * c.plainStepNanos();
        return speculative == 0 ? 1 : plain / speculative;
    }

    /**
     * The speedup a configuration's own steps earn at the calibrated costs: the tokens it actually made (so a policy
     * that drafts long in easy stretches is credited with what it got there, not with the average acceptance) over
     * the calibrated cost of the steps it actually took, against plain decoding's calibrated steps for as many
     * tokens. Free of the run's clock, so it compares policies' choices without machine noise.
     *
     * @param tokens         tokens the generations made, in all
     * @param usesDraftModel whether the configuration prefills a draft model
     */
    static double pricedSpeedup(CostCalibration c, List<List<StepLog.Step>> generations, double tokens,
                                boolean usesDraftModel) {
        double prefill = Double.isNaN(c.prefillNanos()) ? 0 : c.prefillNanos();
        double draftPrefill = usesDraftModel && !Double.isNaN(c.draftPrefillNanos()) ? c.draftPrefillNanos() : 0;
        double speculative = 0;
        for (List<StepLog.Step> g : generations) {
            speculative += prefill + draftPrefill;
            for (StepLog.Step s : g) {
                speculative += c.stepNanos(s.drafted(), s.modelCalls());
            }
        }
        double plain = generations.size() * prefill + tokens * c.plainStepNanos();
        return speculative == 0 ? 1 : plain / speculative;
    }

    /** The same prediction for a fixed draft length k at acceptance a, prefill included, for n tokens. */
    static double predictedFixed(CostCalibration c, double a, int k, boolean modelDraft, int tokens) {
        double prefill = Double.isNaN(c.prefillNanos()) ? 0 : c.prefillNanos();
        double draftPrefill = modelDraft && k > 0 && !Double.isNaN(c.draftPrefillNanos()) ? c.draftPrefillNanos() : 0;
        double steps = tokens / CostCalibration.expectedTokens(a, k);
        return (prefill + tokens * c.plainStepNanos())
                / (prefill + draftPrefill + steps * c.stepNanos(k, modelDraft ? k : 0));
    }
}
