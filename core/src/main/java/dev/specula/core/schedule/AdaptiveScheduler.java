package dev.specula.core.schedule;

import dev.specula.core.StepOutcome;
import dev.specula.core.draft.Proposal;
import org.apache.commons.math3.distribution.BetaDistribution;
import org.apache.commons.math3.stat.regression.SimpleRegression;

/**
 * Picks the draft length that maximizes expected tokens per second, from what it measures online.
 *
 * <p>The model. Let a<sub>i</sub> be the probability that draft position i is accepted given that positions
 * 1..i-1 were (estimated per position by a Beta posterior with exponential forgetting, shrunk towards the
 * pooled acceptance so that rarely reached positions borrow strength). A step that drafts k tokens yields
 * E(k) = 1 + &Sigma;<sub>j=1..k</sub> &Pi;<sub>i&le;j</sub> a<sub>i</sub> tokens &mdash; Leviathan's
 * (1 - a<sup>k+1</sup>) / (1 - a) when every a<sub>i</sub> = a &mdash; and costs
 * T(k) = k&middot;d + v(k+1), where d is the measured cost of one draft token and v(n) the measured cost of
 * one target call over n positions (a running mean per n, extrapolated to unmeasured n by least squares over
 * the measured ones). It plans k* = argmax E(k)/T(k) over 0..max; k* = 0 is plain decoding, chosen when
 * speculation loses. While at k = 0 it probes k &ge; 1 after 8, 16, 32, ... steps, but only while the upper
 * credible bound of a<sub>1</sub> says speculation could still win, so regime changes are noticed.
 *
 * <p>Early stop: acceptance is also tracked per bucket of the draft's own confidence q(x). Drafting one more
 * token costs about d + v'(k) and gains at most its acceptance, so a model draft should stop at tokens whose
 * estimated acceptance is below (d + v'(k))&middot;E(k)/T(k); the plan's {@code minConfidence} is the lowest
 * confidence at which that still pays (llama.cpp's draft-p-min, made adaptive).
 */
public final class AdaptiveScheduler implements DraftScheduler {

    /**
     * @param maxDraftLength     the longest draft considered
     * @param forgetting         per-step decay of acceptance evidence (0.98 remembers ~50 steps)
     * @param priorAcceptance    prior mean acceptance before any evidence
     * @param priorStrength      pseudo-observations behind priors and behind the shrinkage to the pooled mean
     * @param initialDraftLength draft length before any cost is measured
     * @param verifySlopePrior   relative cost of one more verified position, used until two lengths are measured
     * @param draftCostPrior     cost of a draft token relative to one target call, until measured
     * @param minProbeInterval   first probe after this many plain steps
     * @param maxProbeInterval   probes back off (doubling) up to this many plain steps
     * @param adaptiveStop       whether to set {@link DraftPlan#minConfidence()} from measured acceptance
     */
    public record Options(int maxDraftLength, double forgetting, double priorAcceptance, double priorStrength,
                          int initialDraftLength, double verifySlopePrior, double draftCostPrior,
                          int minProbeInterval, int maxProbeInterval, boolean adaptiveStop) {
        public Options {
            if (maxDraftLength < 1 || maxDraftLength > FixedScheduler.MAX_DRAFT_LENGTH) {
                throw new IllegalArgumentException("maxDraftLength must be in [1, " + FixedScheduler.MAX_DRAFT_LENGTH
                        + "], got " + maxDraftLength);
            }
            if (!(forgetting > 0 && forgetting <= 1)) {
                throw new IllegalArgumentException("forgetting must be in (0, 1], got " + forgetting);
            }
            if (!(priorAcceptance > 0 && priorAcceptance < 1)) {
                throw new IllegalArgumentException("priorAcceptance must be in (0, 1), got " + priorAcceptance);
            }
            if (!(priorStrength > 0)) {
                throw new IllegalArgumentException("priorStrength must be > 0, got " + priorStrength);
            }
            if (initialDraftLength < 0 || initialDraftLength > maxDraftLength) {
                throw new IllegalArgumentException("initialDraftLength must be in [0, maxDraftLength], got "
                        + initialDraftLength);
            }
            if (!(verifySlopePrior >= 0) || !(draftCostPrior >= 0)) {
                throw new IllegalArgumentException("cost priors must be >= 0");
            }
            if (minProbeInterval < 1 || maxProbeInterval < minProbeInterval) {
                throw new IllegalArgumentException("need 1 <= minProbeInterval <= maxProbeInterval, got "
                        + minProbeInterval + ", " + maxProbeInterval);
            }
        }

        public static Options defaults() {
            return new Options(16, 0.98, 0.6, 2.0, 3, 0.1, 0.1, 8, 256, true);
        }

        public Options withMaxDraftLength(int max) {
            return new Options(max, forgetting, priorAcceptance, priorStrength, Math.min(initialDraftLength, max),
                    verifySlopePrior, draftCostPrior, minProbeInterval, maxProbeInterval, adaptiveStop);
        }
    }

