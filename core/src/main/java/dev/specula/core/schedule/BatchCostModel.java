package dev.specula.core.schedule;

import java.util.HashMap;
import java.util.Map;

/**
 * Measured costs of batched forward calls: V(R, L), one target call over R rows whose widest row verifies L positions,
 * and D(R), one draft call over R rows. Each measured (R, L) cell keeps the {@link RecentMedian} of its last
 * measurements; a least-squares fit over all cells, weighted by their counts, of V = a + b&middot;R + c&middot;R&middot;L
 * (and D = d + e&middot;R), coefficients kept non-negative, reads off cells never measured. A cell's estimate is its
 * median shrunk towards the fit by {@value #SHRINK} pseudo-measurements. Before any measurement the given priors hold.
 *
 * <p>Not thread-safe: one engine's scheduler owns it.
 */
public final class BatchCostModel {
    private static final double SHRINK = 4;

    private final Map<Long, RecentMedian> verify = new HashMap<>();
    private final Map<Integer, RecentMedian> draft = new HashMap<>();
    private double[] verifyFit;
    private double[] draftFit;
    private boolean dirty;

    /**
     * @param verifyPrior {a, b, c} of V(R, L) = a + b R + c R L, nanoseconds, until measured
     * @param draftPrior  {d, e} of D(R) = d + e R, nanoseconds, until measured
     */
    public BatchCostModel(double[] verifyPrior, double[] draftPrior) {
        if (verifyPrior.length != 3 || draftPrior.length != 2) {
            throw new IllegalArgumentException("priors need 3 verify and 2 draft coefficients, got "
                    + verifyPrior.length + " and " + draftPrior.length);
        }
        this.verifyFit = verifyPrior.clone();
        this.draftFit = draftPrior.clone();
    }

    /** Costs from nothing but the shapes of a typical CPU model pair; calibrate or measure to replace them. */
    public static BatchCostModel defaults() {
        return new BatchCostModel(new double[]{1e6, 2e5, 5e4}, new double[]{1.5e5, 2e4});
    }

    /** An independent copy holding the same measurements (for a new engine to go on measuring from). */
    public BatchCostModel copy() {
        BatchCostModel c = new BatchCostModel(verifyFit, draftFit);
        verify.forEach((k, m) -> c.verify.put(k, RecentMedian.of(m.values(), RecentMedian.WINDOW)));
        draft.forEach((k, m) -> c.draft.put(k, RecentMedian.of(m.values(), RecentMedian.WINDOW)));
        c.dirty = true;
        return c;
    }

    /** Records one target call over {@code rows} rows, the widest verifying {@code positions}. */
    public void addVerify(int rows, int positions, double nanos) {
        if (rows >= 1 && positions >= 1 && nanos > 0) {
            verify.computeIfAbsent(key(rows, positions), k -> new RecentMedian()).add(nanos);
            dirty = true;
        }
    }

    /** Records one draft call over {@code rows} rows. */
    public void addDraft(int rows, double nanos) {
        if (rows >= 1 && nanos > 0) {
            draft.computeIfAbsent(rows, k -> new RecentMedian()).add(nanos);
            dirty = true;
        }
    }

    /** Estimated nanoseconds of one target call over {@code rows} rows, the widest verifying {@code positions}. */
    public double verify(int rows, int positions) {
        refit();
        double fit = verifyFit[0] + verifyFit[1] * rows + verifyFit[2] * (double) rows * positions;
        return shrunk(verify.get(key(rows, positions)), fit);
    }

    /** Estimated nanoseconds of one draft call over {@code rows} rows (0 for none). */
    public double draft(int rows) {
        if (rows <= 0) {
            return 0;
        }
        refit();
        return shrunk(draft.get(rows), draftFit[0] + draftFit[1] * rows);
    }

    private static double shrunk(RecentMedian cell, double fit) {
        if (cell == null || cell.isEmpty()) {
            return fit;
        }
        int n = cell.count();
        return (n * cell.median() + SHRINK * fit) / (n + SHRINK);
    }

    private static long key(int rows, int positions) {
        return ((long) rows << 32) | positions;
    }

