package dev.specula.core.schedule;

import java.util.Arrays;

/**
 * A measured cost as a function of a size n: a target call over n positions, or a draft of n tokens.
 *
 * <p>Each size keeps the {@link RecentMedian} of its last measurements. A straight line is fitted by least squares
 * over all sizes, each weighted by how many measurements it has (slope clamped at zero: costs do not fall with
 * size). A size's estimate is its median shrunk towards the line by {@value #SHRINK} pseudo-measurements, so a
 * size measured a few times long ago (during warm-up, say) cannot keep a scheduler away from it; sizes never
 * measured are read off the line. With a single size measured, other sizes are extrapolated with the prior shape
 * {@code fixedShare + (1 - fixedShare) * n}.
 */
final class CostCurve {
    private static final double SHRINK = 4;

    private final RecentMedian[] at;   // index n; index 0 unused
    private final double[] estimate;
    private final double fixedShare;
    private double slope;
    private boolean dirty = true;

    /**
     * @param maxSize    the largest size measured
     * @param fixedShare the share of a size-1 cost that does not grow with size, assumed until two sizes are
     *                   measured (0: cost proportional to size)
     */
    CostCurve(int maxSize, double fixedShare) {
        this.at = new RecentMedian[maxSize + 1];
        this.estimate = new double[maxSize + 1];
        this.fixedShare = fixedShare;
        for (int n = 0; n <= maxSize; n++) {
            at[n] = new RecentMedian();
        }
    }

    /** A curve holding the last {@code keep} of each size's carried-over measurements ({@link #values()}). */
    static CostCurve restore(double[][] values, int maxSize, double fixedShare, int keep) {
        CostCurve c = new CostCurve(maxSize, fixedShare);
        if (values != null && values.length == maxSize + 1) {
            for (int n = 1; n <= maxSize; n++) {
                c.at[n] = RecentMedian.of(values[n], keep);
            }
        }
        return c;
    }

    int maxSize() {
        return at.length - 1;
    }

    /** Records one measurement of size n; sizes outside [1, maxSize] are ignored. */
    void add(int n, double cost) {
        if (n >= 1 && n < at.length) {
            at[n].add(cost);
            dirty = true;
        }
    }

    boolean isEmpty() {
        for (int n = 1; n < at.length; n++) {
            if (!at[n].isEmpty()) {
                return false;
            }
        }
        return true;
    }

    /** The estimated cost of size n in [1, maxSize]; NaN while nothing is measured. */
    double cost(int n) {
        refresh();
        return estimate[n];
    }

    /** The estimated cost of one more unit of size; NaN while nothing is measured. */
    double slope() {
        refresh();
        return slope;
    }

    /** Each size's recent measurements, for a snapshot. */
    double[][] values() {
        double[][] v = new double[at.length][];
        for (int n = 0; n < at.length; n++) {
            v[n] = at[n].values();
        }
        return v;
    }

    private void refresh() {
        if (!dirty) {
            return;
        }
        dirty = false;
        // Least squares over every measurement, each size's represented by its median: sums weighted by counts.
        double sxx = 0;
        double sxy = 0;
        double weight = 0;
        double weightedSum = 0;
        double weightedSize = 0;
        int sizes = 0;
        int anchor = -1;
        for (int n = 1; n < at.length; n++) {
            int count = at[n].count();
            if (count == 0) {
                continue;
            }
            sizes++;
            if (anchor < 0 || count > at[anchor].count()) {
                anchor = n;
            }
            sxx += (double) count * n * n;
            sxy += count * n * at[n].median();
            weight += count;
            weightedSum += count * at[n].median();
            weightedSize += count * n;
        }
        if (sizes == 0) {
            Arrays.fill(estimate, Double.NaN);
            slope = Double.NaN;
            return;
        }
        double meanCost = weightedSum / weight;
        double meanSize = weightedSize / weight;
        if (sizes >= 2) {
            double varX = sxx - weight * meanSize * meanSize;
            double covXY = sxy - weight * meanSize * meanCost;
            slope = Math.max(0, covXY / varX);
        } else {
            // One size measured: scale it by the prior shape.
            slope = meanCost * (1 - fixedShare) / (fixedShare + (1 - fixedShare) * anchor);
        }
        for (int n = 1; n < at.length; n++) {
            double line = Math.max(meanCost + slope * (n - meanSize), meanCost * 1e-3);
            int count = at[n].count();
            estimate[n] = count == 0 ? line : (count * at[n].median() + SHRINK * line) / (count + SHRINK);
        }
    }
}