    private static final int BUCKETS = 10;
    private static final double COST_FORGETTING = 0.9;

    private final Options o;
    private final double[] accepted;   // per position: decayed count of acceptances
    private final double[] rejected;   // per position: decayed count of rejections
    private double pooledAccepted;
    private double pooledRejected;
    private final double[] bucketAccepted = new double[BUCKETS];
    private final double[] bucketRejected = new double[BUCKETS];
    private final double[] verifyMean;   // index n = positions verified in one call
    private final double[] verifyWeight;
    private double draftPerToken = Double.NaN;
    private final double[] predictedVerify;
    private double verifySlope;
    private boolean costModelDirty = true;
    private int plainSteps;
    private int probeInterval;
    private int steps;
    private final java.util.function.Consumer<Snapshot> publish;

    public AdaptiveScheduler(Options options) {
        this(options, null, s -> { });
    }

    /**
     * A scheduler that starts from what an earlier generation learned ({@code prior}, may be null) and hands what
     * it learned to {@code publish} when its generation finishes.
     */
    public AdaptiveScheduler(Options options, Snapshot prior, java.util.function.Consumer<Snapshot> publish) {
        this.o = options;
        this.publish = publish;
        this.accepted = new double[options.maxDraftLength()];
        this.rejected = new double[options.maxDraftLength()];
        this.verifyMean = new double[options.maxDraftLength() + 2];
        this.verifyWeight = new double[options.maxDraftLength() + 2];
        this.predictedVerify = new double[options.maxDraftLength() + 2];
        this.probeInterval = options.minProbeInterval();
        if (prior != null && prior.accepted().length == accepted.length) {
            restore(prior);
        }
    }

    /**
     * What a finished generation learned, carried into the next one as a weak prior: measured costs (stable for a
     * model pair and machine) and acceptance evidence scaled down to at most {@value #CARRIED_EVIDENCE}
     * observations per position, so each generation still adapts to its own text within a few steps.
     */
    public record Snapshot(double[] accepted, double[] rejected, double pooledAccepted, double pooledRejected,
                           double[] bucketAccepted, double[] bucketRejected, double[] verifyMean,
                           double[] verifyWeight, double draftPerToken) {
    }

    private static final double CARRIED_EVIDENCE = 8;

    private void restore(Snapshot p) {
        for (int i = 0; i < accepted.length; i++) {
            double scale = scale(p.accepted()[i] + p.rejected()[i], CARRIED_EVIDENCE);
            accepted[i] = p.accepted()[i] * scale;
            rejected[i] = p.rejected()[i] * scale;
        }
        double pooledScale = scale(p.pooledAccepted() + p.pooledRejected(), 2 * CARRIED_EVIDENCE);
        pooledAccepted = p.pooledAccepted() * pooledScale;
        pooledRejected = p.pooledRejected() * pooledScale;
        for (int b = 0; b < BUCKETS; b++) {
            double scale = scale(p.bucketAccepted()[b] + p.bucketRejected()[b], CARRIED_EVIDENCE);
            bucketAccepted[b] = p.bucketAccepted()[b] * scale;
            bucketRejected[b] = p.bucketRejected()[b] * scale;
        }
        for (int n = 0; n < verifyMean.length; n++) {
            verifyMean[n] = p.verifyMean()[n];
            verifyWeight[n] = Math.min(p.verifyWeight()[n], CARRIED_EVIDENCE);
        }
        draftPerToken = p.draftPerToken();
        costModelDirty = true;
    }