    private void refit() {
        if (!dirty) {
            return;
        }
        dirty = false;
        int n = verify.size();
        double[][] x = new double[n][];
        double[] y = new double[n];
        double[] w = new double[n];
        int i = 0;
        for (Map.Entry<Long, RecentMedian> e : verify.entrySet()) {
            int rows = (int) (e.getKey() >>> 32);
            int positions = (int) (long) e.getKey();
            x[i] = new double[]{1, rows, (double) rows * positions};
            y[i] = e.getValue().median();
            w[i++] = e.getValue().count();
        }
        double[] v = fitNonNegative(x, y, w);
        if (v != null) {
            verifyFit = v;
        }
        n = draft.size();
        x = new double[n][];
        y = new double[n];
        w = new double[n];
        i = 0;
        for (Map.Entry<Integer, RecentMedian> e : draft.entrySet()) {
            x[i] = new double[]{1, e.getKey()};
            y[i] = e.getValue().median();
            w[i++] = e.getValue().count();
        }
        double[] d = fitNonNegative(x, y, w);
        if (d != null) {
            draftFit = d;
        }
    }

    /**
     * Weighted least squares with every coefficient >= 0: the best of the fits over each subset of the features whose
     * coefficients all come out non-negative; null without data.
     */
    static double[] fitNonNegative(double[][] x, double[] y, double[] w) {
        if (y.length == 0) {
            return null;
        }
        int p = x[0].length;
        double[] best = null;
        double bestError = Double.POSITIVE_INFINITY;
        for (int mask = 1; mask < (1 << p); mask++) {
            int m = mask;
            int[] cols = java.util.stream.IntStream.range(0, p).filter(j -> (m & (1 << j)) != 0).toArray();
            if (cols.length > y.length) {
                continue;
            }
            double[] c = solve(x, y, w, cols);
            if (c == null) {
                continue;
            }
            double[] full = new double[p];
            boolean ok = true;
            for (int j = 0; j < cols.length; j++) {
                ok &= c[j] >= 0;
                full[cols[j]] = c[j];
            }
            if (!ok) {
                continue;
            }
            double error = 0;
            for (int r = 0; r < y.length; r++) {
                double pred = 0;
                for (int j = 0; j < p; j++) {
                    pred += full[j] * x[r][j];
                }
                error += w[r] * (pred - y[r]) * (pred - y[r]);
            }
            // Prefer fewer features on ties (within rounding): a cell or two cannot pin three coefficients.
            if (error < bestError * (1 - 1e-9)) {
                bestError = error;
                best = full;
            }
        }
        return best;
    }

    /** Solves the weighted normal equations over the chosen columns; null when singular. */
    private static double[] solve(double[][] x, double[] y, double[] w, int[] cols) {
        int k = cols.length;
        double[][] a = new double[k][k + 1];
        for (int r = 0; r < y.length; r++) {
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < k; j++) {
                    a[i][j] += w[r] * x[r][cols[i]] * x[r][cols[j]];
                }
                a[i][k] += w[r] * x[r][cols[i]] * y[r];
            }
        }
        for (int c = 0; c < k; c++) {
            int pivot = c;
            for (int r = c + 1; r < k; r++) {
                if (Math.abs(a[r][c]) > Math.abs(a[pivot][c])) {
                    pivot = r;
                }
            }
            double[] t = a[c];
            a[c] = a[pivot];
            a[pivot] = t;
            double scale = Math.abs(a[c][c]);
            double norm = 0;
            for (int j = 0; j < k; j++) {
                norm = Math.max(norm, Math.abs(a[c][j]));
            }
            if (scale <= 1e-12 * Math.max(1, norm)) {
                return null;
            }
            for (int r = 0; r < k; r++) {
                if (r != c) {
                    double f = a[r][c] / a[c][c];
                    for (int j = c; j <= k; j++) {
                        a[r][j] -= f * a[c][j];
                    }
                }
            }
        }
        double[] out = new double[k];
        for (int i = 0; i < k; i++) {
            out[i] = a[i][k] / a[i][i];
        }
        return out;
    }
}
