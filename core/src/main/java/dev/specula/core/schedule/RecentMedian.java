package dev.specula.core.schedule;

import java.util.Arrays;

/**
 * The median (and other quantiles) of the last {@value #WINDOW} measurements of a cost: robust to one-off outliers (a
 * draft model's prefill inside its first proposal, a garbage-collection pause, a noisy neighbour) that would skew a
 * running mean. The window is a ring buffer beside a sorted copy kept up to date by one removal and one insertion per
 * measurement: schedulers record several per decoding step, and a fresh process runs this code interpreted for its
 * first generations, where copying and sorting the window each time cost tens of microseconds per step.
 */
final class RecentMedian {
    static final int WINDOW = 15;

    private final double[] ring = new double[WINDOW]; // in arrival order from start
    private final double[] sorted = new double[WINDOW];
    private int start;
    private int count;

    /** A window holding the last {@code keep} of {@code values} (a carried-over snapshot). */
    static RecentMedian of(double[] values, int keep) {
        RecentMedian m = new RecentMedian();
        for (int i = Math.max(0, values.length - keep); i < values.length; i++) {
            m.add(values[i]);
        }
        return m;
    }

    void add(double value) {
        if (count == WINDOW) {
            double oldest = ring[start];
            ring[start] = value;
            start = (start + 1) % WINDOW;
            int at = indexOf(oldest);
            System.arraycopy(sorted, at + 1, sorted, at, count - at - 1);
            count--;
        } else {
            ring[(start + count) % WINDOW] = value;
        }
        int at = count;
        while (at > 0 && sorted[at - 1] > value) {
            sorted[at] = sorted[at - 1];
            at--;
        }
        sorted[at] = value;
        count++;
    }

    /** The position of {@code value} in the sorted window (present). */
    private int indexOf(double value) {
        int i = Arrays.binarySearch(sorted, 0, count, value);
        return i >= 0 ? i : linearIndexOf(value); // NaN is never added; -0.0 and 0.0 compare apart in binarySearch
    }

    private int linearIndexOf(double value) {
        for (int i = 0; i < count; i++) {
            if (sorted[i] == value) {
                return i;
            }
        }
        throw new IllegalStateException("window lost the value " + value);
    }

    /** Empties the window. */
    void clear() {
        start = 0;
        count = 0;
    }

    /** The median of the window, NaN while empty. */
    double median() {
        return quantile(0.5);
    }

    /** The q-quantile of the window (linear between order statistics), NaN while empty. */
    double quantile(double q) {
        if (count == 0) {
            return Double.NaN;
        }
        double pos = q * (count - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(count - 1, lo + 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    /** How many measurements the window holds. */
    int count() {
        return count;
    }

    boolean isEmpty() {
        return count == 0;
    }

    /** The window's measurements, oldest first. */
    double[] values() {
        double[] v = new double[count];
        for (int i = 0; i < count; i++) {
            v[i] = ring[(start + i) % WINDOW];
        }
        return v;
    }
}
