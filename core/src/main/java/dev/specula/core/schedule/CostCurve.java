package dev.specula.core.schedule;

import java.util.Arrays;

/**
 * A measured cost as a function of a size n: a target call over n positions, or a draft of n tokens.
 *
 * <p>Each size keeps its last measurements ({@link RecentMedian}) and is represented by their lower quartile: noise
 * on a shared machine, a collection pause or a cold first call only ever adds time, so a low quantile estimates the
 * cost the work itself takes and follows a cost that falls (a warming JIT) within a few measurements.
 *
 * <p>Without a prior shape, a straight line is fitted by least squares over all sizes, each weighted by how many
 * measurements it has (slope clamped at zero: costs do not fall with size). A size's estimate is its quartile shrunk
 * towards the line by {@value #SHRINK} pseudo-measurements, so a size measured a few times long ago (during warm-up,
 * say) cannot keep a scheduler away from it; sizes never measured are read off the line. With a single size measured,
 * other sizes are extrapolated with the prior shape {@code fixedShare + (1 - fixedShare) * n}.
 *
 * <p>With a prior shape (a load-time calibration's costs), the line is that shape scaled to the online measurements
 * (by the lower quartile of the last measurements' ratios to the shape, whatever their sizes, the prior's own level
 * counting as {@value #PRIOR_WEIGHT} of them, and a fresh curve's first measurement left out): the calibration says how cost grows with size, the recent
 * measurements the level, so a size measured only while the process was cold is priced at today's level. Sizes do not
 * correct the shape one by one: a size's measurements taken as the level fell (a warming JIT) would read as a
 * departure from the shape. What the calibration's shape misses (a draft's fixed cost per proposal) stays missed. A
 * calibration taken while a fresh process still warms up (JIT threads compete for the cores) is 1.5-3x slower than the steady state, and its draft share is inflated too, so its
 * absolute costs must not count as measurements.
 */
final class CostCurve {
    private static final double SHRINK = 4;
    /** The quantile of a size's recent measurements that represents it. */
    static final double QUANTILE = 0.25;
    /** Measurements the prior shape's own level counts as (they leave the window as online ones arrive). */
    static final int PRIOR_WEIGHT = 4;

    private final RecentMedian[] at;   // index n; index 0 unused
    private final double[] estimate;
    private final double fixedShare;
    private final double[] prior;      // index n; null: no prior shape
    private final RecentMedian ratios = new RecentMedian(); // recent measurements over the prior shape: the level
    private boolean skipFirst;                              // the level ignores the first measurement
    private double slope;
    private boolean dirty = true;

    /**
     * @param maxSize    the largest size measured
     * @param fixedShare the share of a size-1 cost that does not grow with size, assumed until two sizes are
     *                   measured (0: cost proportional to size)
     */
    CostCurve(int maxSize, double fixedShare) {
        this(maxSize, fixedShare, null);
    }

    /**
     * @param prior the prior shape, {@code prior[n]} for n in [1, maxSize] (index 0 unused), each finite and > 0;
     *              null: none
     */
    CostCurve(int maxSize, double fixedShare, double[] prior) {
        if (prior != null) {
            if (prior.length != maxSize + 1) {
                throw new IllegalArgumentException("prior shape needs " + (maxSize + 1) + " entries (index 0 unused), got "
                        + prior.length);
            }
            for (int n = 1; n <= maxSize; n++) {
                if (!(prior[n] > 0) || Double.isInfinite(prior[n])) {
                    throw new IllegalArgumentException("prior cost of size " + n + " must be finite and > 0, got "
                            + prior[n]);
                }
            }
        }
        this.prior = prior == null ? null : prior.clone();
        if (prior != null) {
            // The prior's level counts as a few measurements: the lower quartile then ignores an isolated slow
            // measurement and follows the online level once a few agree.
            for (int i = 0; i < PRIOR_WEIGHT; i++) {
                ratios.add(1);
            }
            skipFirst = true;
        }
        this.at = new RecentMedian[maxSize + 1];
        this.estimate = new double[maxSize + 1];
        this.fixedShare = fixedShare;
        for (int n = 0; n <= maxSize; n++) {
            at[n] = new RecentMedian();
        }
    }

    /** A curve holding the last {@code keep} of each size's carried-over measurements ({@link #values()}). */
    static CostCurve restore(double[][] values, int maxSize, double fixedShare, int keep) {
        return restore(values, maxSize, fixedShare, keep, null);
    }

    /** As {@link #restore(double[][], int, double, int)}, with a prior shape (may be null). */
    static CostCurve restore(double[][] values, int maxSize, double fixedShare, int keep, double[] prior) {
        CostCurve c = new CostCurve(maxSize, fixedShare, prior);
        if (values != null && values.length == maxSize + 1) {
            c.ratios.clear(); // carried-over measurements set the level, not the prior's
            c.skipFirst = false;
            for (int n = 1; n <= maxSize; n++) {
                double[] v = values[n];
                for (int i = Math.max(0, v.length - keep); i < v.length; i++) {
                    c.add(n, v[i]); // sizes one after the other: their order across sizes is not kept
                }
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
            if (prior != null && skipFirst) {
                skipFirst = false; // a fresh process's first call of a kind pays one-time costs (tens of ms)
            } else if (prior != null) {
                ratios.add(cost / prior[n]);
            }
            dirty = true;
        }
    }

    /**
     * A curve with this one's size and prior shape and nothing measured, whose level the next measurement sets
     * alone: for re-measuring a cost that went stale (a probe after plain steps), where neither the prior's level
     * nor skipping that one measurement would let it count.
     */
    CostCurve emptied() {
        CostCurve c = new CostCurve(maxSize(), fixedShare, prior);
        c.ratios.clear();
        c.skipFirst = false;
        return c;
    }

    /** Whether nothing is measured and there is no prior shape either: {@link #cost} is NaN. */
    boolean isUnknown() {
        return prior == null && isEmpty();
    }

    boolean isEmpty() {
        for (int n = 1; n < at.length; n++) {
            if (!at[n].isEmpty()) {
                return false;
            }
        }
        return true;
    }

    /** The estimated cost of size n in [1, maxSize]; NaN while nothing is measured and there is no prior shape. */
    double cost(int n) {
        refresh();
        return estimate[n];
    }

    /** The estimated cost of one more unit of size; NaN while nothing is measured and there is no prior shape. */
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
        if (prior != null) {
            refreshScaled();
            return;
        }
        // Least squares over every measurement, each size's represented by its quartile: sums weighted by counts.
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
            sxy += count * n * at[n].quantile(QUANTILE);
            weight += count;
            weightedSum += count * at[n].quantile(QUANTILE);
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
            estimate[n] = count == 0 ? line : (count * at[n].quantile(QUANTILE) + SHRINK * line) / (count + SHRINK);
        }
    }

    /**
     * The prior shape scaled to the recent measurements: the lower quartile of their ratios to it, whatever their
     * sizes, so cold measurements age out of the window and a size measured only while the process was cold is
     * priced at today's level.
     */
    private void refreshScaled() {
        double scale = ratios.isEmpty() ? 1 : ratios.quantile(QUANTILE);
        int max = maxSize();
        slope = max == 1 ? scale * prior[1] : scale * Math.max(0, prior[max] - prior[1]) / (max - 1);
        for (int n = 1; n < at.length; n++) {
            estimate[n] = scale * prior[n];
        }
    }
}
