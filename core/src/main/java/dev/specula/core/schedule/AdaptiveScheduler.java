package dev.specula.core.schedule;

import dev.specula.core.StepOutcome;
import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.Proposal;
import org.apache.commons.math3.distribution.BetaDistribution;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Picks the draft length that maximizes expected tokens per second, from what it measures online.
 *
 * <p>The model. Whether a draft token is accepted is a property of the text more than of the draft's length: with
 * greedy decoding the draft's token at a text position is the same whichever step drafts it, and text comes in
 * easy stretches (a repeated identifier, boilerplate) and hard ones. So acceptance is tracked per run r of draft
 * tokens accepted in a row, counted across steps until a rejection (a fully accepted draft's next step continues
 * the run): a(r) is the probability that the next draft token is accepted after r were, estimated per run bucket
 * (0, 1, 2, 3, then two buckets per doubling) by a Beta posterior with exponential forgetting, each bucket shrunk
 * towards the one before it (rarely reached long runs borrow strength from shorter ones) and the first towards the
 * acceptance pooled over the other buckets. A step that drafts k tokens after a run of r, with
 * a<sub>i</sub> = a(r + i - 1), yields E(k) = 1 + &Sigma;<sub>j=1..k</sub> &Pi;<sub>i&le;j</sub> a<sub>i</sub> tokens
 * &mdash; Leviathan's (1 - a<sup>k+1</sup>) / (1 - a) when every a<sub>i</sub> = a &mdash; and costs
 * T(k) = D(k) + V(k+1), where D(k) is the measured cost of drafting k tokens and V(n) the measured cost of one
 * target call over n positions (each a {@link CostCurve}: per length the lower quartile of recent measurements,
 * robust to a GC pause, shrunk towards a least-squares line over all lengths, which also extrapolates to unmeasured
 * ones).
 * It plans k* = argmax E(k)/T(k) over 1..max at the current run, so it drafts longer the longer the draft has been
 * right, as Hugging Face's heuristic does, but priced. Whether a source drafts at all is judged by the same rate at
 * the acceptance per draft position pooled over runs (a<sub>i</sub> for position i, position 1 shrunk towards the
 * prior, each later one towards the one before): what drafting is worth on this text on average, where the state
 * right after a rejection alone would switch sources off on texts whose gain is in their easy stretches. Plain
 * decoding (k = 0) is chosen when speculation loses (or wins
 * by less than 3%, which unmodeled per-step work eats). Every few speculative steps it drafts one token more than
 * planned, without early stop, so the next length's cost and acceptance stay measured; twice as often while the next
 * position is barely measured and would pay at a high acceptance (drafts of k tokens never measure position k + 1,
 * and acceptance usually rises with the position: without this a fresh generation could stay at one token). A
 * source's evidence fades with each of its drafts and while it is switched off; while at k = 0 it probes k &ge; 1
 * after 8, 16, 32, ... (up to {@code maxProbeInterval}) steps, so regime changes are noticed and draft costs, which
 * only drafting measures, do not go stale. A probe drafts on two consecutive steps while the source stays off: the
 * first also feeds a draft model the tokens decoded while it was off, so only the second one's cost is measured.
 * A source's first {@value #EARLY_VERDICTS} verdicts switch it off only if its 90% upper credible acceptance loses
 * too, so one unlucky first draft does not mean plain decoding until the next probe; later, a drafting source stays
 * on while its {@value #STAY_ON_QUANTILE} posterior quantile of acceptance still wins.
 *
 * <p>Per source. Acceptance and draft cost are tracked separately for each {@link Proposal#source() source}
 * (a composite drafter's prompt lookup and draft model behave very differently), and the plan carries a length
 * per known source ({@link DraftPlan#forSource}); the target's verify costs are shared.
 *
 * <p>Early stop: acceptance is also tracked per bucket of the draft's own confidence. Drafting one more token
 * costs about D' + V' (the slopes) and gains at most its acceptance, so a model draft should stop at tokens
 * whose estimated acceptance is below (D' + V')&middot;E(k)/T(k), divided by what an accepted token is worth (it
 * also opens the way for the tokens after it: about 1/(1 - a), at most k); the plan's {@code minConfidence} is the
 * lowest confidence at which that still pays (llama.cpp's draft-p-min, made adaptive).
 *
 * <p>Cold start. Given a {@link CostCalibration} (measured when the models load), the verify costs and a model
 * draft's costs take the calibration's shape (how cost grows with length) at the level of the online measurements,
 * until two lengths are measured online: a calibration taken while the process warms up is slower than the steady
 * state, and more so for the draft, so its absolute costs would overprice the lengths not yet measured online (in a
 * fresh {@code generate}, every draft longer than one token) and pin k at 1. Costs are per length the lower
 * quartile of recent measurements, so cold first calls and a noisy machine, which only ever add time, do not hold an
 * estimate up. The acceptance starts at the prior, which drafts.
 */
public final class AdaptiveScheduler implements DraftScheduler {

    /**
     * @param maxDraftLength     the longest draft considered
     * @param forgetting         per-step decay of acceptance evidence (0.98 remembers ~50 steps)
     * @param priorAcceptance    prior mean acceptance before any evidence
     * @param priorStrength      pseudo-observations behind priors and behind each position's shrinkage
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

    /**
     * What a finished generation learned, carried into the next one as a weak prior: measured costs (stable for a
     * model pair and machine) and acceptance evidence scaled down to at most {@value #CARRIED_EVIDENCE}
     * observations per position, so each generation still adapts to its own text within a few steps.
     *
     * @param sources     per-source acceptance and draft cost
     * @param verifyCosts recent costs of a target call, per number of verified positions
     */
    public record Snapshot(Map<String, SourceSnapshot> sources, double[][] verifyCosts) {
    }

    /** One source's learned state (see {@link Snapshot}). */
    public record SourceSnapshot(double[] accepted, double[] rejected, double[] runAccepted, double[] runRejected,
                                 double pooledAccepted, double pooledRejected,
                                 double[] bucketAccepted, double[] bucketRejected, double[][] draftCosts,
                                 boolean modelDraft) {
    }

    private static final int BUCKETS = 10;
    /** Acceptance is tracked per run of accepted draft tokens: runs 0-3 each, then two buckets per doubling. */
    private static final int RUN_BUCKETS = 12;
    /**
     * Prices a draft by the acceptance per draft position, pooled over the runs it followed: what drafting is worth
     * on this text on average, which decides whether a source drafts at all (a source judged by the state right after
     * a rejection alone, the hardest, would be switched off on texts whose gain is in their easy stretches).
     */
    static final int ANY_RUN = -1;

    /** The bucket of a run of {@code run} accepted draft tokens: 0-3 alone, then 4-5, 6-7, 8-11, 12-15, 16-23, ... */
    static int runBucket(int run, int buckets) {
        if (run < 4) {
            return Math.min(run, buckets - 1);
        }
        int log = 31 - Integer.numberOfLeadingZeros(run);
        int b = 2 * log + (run >= 3 << (log - 1) ? 1 : 0);
        return Math.min(b, buckets - 1);
    }
    private static final double CARRIED_EVIDENCE = 8;
    private static final int EXPLORE_INTERVAL = 12;
    private static final int EXERCISE_STEPS = 2000;
    /** Acceptance a barely measured next position is hoped to have when deciding whether to measure it sooner. */
    private static final double HOPEFUL_ACCEPTANCE = 0.9;
    /** Evidence (decayed verdicts) below which a position counts as barely measured. */
    private static final double BARELY_MEASURED = 3;
    /** The posterior quantile of first-position acceptance that keeps a drafting source on. */
    private static final double STAY_ON_QUANTILE = 0.7;
    /** Verdicts of a source first seen in this generation before its mean acceptance alone may switch it off. */
    static final int EARLY_VERDICTS = 8;
    /**
     * Speculation must promise this much over plain decoding: a speculative step also pays for work the cost model
     * does not see (the loop's bookkeeping, the drafter's), so a predicted gain of a percent or two is a loss.
     */
    private static final double MIN_GAIN = 0.03;
    /** What one more draft token must promise over the best shorter length, relative. */
    private static final double LONGER_DRAFT_GAIN = 0.01;

    private final Options o;
    private final CostCalibration calibration; // may be null
    private final Consumer<Snapshot> publish;
    private final Map<String, SourceStats> sources = new LinkedHashMap<>();
    private final CostCurve verify;   // size n = positions verified in one call
    private final SourceStats unseen; // the prior alone, for sources without evidence yet
    private int plainSteps;
    private int sinceExplore;
    private int probeInterval;
    private boolean measureNext; // the last plan was a probe's first step: the next, if still off, measures its cost

    public AdaptiveScheduler(Options options) {
        this(options, null, null, s -> { });
    }

    /**
     * A scheduler that starts from what an earlier generation learned ({@code prior}, may be null), else from
     * {@code calibration} (may be null), and hands what it learned to {@code publish} when its generation finishes.
     */
    public AdaptiveScheduler(Options options, CostCalibration calibration, Snapshot prior, Consumer<Snapshot> publish) {
        this.o = options;
        this.calibration = calibration;
        this.publish = publish;
        this.probeInterval = options.minProbeInterval();
        this.unseen = new SourceStats(options, false, null);
        int positions = options.maxDraftLength() + 1;
        boolean restore = prior != null && prior.verifyCosts().length == positions + 1;
        double[] verifyShape = null;
        if (calibration != null) {
            verifyShape = new double[positions + 1];
            for (int n = 1; n <= positions; n++) {
                verifyShape[n] = calibration.verifyNanos(n);
            }
        }
        this.verify = CostCurve.restore(restore ? prior.verifyCosts() : null, positions, verifyFixedShare(options),
                (int) CARRIED_EVIDENCE, verifyShape);
        if (restore) {
            prior.sources().forEach((name, s) -> sources.put(name, SourceStats.restore(o, s, draftShape(s.modelDraft()))));
        }
    }

    /**
     * The calibration's cost of drafting 1..max tokens from a draft model, as a prior shape (null for a lookup, or
     * without a calibrated draft model): its level is rescaled to the online measurements (see {@link CostCurve}).
     */
    private double[] draftShape(boolean modelDraft) {
        if (!modelDraft || calibration == null || !calibration.hasDraftModel() || !(calibration.draftStepNanos() > 0)) {
            return null;
        }
        double[] shape = new double[o.maxDraftLength() + 1];
        for (int k = 1; k <= o.maxDraftLength(); k++) {
            shape[k] = calibration.draftNanos(k);
        }
        return shape;
    }

    /** Statistics for a source seen for the first time: a model draft's costs shaped by the calibration. */
    private SourceStats newSource(Proposal first) {
        boolean model = first.modelCalls() > 0;
        return new SourceStats(o, model, draftShape(model));
    }

    /** The cost of a draft token assumed for a source until its drafts are measured. */
    private double draftTokenPrior() {
        return calibration != null && calibration.hasDraftModel() ? calibration.draftStepNanos()
                : o.draftCostPrior() * verifyCost(1);
    }

    /**
     * Runs a throwaway scheduler over {@value #EXERCISE_STEPS} simulated steps priced by {@code calibration} (seeded
     * i.i.d. acceptance, confidences included; about 70 ms), so that the JIT compiles the scheduler's code before the
     * first real generation: in a fresh process its plan and feedback otherwise run interpreted for the first few
     * generations, at 40-250 us per step against 10-25 us after this, 2-4% of a step of the embedded pair.
     */
    public static void exercise(Options options, CostCalibration calibration) {
        AdaptiveScheduler s = new AdaptiveScheduler(options, calibration, null, learned -> { });
        SplittableRandom random = new SplittableRandom(0x5EED);
        String source = calibration.hasDraftModel() ? "model" : "lookup";
        for (int i = 0; i < EXERCISE_STEPS; i++) {
            DraftPlan plan = s.plan();
            int k = plan.maxDraftTokens();
            float[] confidences = new float[k];
            int accepted = 0;
            for (int j = 0; j < k; j++) {
                confidences[j] = (float) random.nextDouble();
            }
            while (accepted < k && random.nextDouble() < 0.6) {
                accepted++;
            }
            Proposal proposal = new Proposal(new int[k], null, confidences, calibration.hasDraftModel() ? k : 0, source);
            s.feedback(new StepOutcome(plan, proposal, new Verdict(k, accepted, 0),
                    Math.round(calibration.hasDraftModel() ? calibration.draftNanos(k) : 0),
                    Math.round(calibration.verifyNanos(k + 1))));
        }
    }

    @Override
    public void finish() {
        Map<String, SourceSnapshot> learned = new HashMap<>();
        sources.forEach((name, s) -> learned.put(name, s.snapshot()));
        publish.accept(new Snapshot(Map.copyOf(learned), verify.values()));
    }

    @Override
    public DraftPlan plan() {
        if (verify.isUnknown()) {
            return DraftPlan.of(o.initialDraftLength());
        }
        double plain = rate(null, 0, 0);
        Map<String, DraftPlan> bySource = new HashMap<>();
        int longest = 0;
        double bestGain = 0;
        DraftPlan best = null;
        boolean unmeasured = false;
        for (Map.Entry<String, SourceStats> e : sources.entrySet()) {
            SourceStats s = e.getValue();
            int base = bestDraftLength(s, ANY_RUN);
            double gain = rate(s, base, ANY_RUN) / plain;
            // A source's first few verdicts switch it off only if even an optimistic acceptance loses: against a
            // prior of strength 2, one rejected first draft would otherwise mean plain decoding until the next probe.
            // Hysteresis: switching on needs the margin for unmodeled work; a source stays on while a mildly
            // optimistic acceptance still wins, so a marginal source does not flip off with every dip of its noisy
            // estimate (a text's hard opening stretch, say), which only a probe could undo.
            boolean on = gain > 1 + (s.on ? 0 : MIN_GAIN) || s.verdicts < EARLY_VERDICTS && couldWin(s, plain, 0.9)
                    || s.on && couldWin(s, plain, STAY_ON_QUANTILE);
            s.on = on;
            int k = bestDraftLength(s, s.streak);
            unmeasured |= on && worthMeasuring(s, k);
            DraftPlan p = new DraftPlan(on ? k : 0, stopThreshold(s, k));
            bySource.put(e.getKey(), p);
            longest = Math.max(longest, p.maxDraftTokens());
            if (best == null || gain > bestGain) {
                best = p;
                bestGain = gain;
            }
        }
        // A source not seen yet (or the only one, before any draft) is judged by the prior.
        int unseenK = sources.isEmpty() ? bestDraftLength(unseen, ANY_RUN) : 0;
        boolean unseenWins = sources.isEmpty() && rate(unseen, unseenK, ANY_RUN) > plain;
        if (longest == 0 && !unseenWins) {
            plainSteps++;
            // Probes are not gated by the cost estimates: those are only re-measured by drafting, so a source
            // measured slow once (a fresh process's first calls, a busy moment) would otherwise never be tried again.
            if (measureNext) {
                measureNext = false;
                plainSteps = 0;
                return probePlan(bySource, SourceStats.PROBE_MEASURE);
            }
            if (plainSteps >= probeInterval) {
                plainSteps = 0;
                probeInterval = Math.min(o.maxProbeInterval(), probeInterval * 2);
                measureNext = true;
                return probePlan(bySource, SourceStats.PROBE_CATCH_UP);
            }
            return DraftPlan.of(0);
        }
        measureNext = false;
        plainSteps = 0;
        probeInterval = o.minProbeInterval();
        if (++sinceExplore >= (unmeasured ? EXPLORE_INTERVAL / 2 : EXPLORE_INTERVAL) && !bySource.isEmpty()) {
            sinceExplore = 0;
            bySource.replaceAll((name, p) -> explore(p));
            longest = bySource.values().stream().mapToInt(DraftPlan::maxDraftTokens).max().orElse(longest);
        }
        int fallback = sources.isEmpty() ? unseenK : Math.max(longest, 1);
        return new DraftPlan(Math.max(longest, fallback), best == null ? 0 : best.minConfidence(), bySource);
    }

    /**
     * Now and then, one draft token more than planned and no early stop: keeps the measured cost and acceptance
     * of the next length fresh (a length measured only during warm-up, or never reached, is judged by current
     * evidence), and measures the acceptance of the low-confidence tokens an early stop cuts, which it would
     * otherwise never see again.
     */
    private DraftPlan explore(DraftPlan p) {
        int k = p.maxDraftTokens();
        return k == 0 ? p : new DraftPlan(Math.min(k + 1, o.maxDraftLength()), 0);
    }

    /**
     * One speculative step while plain decoding wins: every source drafts its best positive length once. A probe
     * takes two steps while the source stays off: the first ({@code PROBE_CATCH_UP}) also feeds a draft model every
     * token decoded while it was off, so only its verdicts count; the second ({@code PROBE_MEASURE}) measures the draft
     * cost, which replaces the costs measured before the source was switched off when it is cheaper (see
     * {@link SourceStats#observe}).
     */
    private DraftPlan probePlan(Map<String, DraftPlan> plans, int probe) {
        Map<String, DraftPlan> probes = new HashMap<>();
        int longest = 1;
        for (Map.Entry<String, SourceStats> e : sources.entrySet()) {
            SourceStats s = e.getValue();
            int k = bestDraftLength(s, ANY_RUN);
            // Only a source that drafted on the previous step (the catch-up) is measured now; any other catches up.
            s.probe = probe == SourceStats.PROBE_MEASURE && s.caughtUp ? SourceStats.PROBE_MEASURE
                    : SourceStats.PROBE_CATCH_UP;
            probes.put(e.getKey(), new DraftPlan(k, plans.get(e.getKey()).minConfidence()));
            longest = Math.max(longest, k);
        }
        return new DraftPlan(longest, 0, probes);
    }

    @Override
    public void feedback(StepOutcome outcome) {
        int drafted = outcome.verdict().drafted();
        verify.add(drafted + 1, Math.max(1, outcome.verifyNanos())); // a coarse clock may report 0
        // A source's evidence fades with each of its own drafts, and on each step it was switched off (planned at
        // k = 0): while off, its estimates drift back towards the prior, so an early unlucky verdict cannot switch
        // it off for good. A step where it was asked but found nothing to propose (a lookup without a match) says
        // nothing and fades nothing, else a drafter that rarely matches would be judged by the prior alone.
        sources.forEach((name, s) -> {
            if (outcome.plan().forSource(name).maxDraftTokens() == 0) {
                s.decay(o.forgetting());
            }
        });
        if (drafted > 0) {
            Proposal proposal = outcome.proposal();
            SourceStats stats = sources.computeIfAbsent(proposal.source(), name -> newSource(proposal));
            stats.decay(o.forgetting());
            stats.observe(proposal, outcome.verdict().accepted(), outcome.draftNanos());
        }
        // A probe's plan lasts one step: a source that proposed nothing in it, or was not the one that drafted, was
        // not measured; only the one that drafted is caught up for the next step.
        String drafter = drafted > 0 ? outcome.proposal().source() : null;
        sources.forEach((name, s) -> {
            s.caughtUp = name.equals(drafter);
            s.probe = SourceStats.NO_PROBE;
            if (!s.caughtUp) {
                s.streak = 0; // tokens this source did not draft say nothing about its run
            }
        });
    }

    /**
     * Expected tokens per nanosecond when {@code s} drafts k after a run of {@code streak} accepted draft tokens, or
     * at its per-position acceptance for {@link #ANY_RUN} (null: plain decoding, k = 0).
     */
    double rate(SourceStats s, int k, int streak) {
        double draft = k == 0 ? 0 : s.draftCost(k, draftTokenPrior());
        return (k == 0 ? 1 : s.expectedTokens(streak, k)) / (draft + verifyCost(k + 1));
    }

    /** The k in [1, max] with the highest {@link #rate}; expected tokens accumulate over k in one pass. */
    private int bestDraftLength(SourceStats s, int streak) {
        double perToken = draftTokenPrior();
        int best = 1;
        double bestRate = -1;
        double expected = 1;
        double reach = 1;
        double a = s.chainStart(streak);
        for (int k = 1; k <= o.maxDraftLength(); k++) {
            a = s.acceptance(streak, k, a);
            reach *= a;
            expected += reach;
            double r = expected / (s.draftCost(k, perToken) + verifyCost(k + 1));
            // A longer draft must promise a little more: each drafted token also costs work the model does not see
            // (the drafter's bookkeeping), and a near tie is within the estimates' error anyway.
            if (r > bestRate * (1 + LONGER_DRAFT_GAIN)) {
                best = k;
                bestRate = r;
            }
        }
        return best;
    }

    /**
     * Whether position k + 1 of {@code s} is barely measured while drafting it would pay if it were accepted
     * {@value #HOPEFUL_ACCEPTANCE} of the time: drafting k tokens measures only positions 1..k, and a later position's
     * estimate leans on the earlier ones, while acceptance usually rises with the position.
     */
    private boolean worthMeasuring(SourceStats s, int k) {
        if (k >= o.maxDraftLength() || s.evidence(s.streak, k + 1) >= BARELY_MEASURED) {
            return false;
        }
        double perToken = draftTokenPrior();
        double expected = 1;
        double reach = 1;
        double a = s.chainStart(s.streak);
        for (int i = 1; i <= k; i++) {
            a = s.acceptance(s.streak, i, a);
            reach *= a;
            expected += reach;
        }
        double now = expected / (s.draftCost(k, perToken) + verifyCost(k + 1));
        double hope = (expected + reach * HOPEFUL_ACCEPTANCE) / (s.draftCost(k + 1, perToken) + verifyCost(k + 2));
        return hope > now;
    }

    /** Estimated wall time of one target call over n positions. */
    double verifyCost(int n) {
        return verify.cost(n);
    }

    /** The prior shape of verify costs: one more position costs {@code verifySlopePrior} of a one-position call. */
    private static double verifyFixedShare(Options o) {
        return 1 / (1 + o.verifySlopePrior());
    }

    /** Whether drafting one token from {@code s} beats plain decoding at the given quantile of its acceptance. */
    private boolean couldWin(SourceStats s, double plain, double quantile) {
        double upper = s.upperAcceptance(quantile);
        double cost1 = s.draftCost(1, draftTokenPrior()) + verifyCost(2);
        return (1 + upper) / cost1 > plain;
    }

    /** The lowest draft confidence at which drafting one more token still pays (0 = never stop early). */
    private double stopThreshold(SourceStats s, int k) {
        if (!o.adaptiveStop()) {
            return 0;
        }
        double marginal = s.draftSlope(draftTokenPrior()) + verify.slope();
        // A drafted token that is accepted also opens the way for the ones after it: worth about 1 / (1 - a)
        // tokens at pooled acceptance a (at most k), not one. Valuing it at one stops drafts too early.
        double worth = Math.min(k, 1 / (1 - Math.min(s.pooledAcceptance(), 0.99)));
        return s.threshold(marginal * rate(s, k, s.streak) / Math.max(1, worth));
    }

    /**
     * What the scheduler believes now, for step traces: verify costs at 1..3 positions, and per source the draft
     * costs of 1..3 tokens and the acceptance of positions 1..3 (milliseconds).
     */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(java.util.Locale.ROOT, "verify %.2f/%.2f/%.2f", verifyCost(1) / 1e6, verifyCost(2) / 1e6,
                verifyCost(3) / 1e6));
        double prior = verify.isEmpty() ? Double.NaN : draftTokenPrior();
        sources.forEach((name, s) -> b.append(String.format(java.util.Locale.ROOT,
                " %s: draft %.2f/%.2f/%.2f a %.2f/%.2f/%.2f", name, s.draftCost(1, prior) / 1e6,
                s.draftCost(2, prior) / 1e6, s.draftCost(3, prior) / 1e6, s.acceptance(1), s.acceptance(2),
                s.acceptance(3)) + (s.streak > 0 ? " run " + s.streak : "")));
        return b.toString();
    }

    /** Acceptance statistics and draft cost of one source of drafts. */
    static final class SourceStats {
        static final int NO_PROBE = 0;
        static final int PROBE_CATCH_UP = 1;
        static final int PROBE_MEASURE = 2;
        private final Options o;
        private final double[] accepted;   // per draft position: decayed count of acceptances
        private final double[] rejected;   // per draft position: decayed count of rejections
        private final double[] runAccepted = new double[RUN_BUCKETS]; // the same per run bucket
        private final double[] runRejected = new double[RUN_BUCKETS];
        private int streak;                // draft tokens accepted in a row, up to the last one verified
        private double pooledAccepted;
        private double pooledRejected;
        private final double[] bucketAccepted = new double[BUCKETS];
        private final double[] bucketRejected = new double[BUCKETS];
        private final boolean modelDraft;
        private CostCurve draftCosts;   // size n = tokens drafted in one proposal
        private int verdicts;           // drafts of this source verified, EARLY_VERDICTS if carried over
        private boolean on;             // planned to draft at the last plan
        private int probe = NO_PROBE;   // whether the next draft is a probe's, and which step (see observe)
        private boolean caughtUp;       // drafted on the last step, so its draft model holds every token

        /** @param shape the prior shape of draft costs (null: none) */
        SourceStats(Options o, boolean modelDraft, double[] shape) {
            this.o = o;
            this.modelDraft = modelDraft;
            this.accepted = new double[o.maxDraftLength()];
            this.rejected = new double[o.maxDraftLength()];
            this.draftCosts = new CostCurve(o.maxDraftLength(), 0, shape);
        }

        static SourceStats restore(Options o, SourceSnapshot p, double[] shape) {
            SourceStats s = new SourceStats(o, p.modelDraft(), shape);
            carry(p.accepted(), p.rejected(), s.accepted, s.rejected);
            carry(p.runAccepted(), p.runRejected(), s.runAccepted, s.runRejected);
            double pooledScale = scale(p.pooledAccepted() + p.pooledRejected(), 2 * CARRIED_EVIDENCE);
            s.pooledAccepted = p.pooledAccepted() * pooledScale;
            s.pooledRejected = p.pooledRejected() * pooledScale;
            for (int b = 0; b < BUCKETS; b++) {
                double scale = scale(p.bucketAccepted()[b] + p.bucketRejected()[b], CARRIED_EVIDENCE);
                s.bucketAccepted[b] = p.bucketAccepted()[b] * scale;
                s.bucketRejected[b] = p.bucketRejected()[b] * scale;
            }
            s.draftCosts = CostCurve.restore(p.draftCosts(), o.maxDraftLength(), 0, (int) CARRIED_EVIDENCE, shape);
            s.verdicts = EARLY_VERDICTS; // judged in an earlier generation: no early optimism again
            return s;
        }

        private static double scale(double total, double max) {
            return total > max ? max / total : 1;
        }

        /** Copies carried counts, each bucket scaled down to at most {@value #CARRIED_EVIDENCE} verdicts. */
        private static void carry(double[] fromAccepted, double[] fromRejected, double[] accepted, double[] rejected) {
            for (int i = 0; i < Math.min(accepted.length, fromAccepted.length); i++) {
                double scale = scale(fromAccepted[i] + fromRejected[i], CARRIED_EVIDENCE);
                accepted[i] = fromAccepted[i] * scale;
                rejected[i] = fromRejected[i] * scale;
            }
        }

        SourceSnapshot snapshot() {
            return new SourceSnapshot(accepted.clone(), rejected.clone(), runAccepted.clone(), runRejected.clone(),
                    pooledAccepted, pooledRejected,
                    bucketAccepted.clone(), bucketRejected.clone(), draftCosts.values(), modelDraft);
        }

        void decay(double f) {
            pooledAccepted *= f;
            pooledRejected *= f;
            for (int i = 0; i < accepted.length; i++) {
                accepted[i] *= f;
                rejected[i] *= f;
            }
            for (int b = 0; b < RUN_BUCKETS; b++) {
                runAccepted[b] *= f;
                runRejected[b] *= f;
            }
            for (int b = 0; b < BUCKETS; b++) {
                bucketAccepted[b] *= f;
                bucketRejected[b] *= f;
            }
        }

        /**
         * Records a verified draft. A probe's first draft also fed the draft model every token decoded while the
         * source was off: its verdicts count, its cost does not. A probe's second draft that is cheaper than the
         * costs measured before the source was switched off replaces them: those were measured slow (a cold
         * process, a busy moment) and only drafting measures them again; a dearer one joins them, as noise only
         * ever adds time.
         */
        void observe(Proposal proposal, int kept, long draftNanos) {
            int drafted = proposal.size();
            verdicts++;
            double cost = Math.max(1.0, draftNanos);
            if (probe != PROBE_CATCH_UP) {
                if (probe == PROBE_MEASURE && !draftCosts.isUnknown() && cost < draftCosts.cost(drafted)) {
                    forgetDraftCosts();
                }
                draftCosts.add(drafted, cost);
            }
            probe = NO_PROBE;
            // Positions after the first rejection were never judged.
            for (int i = 0; i < Math.min(drafted, kept + 1); i++) {
                boolean ok = i < kept;
                int b = bucket(streak, i + 1);
                if (ok) {
                    runAccepted[b]++;
                    pooledAccepted++;
                } else {
                    runRejected[b]++;
                    pooledRejected++;
                }
                if (i < accepted.length) {
                    if (ok) {
                        accepted[i]++;
                    } else {
                        rejected[i]++;
                    }
                }
                double c = proposal.confidence(i);
                if (!Double.isNaN(c)) {
                    int cb = Math.min(BUCKETS - 1, (int) (c * BUCKETS));
                    if (ok) {
                        bucketAccepted[cb]++;
                    } else {
                        bucketRejected[cb]++;
                    }
                }
            }
            streak = kept == drafted ? Math.min(streak + drafted, 1 << 20) : 0; // a run's bucket stops growing anyway
        }

        void forgetDraftCosts() {
            draftCosts = draftCosts.emptied();
        }

        /** Estimated cost of drafting k tokens; {@code perTokenPrior} per token until measured. */
        double draftCost(int k, double perTokenPrior) {
            return draftCosts.isUnknown() ? k * perTokenPrior : draftCosts.cost(k);
        }

        /** Estimated cost of drafting one token more. */
        double draftSlope(double perTokenPrior) {
            return draftCosts.isUnknown() ? perTokenPrior : draftCosts.slope();
        }

        double pooledAcceptance() {
            double s = o.priorStrength();
            return (pooledAccepted + s * o.priorAcceptance()) / (pooledAccepted + pooledRejected + s);
        }

        /**
         * The statistics bucket of draft position {@code i} (1-based) of a draft made after a run of {@code streak}:
         * a run bucket, or for {@link #ANY_RUN} the position itself.
         */
        int bucket(int streak, int i) {
            return streak == ANY_RUN ? Math.min(i - 1, accepted.length - 1)
                    : runBucket(streak + i - 1, RUN_BUCKETS);
        }

        /**
         * What position 1 of a draft after a run of {@code streak} is shrunk towards. Per position ({@link #ANY_RUN}):
         * the prior, not the pooled acceptance, which is mostly position 1's own evidence (every draft tests it), so
         * shrinking towards it would count each early verdict twice. Per run: the estimate of the run bucket before
         * it, and after a rejection the acceptance pooled over the other run buckets (shrunk towards the prior); not
         * the prior alone, which a rarely visited first bucket (rejections are rare at high acceptance) would lean on,
         * pricing every draft after a rejection low.
         */
        double chainStart(int streak) {
            if (streak == ANY_RUN) {
                return o.priorAcceptance();
            }
            double s = o.priorStrength();
            double a = (pooledAccepted - runAccepted[0] + s * o.priorAcceptance())
                    / (pooledAccepted + pooledRejected - runAccepted[0] - runRejected[0] + s);
            for (int b = 0; b < bucket(streak, 1); b++) {
                a = shrunk(runAccepted, runRejected, b, a);
            }
            return a;
        }

        /** Estimated acceptance of draft position {@code i} (1-based) per position, given i - 1 were accepted. */
        double acceptance(int i) {
            double a = chainStart(ANY_RUN);
            for (int j = 1; j <= i; j++) {
                a = acceptance(ANY_RUN, j, a);
            }
            return a;
        }

        /**
         * The acceptance of draft position {@code i} after a run of {@code streak} (or per position), shrunk towards
         * {@code previous}, the estimate of the bucket before: acceptance usually rises with the run, so shrinking
         * rarely reached buckets to a pooled mean (mostly the first bucket's evidence) would keep judging long drafts
         * by short ones.
         */
        double acceptance(int streak, int i, double previous) {
            int b = bucket(streak, i);
            if (i > 1 && b == bucket(streak, i - 1)) {
                return previous; // the same bucket as the position before
            }
            return streak == ANY_RUN ? shrunk(accepted, rejected, b, previous)
                    : shrunk(runAccepted, runRejected, b, previous);
        }

        private double shrunk(double[] accepted, double[] rejected, int b, double previous) {
            double s = o.priorStrength();
            return (accepted[b] + s * previous) / (accepted[b] + rejected[b] + s);
        }

        /** The (decayed) verdicts on draft position {@code i} (1-based) after a run of {@code streak}. */
        double evidence(int streak, int i) {
            int b = bucket(streak, i);
            return streak == ANY_RUN ? accepted[b] + rejected[b] : runAccepted[b] + runRejected[b];
        }

        /** Expected tokens per step when drafting k after a run of {@code streak} (or per position). */
        double expectedTokens(int streak, int k) {
            double e = 1;
            double reach = 1;
            double a = chainStart(streak);
            for (int j = 1; j <= k; j++) {
                a = acceptance(streak, j, a);
                reach *= a;
                e += reach;
            }
            return e;
        }

        /**
         * The given quantile of the posterior acceptance of the first draft position, shrunk towards the pooled
         * acceptance rather than the prior: it counts position 1's verdicts twice, which makes the on/off hysteresis
         * that uses it follow the evidence over the prior, so a source switched back on after its evidence faded
         * leaves again after a few rejections.
         */
        double upperAcceptance(double quantile) {
            double s = o.priorStrength();
            double pooled = pooledAcceptance();
            return new BetaDistribution(null, accepted[0] + s * pooled, rejected[0] + s * (1 - pooled))
                    .inverseCumulativeProbability(quantile);
        }

        /**
         * The upper edge of the run of lowest confidence buckets whose acceptance falls below {@code breakEven}:
         * drafting stops at a confidence only if it does not pay there and at every lower confidence (a noisy
         * middle bucket cannot cut off the better buckets below it).
         */
        double threshold(double breakEven) {
            double pooled = pooledAcceptance();
            double s = o.priorStrength();
            int stopBelow = 0;
            for (int b = 0; b < BUCKETS; b++) {
                double n = bucketAccepted[b] + bucketRejected[b];
                if (n < 1) {
                    continue; // no evidence for this confidence: it neither stops nor ends the run
                }
                if ((bucketAccepted[b] + s * pooled) / (n + s) >= breakEven) {
                    break;
                }
                stopBelow = b + 1;
            }
            return Math.min((double) stopBelow / BUCKETS, 0.95);
        }

        @Override
        public String toString() {
            return "SourceStats[pooled=" + pooledAcceptance() + ", accepted=" + Arrays.toString(accepted) + "]";
        }
    }
}