    private static double scale(double total, double max) {
        return total > max ? max / total : 1;
    }

    @Override
    public void finish() {
        publish.accept(new Snapshot(accepted.clone(), rejected.clone(), pooledAccepted, pooledRejected,
                bucketAccepted.clone(), bucketRejected.clone(), verifyMean.clone(), verifyWeight.clone(),
                draftPerToken));
    }

    @Override
    public DraftPlan plan() {
        steps++;
        if (!anyVerifyMeasured()) {
            return DraftPlan.of(o.initialDraftLength());
        }
        int best = bestDraftLength(1);
        double bestRate = rate(best);
        if (rate(0) >= bestRate) {
            plainSteps++;
            if (plainSteps >= probeInterval && speculationCouldWin()) {
                plainSteps = 0;
                probeInterval = Math.min(o.maxProbeInterval(), probeInterval * 2);
                return new DraftPlan(best, stopThreshold(best));
            }
            return DraftPlan.of(0);
        }
        plainSteps = 0;
        probeInterval = o.minProbeInterval();
        return new DraftPlan(best, stopThreshold(best));
    }

    @Override
    public void feedback(StepOutcome outcome) {
        int drafted = outcome.verdict().drafted();
        int kept = outcome.verdict().accepted();
        int n = drafted + 1;
        if (n < verifyMean.length) {
            observeVerify(n, outcome.verifyNanos());
        }
        // Evidence fades every step, plain steps included: after a stretch of plain decoding the estimates drift
        // back towards the prior, so an early unlucky verdict cannot switch speculation off for good.
        double f = o.forgetting();
        pooledAccepted *= f;
        pooledRejected *= f;
        for (int i = 0; i < accepted.length; i++) {
            accepted[i] *= f;
            rejected[i] *= f;
        }
        for (int b = 0; b < BUCKETS; b++) {
            bucketAccepted[b] *= f;
            bucketRejected[b] *= f;
        }
        if (drafted == 0) {
            return;
        }
        double perToken = (double) outcome.draftNanos() / drafted;
        draftPerToken = Double.isNaN(draftPerToken) ? perToken
                : COST_FORGETTING * draftPerToken + (1 - COST_FORGETTING) * perToken;
        Proposal proposal = outcome.proposal();
        for (int i = 0; i < Math.min(drafted, accepted.length); i++) {
            boolean ok = i < kept;
            if (!ok && i > kept) {
                break; // positions after the first rejection were never judged
            }
            if (ok) {
                accepted[i]++;
                pooledAccepted++;
            } else {
                rejected[i]++;
                pooledRejected++;
            }
            double c = i < proposal.size() ? proposal.confidence(i) : Double.NaN;
            if (!Double.isNaN(c)) {
                int b = Math.min(BUCKETS - 1, (int) (c * BUCKETS));
                if (ok) {
                    bucketAccepted[b]++;
                } else {
                    bucketRejected[b]++;
                }
            }
        }
    }

    /** Estimated acceptance of position {@code i} (1-based) given the previous ones were accepted. */
    double acceptance(int i) {
        double pooled = pooledAcceptance();
        double s = o.priorStrength();
        return (accepted[i - 1] + s * pooled) / (accepted[i - 1] + rejected[i - 1] + s);
    }

    double pooledAcceptance() {
        double s = o.priorStrength();
        return (pooledAccepted + s * o.priorAcceptance()) / (pooledAccepted + pooledRejected + s);
    }

    /** Expected tokens per step when drafting k. */
    double expectedTokens(int k) {
        double e = 1;
        double reach = 1;
        for (int j = 1; j <= k; j++) {
            reach *= acceptance(j);
            e += reach;
        }
        return e;
    }

    /** Expected tokens per nanosecond when drafting k. */
    double rate(int k) {
        return expectedTokens(k) / (draftCost(k) + verifyCost(k + 1));
    }

    private int bestDraftLength(int from) {
        int best = from;
        double bestRate = rate(from);
        for (int k = from + 1; k <= o.maxDraftLength(); k++) {
            double r = rate(k);
            if (r > bestRate) {
                best = k;
                bestRate = r;
            }
        }
        return best;
    }

