package dev.specula.cli.serve;

import dev.specula.Completion;
import dev.specula.core.decode.FinishReason;

import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;

/**
 * Watches one generation from the outside: it is the request's cancellation flag, which the decoder polls once
 * before every decoding step, so the time between two polls is one step (the step latency metric needs no hook in
 * the decoder); it ends the generation when the client is gone, the server stops or the request's deadline
 * passes; and it notes when the first text arrived. Used on the generating thread only.
 */
final class GenerationTracker implements BooleanSupplier {
    private final long arrivalNanos;
    private final long deadlineNanos;
    private final boolean hasDeadline;
    private final BooleanSupplier abandoned;
    private final LongConsumer steps;
    private long lastPoll;
    private boolean polled;
    private boolean timedOut;
    private long firstTextNanos = -1;

    /**
     * @param arrivalNanos  when the request arrived ({@link System#nanoTime()})
     * @param timeoutNanos  the request's time limit from arrival; 0 for none
     * @param abandoned     true once nobody waits for the result (client gone, server stopping)
     * @param steps         receives the duration of each decoding step
     */
    GenerationTracker(long arrivalNanos, long timeoutNanos, BooleanSupplier abandoned, LongConsumer steps) {
        this.arrivalNanos = arrivalNanos;
        this.hasDeadline = timeoutNanos > 0;
        this.deadlineNanos = arrivalNanos + timeoutNanos;
        this.abandoned = abandoned;
        this.steps = steps;
    }

    /** Polled before each decoding step: true ends the generation. */
    @Override
    public boolean getAsBoolean() {
        long now = System.nanoTime();
        if (polled) {
            steps.accept(now - lastPoll);
        }
        polled = true;
        lastPoll = now;
        if (abandoned.getAsBoolean()) {
            return true;
        }
        if (hasDeadline && now - deadlineNanos >= 0) {
            timedOut = true;
            return true;
        }
        return false;
    }

    /** Called with each piece of generated text. */
    void text() {
        if (firstTextNanos < 0) {
            firstTextNanos = System.nanoTime() - arrivalNanos;
        }
    }

    /** The generation returned: its last step, unless a cancellation ended it before a step. */
    void finished(Completion c) {
        if (polled && c.finishReason() != FinishReason.CANCELLED) {
            steps.accept(System.nanoTime() - lastPoll);
        }
    }

    /** Whether the request's time limit ended the generation. */
    boolean timedOut() {
        return timedOut;
    }

    /** Arrival to the first text, or -1 if none came. */
    long firstTextNanos() {
        return firstTextNanos;
    }
}
