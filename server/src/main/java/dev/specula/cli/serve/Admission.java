package dev.specula.cli.serve;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.TimeUnit;

/**
 * Admission control of generations: at most {@code maxRunning} run at once, at most {@code maxWaiting} more wait
 * for a slot in arrival order, and the rest are refused at once with 429 and a {@code Retry-After} estimate. A
 * request whose deadline passes while it waits is refused with 503; after {@link #stop()} every waiting and new
 * request is refused with 503. Thread-safe.
 *
 * <pre>{@code
 * try (Admission.Slot slot = admission.enter(deadlineNanos)) {   // throws ApiException 429 / 503
 *     ... generate ...
 * }
 * }</pre>
 */
final class Admission {
    /** The most seconds a {@code Retry-After} asks a client to wait. */
    static final int MAX_RETRY_AFTER_SECONDS = 60;
    /** Weight of the newest generation's duration in the moving average that estimates {@code Retry-After}. */
    private static final double DURATION_WEIGHT = 0.2;

    private final int maxRunning;
    private final int maxWaiting;
    private final Deque<Object> waiting = new ArrayDeque<>();
    private int running;
    private boolean stopping;
    private double meanSeconds; // moving average of generation durations; 0 until one finished

    /** A running generation's slot: closing it (once; later calls do nothing) lets the next waiting one in. */
    final class Slot implements AutoCloseable {
        private final long startNanos = System.nanoTime();
        private boolean closed;

        @Override
        public void close() {
            synchronized (Admission.this) {
                if (closed) {
                    return;
                }
                closed = true;
                running--;
                double seconds = (System.nanoTime() - startNanos) / 1e9;
                meanSeconds = meanSeconds == 0 ? seconds : meanSeconds + DURATION_WEIGHT * (seconds - meanSeconds);
                Admission.this.notifyAll();
            }
        }
    }

    Admission(int maxRunning, int maxWaiting) {
        if (maxRunning < 1) {
            throw new IllegalArgumentException("--max-running must be >= 1, got " + maxRunning);
        }
        if (maxWaiting < 0) {
            throw new IllegalArgumentException("--max-waiting must be >= 0, got " + maxWaiting);
        }
        this.maxRunning = maxRunning;
        this.maxWaiting = maxWaiting;
    }

    /**
     * A slot for one generation, waiting in line for one if all are taken.
     *
     * @param deadlineNanos the {@link System#nanoTime()} after which the request no longer waits (503)
     * @throws ApiException 429 when the wait queue is full, 503 when stopping or the deadline passed
     */
    synchronized Slot enter(long deadlineNanos) throws InterruptedException {
        if (stopping) {
            throw stopped();
        }
        if (running < maxRunning && waiting.isEmpty()) {
            running++;
            return new Slot();
        }
        if (waiting.size() >= maxWaiting) {
            throw ApiException.tooManyRequests("the server is busy: " + running + " generations running and "
                    + waiting.size() + " waiting, the most it takes (--max-running " + maxRunning
                    + ", --max-waiting " + maxWaiting + ")", retryAfterSeconds());
        }
        Object ticket = new Object();
        waiting.addLast(ticket);
        try {
            while (!stopping && !(running < maxRunning && waiting.peekFirst() == ticket)) {
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0) {
                    throw ApiException.unavailable("timeout", "the request timed out after waiting for a free"
                            + " generation slot (--request-timeout)", retryAfterSeconds());
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
            if (stopping) {
                throw stopped();
            }
            running++;
            return new Slot();
        } finally {
            waiting.remove(ticket);
            notifyAll(); // the next in line may now be at the head
        }
    }

    private ApiException stopped() {
        return ApiException.unavailable("server_shutting_down", "the server is shutting down", 1);
    }

    /**
     * Seconds until a slot is likely free: the mean generation time times the generations ahead per slot, at
     * least 1 and at most {@value #MAX_RETRY_AFTER_SECONDS}.
     */
    synchronized int retryAfterSeconds() {
        double ahead = (double) (waiting.size() + 1) / maxRunning;
        long seconds = (long) Math.ceil(meanSeconds * ahead);
        return (int) Math.max(1, Math.min(MAX_RETRY_AFTER_SECONDS, seconds));
    }

    /** Generations running now. */
    synchronized int running() {
        return running;
    }

    /** Requests waiting for a slot now. */
    synchronized int waiting() {
        return waiting.size();
    }

    /** Refuses new requests and wakes the waiting ones (503). Idempotent. */
    synchronized void stop() {
        stopping = true;
        notifyAll();
    }

    synchronized boolean stopping() {
        return stopping;
    }

    /** Waits up to {@code grace} until no generation runs; true if none does. */
    synchronized boolean awaitIdle(Duration grace) throws InterruptedException {
        long deadline = System.nanoTime() + grace.toNanos();
        while (running > 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }
}