    private double draftCost(int k) {
        if (k == 0) {
            return 0;
        }
        double perToken = Double.isNaN(draftPerToken) ? o.draftCostPrior() * verifyCost(1) : draftPerToken;
        return k * perToken;
    }

    /** Estimated wall time of one target call over n positions. */
    double verifyCost(int n) {
        refreshCostModel();
        return predictedVerify[n];
    }

    /**
     * Cost of one more verified position: the least-squares slope over the measured lengths (robust to one noisy
     * length), else the prior slope.
     */
    private double verifySlope() {
        refreshCostModel();
        return verifySlope;
    }

    /**
     * Recomputes the verify-cost model after new measurements: measured lengths use their running mean; others
     * are extrapolated from the nearest measured length with the least-squares slope over all measured lengths
     * (the prior slope until two lengths are measured).
     */
    private void refreshCostModel() {
        if (!costModelDirty) {
            return;
        }
        costModelDirty = false;
        SimpleRegression fit = new SimpleRegression();
        int measured = 0;
        for (int m = 1; m < verifyMean.length; m++) {
            if (verifyWeight[m] >= 0.5) {
                fit.addData(m, verifyMean[m]);
                measured++;
            }
        }
        for (int n = 1; n < verifyMean.length; n++) {
            if (verifyWeight[n] >= 0.5) {
                predictedVerify[n] = verifyMean[n];
                continue;
            }
            int anchor = -1;
            for (int m = 1; m < verifyMean.length; m++) {
                if (verifyWeight[m] >= 0.5 && (anchor < 0 || Math.abs(m - n) < Math.abs(anchor - n))) {
                    anchor = m;
                }
            }
            if (anchor < 0) {
                predictedVerify[n] = Double.NaN;
            } else if (measured >= 2 && fit.getSlope() >= 0) {
                predictedVerify[n] = Math.max(verifyMean[anchor] + fit.getSlope() * (n - anchor), 1e-9);
            } else {
                double s = o.verifySlopePrior();
                predictedVerify[n] = verifyMean[anchor] * (1 + s * (n - 1)) / (1 + s * (anchor - 1));
            }
        }
        verifySlope = measured >= 2 ? Math.max(0, fit.getSlope()) : o.verifySlopePrior() * predictedVerify[1];
    }

    private boolean anyVerifyMeasured() {
        for (double w : verifyWeight) {
            if (w >= 0.5) {
                return true;
            }
        }
        return false;
    }

    private void observeVerify(int n, long nanos) {
        if (verifyWeight[n] == 0) {
            verifyMean[n] = nanos;
        } else {
            verifyMean[n] = COST_FORGETTING * verifyMean[n] + (1 - COST_FORGETTING) * nanos;
        }
        verifyWeight[n] = Math.min(1e6, verifyWeight[n] + 1);
        costModelDirty = true;
    }

    /** Whether the optimistic (90% upper credible bound) acceptance would make drafting worth it. */
    private boolean speculationCouldWin() {
        double s = o.priorStrength();
        double pooled = pooledAcceptance();
        double alpha = accepted[0] + s * pooled;
        double beta = rejected[0] + s * (1 - pooled);
        double upper = new BetaDistribution(null, alpha, beta).inverseCumulativeProbability(0.9);
        double cost1 = draftCost(1) + verifyCost(2);
        return (1 + upper) / cost1 > rate(0);
    }

    /** The lowest draft confidence at which drafting one more token still pays (0 = never stop early). */
    private double stopThreshold(int k) {
        if (!o.adaptiveStop()) {
            return 0;
        }
        double marginal = draftCost(1) + verifySlope();
        double breakEven = marginal * rate(k);
        double pooled = pooledAcceptance();
        double s = o.priorStrength();
        double threshold = 0;
        for (int b = BUCKETS - 1; b >= 0; b--) {
            double n = bucketAccepted[b] + bucketRejected[b];
            if (n < 1) {
                continue; // no evidence for this confidence: do not stop there
            }
            double est = (bucketAccepted[b] + s * pooled) / (n + s);
            if (est < breakEven) {
                threshold = (double) (b + 1) / BUCKETS;
                break;
            }
        }
        return Math.min(threshold, 0.95);
    }

    /** Steps planned so far. */
    int steps() {
        return steps;
    }
}
