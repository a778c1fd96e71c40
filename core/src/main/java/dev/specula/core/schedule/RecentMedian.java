package dev.specula.core.schedule;

import org.apache.commons.math3.stat.descriptive.DescriptiveStatistics;

import java.util.Arrays;

/**
 * The median of the last few measurements of a cost: robust to one-off outliers (a draft model's prefill
 * inside its first proposal, a garbage-collection pause, a noisy neighbour) that would skew a running mean.
 */
final class RecentMedian {
    static final int WINDOW = 15;

    private final DescriptiveStatistics window = new DescriptiveStatistics(WINDOW);
    private double median = Double.NaN;
    private double[] sorted = new double[0];

    /** A window holding the last {@code keep} of {@code values} (a carried-over snapshot). */
    static RecentMedian of(double[] values, int keep) {
        RecentMedian m = new RecentMedian();
        for (double v : Arrays.copyOfRange(values, Math.max(0, values.length - keep), values.length)) {
            m.add(v);
        }
        return m;
    }

    void add(double value) {
        window.addValue(value);
        // The window is tiny: sorting a copy beats Percentile, which allocates a pivot cache per call.
        double[] v = window.getValues();
        Arrays.sort(v);
        sorted = v;
        int n = v.length;
        median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    /** Empties the window. */
    void clear() {
        window.clear();
        sorted = new double[0];
        median = Double.NaN;
    }

    /** The median of the window, NaN while empty. */
    double median() {
        return median;
    }

    /** The q-quantile of the window (linear between order statistics), NaN while empty. */
    double quantile(double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(sorted.length - 1, lo + 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    /** How many measurements the window holds. */
    int count() {
        return (int) window.getN();
    }

    boolean isEmpty() {
        return window.getN() == 0;
    }

    double[] values() {
        return window.getValues();
    }
}
