package dev.specula.core.schedule;

import dev.specula.core.StepOutcome;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Chooses every row's draft length per step to maximize the batch's goodput: expected accepted tokens per second of
 * the whole batch (SmartSpec, Liu et al. 2024). A row with per-position acceptance a that drafts k tokens yields
 * E(k) = (1 - a<sup>k+1</sup>) / (1 - a) tokens; a step costs the draft calls, one per draft position over the rows
 * still drafting there, D(R<sub>j</sub>), plus one target call over all R rows padded to the widest, V(R, max k + 1)
 * ({@link BatchCostModel}, measured online and seeded by a calibration). It maximizes
 * &Sigma; E<sub>i</sub>(k<sub>i</sub>) / (&Sigma;<sub>j</sub> D(R<sub>j</sub>) + V(R, max k + 1)): for each common
 * length K it lowers the least promising rows' lengths while that pays, and keeps the best. k = 0 for all (batched
 * plain decoding) unless speculation wins by more than {@value #MARGIN}; as the batch grows and verification becomes
 * compute-bound, extra positions cost as much as they yield and it stops drafting.
 *
 * <p>The cost model's fit can be wrong where it extrapolates (a few calibrated row counts, a linear shape where the
 * hardware turns compute-bound), so its plan is checked against measured whole steps: {@link MeasuredGoodput}
 * keeps the throughput of plain and of speculative steps per row-count bucket, and where plain steps were faster
 * every row gets k = 0 (exploring the plan again now and then). Where speculation measured faster, each row keeps
 * the length the search gave it.
 *
 * <p>Acceptance per row: a Beta posterior with exponential forgetting, starting from the pooled acceptance of the
 * rows that came before (so a newcomer needs no warm-up). While nobody drafts it probes k = 1 for every row after
 * 8, 16, 32, ... plain steps, so a change in acceptance is noticed.
 */
public final class GoodputScheduler implements BatchScheduler {
    private static final double MARGIN = 0.03;
    private static final double PRIOR_STRENGTH = 4;

    /**
     * @param maxDraftLength the longest draft considered
     * @param forgetting     per-step decay of a row's acceptance evidence
     * @param priorAcceptance acceptance assumed before any evidence
     * @param measuredSteps   whether measured whole steps may overrule the cost model's plan ({@link MeasuredGoodput});
     *                        off only to compare against the cost model alone
     */
    public record Options(int maxDraftLength, double forgetting, double priorAcceptance, boolean measuredSteps) {
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
        }

        public static Options defaults() {
            return new Options(8, 0.95, 0.6, true);
        }

