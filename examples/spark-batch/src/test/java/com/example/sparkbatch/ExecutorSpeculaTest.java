package com.example.sparkbatch;

import dev.specula.Specula;
import dev.specula.core.sampling.SamplingParams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReferenceArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The per-JVM holder. Runs in a JVM of its own (surefire does not reuse forks in this module), so that these threads
 * are the first in the JVM to use ONNX Runtime, as a Spark task thread is on a fresh executor.
 */
class ExecutorSpeculaTest {
    /** Smaller than any JVM's default thread stack; ONNX Runtime's environment creation needs more than 1 MiB. */
    private static final long SMALL_STACK = 256 << 10;

    @AfterAll
    static void close() {
        ExecutorSpecula.closeAll();
    }

    @Test
    void concurrentFirstCallersOnSmallStacksShareOneLoadedInstance() throws InterruptedException {
        ModelSource source = ModelSource.embedded();
        int loadsBefore = ExecutorSpecula.loads();
        CountDownLatch start = new CountDownLatch(1);
        AtomicReferenceArray<Object> got = new AtomicReferenceArray<>(2);
        Thread[] threads = new Thread[2];
        for (int i = 0; i < threads.length; i++) {
            int slot = i;
            threads[i] = new Thread(null, () -> {
                try {
                    start.await();
                    got.set(slot, ExecutorSpecula.get(source));
                } catch (Throwable t) {
                    got.set(slot, t);
                }
            }, "small-stack-task-" + i, SMALL_STACK);
            threads[i].start();
        }
        start.countDown();
        for (Thread t : threads) {
            t.join();
        }
        Object first = got.get(0);
        if (first instanceof Throwable t) {
            throw new AssertionError("loading failed", t);
        }
        assertSame(first, got.get(1), "both callers must get the one instance");
        assertEquals(1, ExecutorSpecula.loads() - loadsBefore);
        assertSame(first, ExecutorSpecula.get(source));

        Specula specula = (Specula) first;
        assertEquals(8, specula.generate("def fibonacci(n):", SamplingParams.greedy(8)).tokenIds().length);

        ExecutorSpecula.closeAll();
        ExecutorSpecula.closeAll(); // idempotent
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> specula.generate("def f(x):", SamplingParams.greedy(1)));
        assertEquals("this Specula instance is closed", e.getMessage());
    }
}
