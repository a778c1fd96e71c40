package dev.specula.core.decode;

import dev.specula.core.sampling.SamplingParams;

import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * A {@link BatchStepper} on a thread of its own: any thread {@link #submit submits} a generation and gets a future;
 * the engine thread adds it to the batch at the next step boundary and steps until nothing is left, then sleeps until
 * the next submission. Listeners and cancellation flags are called on the engine thread, so a slow listener slows
 * every generation of the batch.
 *
 * <p>Thread-safe. Owned by whoever called {@link BatchDecoder#start()}; {@link #close()} (idempotent) stops taking
 * submissions, cancels what is queued or running (each completes with what it has, {@link FinishReason#CANCELLED}),
 * joins the thread and closes the batches. The models stay their owners'.
 */
public final class BatchEngine implements AutoCloseable {
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final BatchDecoder config;
    private final Object lock = new Object();
    private final ArrayDeque<Submission> submissions = new ArrayDeque<>();
    private final Thread thread;
    private boolean closing;
    private volatile int peakBatchSize;
    private volatile boolean closed;

    BatchEngine(BatchDecoder config) {
        this.config = config;
        BatchStepper stepper = config.stepper();
        this.thread = new Thread(() -> run(stepper), "specula-batch-engine-" + THREADS.incrementAndGet());
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Queues a generation.
     *
     * @param listener  called on the engine thread with each token; if it throws, this generation (alone) fails
     * @param cancelled polled once per step on the engine thread; true ends the generation with what it has
     * @return completed with the result, or exceptionally with what made this generation fail
     * @throws IllegalArgumentException as {@link SpeculativeDecoder#generate}
     * @throws IllegalStateException    if the engine is closed
     */
    public CompletableFuture<GenerationResult> submit(int[] prompt, SamplingParams params, TokenListener listener,
                                                      BooleanSupplier cancelled) {
        return submit(prompt, params, listener, cancelled, true);
    }

    /** {@link #submit(int[], SamplingParams, TokenListener, BooleanSupplier)}; {@code speculative} false decodes plainly. */
    public CompletableFuture<GenerationResult> submit(int[] prompt, SamplingParams params, TokenListener listener,
                                                      BooleanSupplier cancelled, boolean speculative) {
        config.validate(prompt, params);
        Submission s = new Submission(prompt.clone(), params, Objects.requireNonNull(listener, "listener"),
                Objects.requireNonNull(cancelled, "cancelled"), speculative);
        synchronized (lock) {
            if (closing) {
                throw new IllegalStateException("batch engine is closed");
            }
            submissions.add(s);
            lock.notifyAll();
        }
        return s.result;
    }

    /** The most generations stepped together so far (for diagnostics and tests). */
    public int peakBatchSize() {
        return peakBatchSize;
    }

    /** The engine's thread (for diagnostics and tests). */
    public Thread thread() {
        return thread;
    }

    private void run(BatchStepper stepper) {
        try {
            while (true) {
                synchronized (lock) {
                    while (!closing && submissions.isEmpty() && !stepper.hasWork()) {
                        try {
                            lock.wait();
                        } catch (InterruptedException e) {
                            closing = true; // an interrupt of the engine thread shuts the engine down
                        }
                    }
                    if (closing) {
                        break;
                    }
                }
                admit(stepper);
                try {
                    stepper.step();
                    peakBatchSize = stepper.peakRunning();
                } catch (RuntimeException | Error e) {
                    // A fault of the loop itself: nothing running can be trusted to go on.
                    failAll(e);
                    stepper.abort(e);
                    return;
                }
            }
            admit(stepper);
        } finally {
            stepper.close();
        }
    }

    /** Moves submissions into the stepper. */
    private void admit(BatchStepper stepper) {
        while (true) {
            Submission s;
            synchronized (lock) {
                s = submissions.poll();
            }
            if (s == null) {
                return;
            }
            try {
                stepper.add(s.prompt, s.params, s.listener, s.cancelled, s.speculative).whenComplete((r, e) -> {
                    if (e != null) {
                        s.result.completeExceptionally(e);
                    } else {
                        s.result.complete(r);
                    }
                });
            } catch (RuntimeException e) {
                s.result.completeExceptionally(e);
            }
        }
    }

    private void failAll(Throwable e) {
        synchronized (lock) {
            closing = true;
            for (Submission s : submissions) {
                s.result.completeExceptionally(e);
            }
            submissions.clear();
        }
    }

    /** Stops taking submissions, cancels everything queued or running, joins the thread; a second call does nothing. */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closing = true;
            lock.notifyAll();
        }
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        closed = true;
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** True once {@link #close()} has returned. */
    public boolean isClosed() {
        return closed;
    }

    private record Submission(int[] prompt, SamplingParams params, TokenListener listener, BooleanSupplier cancelled,
                              boolean speculative, CompletableFuture<GenerationResult> result) {
        Submission(int[] prompt, SamplingParams params, TokenListener listener, BooleanSupplier cancelled,
                   boolean speculative) {
            this(prompt, params, listener, cancelled, speculative, new CompletableFuture<>());
        }
    }
}