        /** These options with measured steps overruling the cost model on or off. */
        public Options withMeasuredSteps(boolean on) {
            return new Options(maxDraftLength, forgetting, priorAcceptance, on);
        }
    }

    private final Options options;
    private final BatchCostModel costs;
    private final Map<Integer, double[]> rows = new HashMap<>(); // row -> {accepted, tried} (decayed)
    private final MeasuredGoodput measured = new MeasuredGoodput();
    private double pooledAccepted;
    private double pooledTried;
    private int plainSteps;
    private int probeInterval = 8;

    public GoodputScheduler(Options options, BatchCostModel costs) {
        this.options = options;
        this.costs = costs;
    }

    /** The cost model it plans with (and feeds). */
    public BatchCostModel costs() {
        return costs;
    }

    @Override
    public void join(int row) {
        rows.put(row, new double[2]);
    }

    /** A row's estimated per-position acceptance. */
    public double acceptance(int row) {
        double[] s = state(row);
        double prior = pooledTried > 0 ? (pooledAccepted + options.priorAcceptance() * PRIOR_STRENGTH)
                / (pooledTried + PRIOR_STRENGTH) : options.priorAcceptance();
        double a = (s[0] + prior * PRIOR_STRENGTH) / (s[1] + PRIOR_STRENGTH);
        return Math.min(a, 0.999);
    }

    @Override
    public DraftPlan[] plan(int[] rowIds) {
        int n = rowIds.length;
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = acceptance(rowIds[i]);
        }
        int[] k = lengths(a);
        boolean drafting = Arrays.stream(k).anyMatch(x -> x > 0);
        if (drafting) {
            plainSteps = 0;
            probeInterval = 8;
            if (options.measuredSteps() && !measured.speculate(n)) {
                Arrays.fill(k, 0); // measured steps at this batch size say plain decoding is faster
            }
        } else if (++plainSteps >= probeInterval) {
            plainSteps = 0;
            probeInterval = Math.min(probeInterval * 2, 256);
            Arrays.fill(k, 1); // a probe: acceptance may have changed while nobody drafted
        }
        DraftPlan[] plans = new DraftPlan[n];
        for (int i = 0; i < n; i++) {
            plans[i] = DraftPlan.of(k[i]);
        }
        return plans;
    }

    /**
     * The draft lengths maximizing expected tokens per second for rows of acceptance {@code a}, by the cost model
     * alone. O(K<sup>3</sup> n) for n rows and longest draft K: every candidate step is priced incrementally from the
     * cost model's values for this row count, read once.
     */
    public int[] lengths(double[] a) {
        int n = a.length;
        int[] zero = new int[n];
        if (n == 0) {
            return zero;
        }
        int maxK = options.maxDraftLength();
        double[] verify = new double[maxK + 2]; // verify[L]: one target call, widest row L positions
        for (int L = 1; L <= maxK + 1; L++) {
            verify[L] = costs.verify(n, L);
        }
        double[] draft = new double[n + 1]; // draft[r]: one draft call over r rows
        for (int r = 1; r <= n; r++) {
            draft[r] = costs.draft(r);
        }
        double[][] e = new double[n][maxK + 1];
        double plainTokens = 0;
        for (int i = 0; i < n; i++) {
            for (int c = 0; c <= maxK; c++) {
                e[i][c] = expected(a[i], c);
            }
            plainTokens += e[i][0];
        }
        double best = plainTokens / verify[1] * (1 + MARGIN);
        int[] chosen = zero;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (x, y) -> Double.compare(a[x], a[y])); // least promising rows first
        int[] drafting = new int[maxK + 1]; // drafting[j]: rows drafting a j-th token
        for (int K = 1; K <= maxK; K++) {
            int[] k = new int[n];
            Arrays.fill(k, K);
            Arrays.fill(drafting, 0);
            double tokens = 0;
            for (int i = 0; i < n; i++) {
                tokens += e[i][K];
            }
            for (int j = 1; j <= K; j++) {
                drafting[j] = n;
            }
            double g = tokens / time(drafting, K, -1, -1, verify, draft);
            for (int i : order) { // lower a row's length while that pays
                int current = k[i];
                int keep = current;
                for (int c = current - 1; c >= 0; c--) {
                    double t = (tokens - e[i][current] + e[i][c]) / time(drafting, K, c, current, verify, draft);
                    if (t > g) {
                        g = t;
                        keep = c;
                    }
                }
                if (keep != current) {
                    tokens += e[i][keep] - e[i][current];
                    for (int j = keep + 1; j <= current; j++) {
                        drafting[j]--;
                    }
                    k[i] = keep;
                }
            }
            if (g > best) {
                best = g;
                chosen = k;
            }
        }
        return chosen;
    }

    /**
     * Nanoseconds of a step whose rows draft {@code drafting[j]} j-th tokens (j up to {@code maxK}), with one row
     * lowered from {@code from} to {@code to} tokens (none when {@code to} is negative): the draft calls, one per
     * position still drafted by some row, and one target call padded to the widest row.
     */
    private static double time(int[] drafting, int maxK, int to, int from, double[] verify, double[] draft) {
        double time = 0;
        int widest = 0;
        for (int j = 1; j <= maxK; j++) {
            int r = drafting[j] - (to >= 0 && j > to && j <= from ? 1 : 0);
            if (r > 0) {
                time += draft[r];
                widest = j;
            }
        }
        return time + verify[widest + 1];
    }

    /** Expected tokens per nanosecond of a step with these lengths (the search's objective, priced directly). */
    double goodput(double[] a, int[] k) {
        int n = a.length;
        int widest = 0;
        double tokens = 0;
        for (int i = 0; i < n; i++) {
            widest = Math.max(widest, k[i]);
            tokens += expected(a[i], k[i]);
        }
        double time = costs.verify(n, widest + 1);
        for (int j = 1; j <= widest; j++) {
            int drafting = 0;
            for (int x : k) {
                drafting += x >= j ? 1 : 0;
            }
            time += costs.draft(drafting);
        }
        return tokens / time;
    }

    /** Leviathan's expected tokens of a step drafting k at per-position acceptance a. */
    static double expected(double a, int k) {
        return a >= 1 ? k + 1 : (1 - Math.pow(a, k + 1)) / (1 - a);
    }

    @Override
    public void feedback(int[] rowIds, StepOutcome[] outcomes, BatchStepCosts step) {
        for (int i = 0; i < rowIds.length; i++) {
            double[] s = state(rowIds[i]);
            int drafted = outcomes[i].verdict().drafted();
            if (drafted == 0) {
                continue;
            }
            int accepted = outcomes[i].verdict().accepted();
            int tried = accepted + (accepted < drafted ? 1 : 0);
            s[0] = s[0] * options.forgetting() + accepted;
            s[1] = s[1] * options.forgetting() + tried;
            pooledAccepted = pooledAccepted * options.forgetting() + accepted;
            pooledTried = pooledTried * options.forgetting() + tried;
        }
        int tokens = 0;
        boolean speculative = false;
        for (StepOutcome o : outcomes) {
            tokens += o.verdict().accepted() + 1;
            speculative |= o.verdict().drafted() > 0;
        }
        measured.record(step.verifyRows(), speculative, tokens, costs.verify(step.verifyRows(), 1),
                step.stepNanos());
        costs.addVerify(step.verifyRows(), step.verifyPositions(), step.verifyNanos());
        if (step.draftCalls() > 0) {
            costs.addDraft(step.draftRows(), (double) step.draftNanos() / step.draftCalls());
        }
    }

    @Override
    public void leave(int row, boolean completed) {
        rows.remove(row);
    }

    private double[] state(int row) {
        double[] s = rows.get(row);
        if (s == null) {
            throw new IllegalArgumentException("row " + row + " has not joined this scheduler; rows: " + rows.keySet());
        }
        return s;
    }
}
