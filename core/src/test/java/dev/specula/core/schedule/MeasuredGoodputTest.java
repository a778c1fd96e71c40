package dev.specula.core.schedule;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The measured speculate-or-not decision per row-count bucket, fed known step times. */
class MeasuredGoodputTest {

    @Test
    void rowCountsFallIntoPowerOfTwoBuckets() {
        assertEquals(0, MeasuredGoodput.bucket(1));
        assertEquals(1, MeasuredGoodput.bucket(2));
        assertEquals(1, MeasuredGoodput.bucket(3));
        assertEquals(4, MeasuredGoodput.bucket(16));
        assertEquals(4, MeasuredGoodput.bucket(31));
        assertEquals(6, MeasuredGoodput.bucket(64));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MeasuredGoodput.bucket(0));
        assertTrue(e.getMessage().contains("got 0"), e.getMessage());
    }

    @Test
    void measuresSpeculationThenPlainThenFollowsTheFasterAndExploresTheOtherWithBackingOffIntervals() {
        MeasuredGoodput m = new MeasuredGoodput();
        // 16 rows; a plain step makes 16 tokens in 10 ms, a speculative one 24 tokens in 20 ms (slower).
        List<Boolean> choices = new ArrayList<>();
        for (int step = 0; step < 120; step++) {
            boolean speculate = m.speculate(16);
            choices.add(speculate);
            m.record(16, speculate, speculate ? 24 : 16, 10e6, speculate ? 20e6 : 10e6);
        }
        // The first speculative step (after no step at all, as after plain ones) is not measured: MIN_STEPS + 1 of them.
        int first = MeasuredGoodput.MIN_STEPS + 1;
        for (int i = 0; i < first; i++) {
            assertTrue(choices.get(i), "first measures speculation: " + choices);
        }
        for (int i = first; i < first + MeasuredGoodput.MIN_STEPS; i++) {
            assertFalse(choices.get(i), "then plain: " + choices);
        }
        List<Integer> explored = new ArrayList<>();
        for (int i = first + MeasuredGoodput.MIN_STEPS; i < choices.size(); i++) {
            if (choices.get(i)) {
                explored.add(i - first - MeasuredGoodput.MIN_STEPS);
            }
        }
        // Two speculative steps after 4, 8, 16, 32, then every 64 plain steps, each interval also at least that many
        // exploration steps' time (20 ms each: twice as many plain steps of 10 ms).
        assertEquals(List.of(4, 5, 22, 23, 56, 57), explored);
        assertTrue(m.speedup(16) < 0.8, "measured: " + m.speedup(16));
        assertTrue(m.speedup(20) < 0.8, "20 rows share the bucket of 16: " + m.speedup(20));
        assertTrue(Double.isNaN(m.speedup(4)), "4 rows have their own evidence: " + m.speedup(4));
    }

    @Test
    void whereSpeculationIsFasterItSpeculatesAndExploresPlainRarely() {
        MeasuredGoodput m = new MeasuredGoodput();
        int speculative = 0;
        for (int step = 0; step < 100; step++) {
            boolean speculate = m.speculate(2);
            speculative += speculate ? 1 : 0;
            m.record(2, speculate, speculate ? 5 : 2, 4e6, speculate ? 5e6 : 4e6);
        }
        assertTrue(speculative >= 90, speculative + " of 100 steps speculated");
        assertTrue(m.speedup(2) > 1.5, "measured: " + m.speedup(2));
    }

    @Test
    void aChangeInWhatPaysIsNoticedThroughExploration() {
        MeasuredGoodput m = new MeasuredGoodput();
        for (int step = 0; step < 60; step++) { // speculation pays at first ...
            boolean s = m.speculate(8);
            m.record(8, s, s ? 20 : 8, 5e6, s ? 8e6 : 5e6);
        }
        assertTrue(m.speculate(8));
        int lastSpeculative = -1;
        for (int step = 0; step < 200; step++) { // ... then acceptance drops and it no longer does
            boolean s = m.speculate(8);
            if (s) {
                lastSpeculative = step;
            }
            m.record(8, s, s ? 9 : 8, 5e6, s ? 8e6 : 5e6);
        }
        int speculativeAtTheEnd = 0;
        for (int step = 0; step < 32; step++) {
            boolean s = m.speculate(8);
            speculativeAtTheEnd += s ? 1 : 0;
            m.record(8, s, s ? 9 : 8, 5e6, s ? 8e6 : 5e6);
        }
        assertTrue(speculativeAtTheEnd <= 2, speculativeAtTheEnd + " of the last 32 steps speculated");
        assertTrue(lastSpeculative >= 0);
    }

    @Test
    void stepsAreComparedRelativeToThePredictedPlainThroughputAtTheirRowCount() {
        // Plain steps measured at 16 rows and speculative ones at 30 (same bucket): 30 rows make more tokens per
        // step just for being more rows; relative to the plain time the cost model predicts at each row count the
        // speculative steps gained nothing (30 rows: plain predicted 18 ms; the step made 30 tokens in 18 ms).
        MeasuredGoodput m = new MeasuredGoodput();
        for (int i = 0; i < 5; i++) {
            m.record(16, false, 16, 10e6, 10e6);
        }
        m.record(30, true, 60, 18e6, 60e6); // the first speculative step after plain ones: not measured
        for (int i = 0; i < 5; i++) {
            m.record(30, true, 30, 18e6, 18e6);
        }
        assertEquals(1.0, m.speedup(16), 1e-9);
    }

    @Test
    void explorationTakesABoundedShareOfTheTimeHoweverCostlySpeculationIs() {
        // 64 rows: a plain step 80 ms; a speculative one 800 ms (say the draft catching up a whole batch).
        MeasuredGoodput m = new MeasuredGoodput();
        double plainNanos = 0;
        double speculativeNanos = 0;
        int speculativeSteps = 0;
        for (int step = 0; step < 2000; step++) {
            boolean s = m.speculate(64);
            double nanos = s ? 800e6 : 80e6;
            if (s && ++speculativeSteps > MeasuredGoodput.MIN_STEPS + 1) {
                speculativeNanos += nanos; // explorations after the first measurement
            } else if (!s) {
                plainNanos += nanos;
            }
            m.record(64, s, s ? 80 : 64, 80e6, nanos);
        }
        assertTrue(speculativeNanos > 0, "speculation was explored again");
        // Intervals of 4, 8, 16, 32, then 64 exploration steps' time: about 1/32 of the time in the long run.
        assertTrue(speculativeNanos <= plainNanos / 12,
                "exploring took " + speculativeNanos / 1e6 + " ms against " + plainNanos / 1e6 + " ms of plain steps");
    }

    @Test
    void aBiggerBatchStartsPlainWhereASmallerOneFoundPlainFaster() {
        MeasuredGoodput fresh = new MeasuredGoodput();
        assertTrue(fresh.speculate(64), "no evidence anywhere: speculation is measured first");

        MeasuredGoodput m = new MeasuredGoodput();
        for (int step = 0; step < 30; step++) { // 16 rows: plain faster
            boolean s = m.speculate(16);
            m.record(16, s, s ? 20 : 16, 10e6, s ? 20e6 : 10e6);
        }
        assertFalse(m.speculate(64), "64 rows start from plain decoding");
        assertFalse(m.speculate(40), "so do 40");
        assertTrue(m.speculate(4), "4 rows have no evidence and a smaller bucket found nothing: measured first");

        MeasuredGoodput faster = new MeasuredGoodput();
        for (int step = 0; step < 30; step++) { // 16 rows: speculation faster
            boolean s = faster.speculate(16);
            faster.record(16, s, s ? 40 : 16, 10e6, s ? 20e6 : 10e6);
        }
        assertTrue(faster.speculate(64), "where the smaller batch gained, the bigger one measures speculation");
    }
}
