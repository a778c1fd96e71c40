package dev.specula.core.schedule;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The incrementally sorted window against sorting the last measurements afresh. */
class RecentMedianTest {

    static double reference(List<Double> all, double q) {
        double[] s = all.subList(Math.max(0, all.size() - RecentMedian.WINDOW), all.size()).stream()
                .mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(s);
        double pos = q * (s.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(s.length - 1, lo + 1);
        return s[lo] + (pos - lo) * (s[hi] - s[lo]);
    }

    @Test
    void quantilesAndValuesEqualThoseOfTheLastMeasurementsSortedAfresh() {
        SplittableRandom r = new SplittableRandom(11);
        RecentMedian m = new RecentMedian();
        List<Double> all = new ArrayList<>();
        assertTrue(m.isEmpty() && Double.isNaN(m.median()));
        for (int i = 0; i < 500; i++) {
            // repeated values and ties exercise the removal of the oldest among equal ones
            int kind = r.nextInt(6);
            double v = kind == 0 ? 7.0 : kind == 1 ? -0.0 : kind == 2 ? 0.0 : r.nextDouble(-5, 100);
            m.add(v);
            all.add(v);
            for (double q : new double[]{0, 0.25, 0.5, 0.9, 1}) {
                assertEquals(reference(all, q), m.quantile(q), 0, "q " + q + " after " + (i + 1));
            }
            assertEquals(Math.min(all.size(), RecentMedian.WINDOW), m.count());
            double[] last = all.subList(Math.max(0, all.size() - RecentMedian.WINDOW), all.size()).stream()
                    .mapToDouble(Double::doubleValue).toArray();
            assertArrayEquals(last, m.values(), "oldest first");
        }
        RecentMedian copy = RecentMedian.of(m.values(), 4);
        assertArrayEquals(Arrays.copyOfRange(m.values(), RecentMedian.WINDOW - 4, RecentMedian.WINDOW), copy.values());
        m.clear();
        assertTrue(m.isEmpty() && m.values().length == 0 && Double.isNaN(m.quantile(0.25)));
    }
}
