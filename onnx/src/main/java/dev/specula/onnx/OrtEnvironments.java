package dev.specula.onnx;

import ai.onnxruntime.OrtEnvironment;
import dev.specula.core.SpeculaException;

import java.util.concurrent.atomic.AtomicReference;

/**
 * ONNX Runtime's process-wide environment, created on a thread with a large stack. Its native initialization
 * recurses deeper than the 1 MiB stack of ordinary pool threads (Spark tasks, servlet and executor threads)
 * allows, and the JVM then dies with SIGSEGV and no error report; only {@code main}'s 8 MiB stack survives it.
 * Once created, the environment is shared and usable from any thread.
 */
final class OrtEnvironments {
    private static final long INIT_STACK_BYTES = 64L << 20;

    private OrtEnvironments() {
    }

    /** The environment, created on a {@value #INIT_STACK_BYTES}-byte-stack thread if this is the first use. */
    static OrtEnvironment get() {
        AtomicReference<OrtEnvironment> env = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread init = new Thread(null, () -> {
            try {
                env.set(OrtEnvironment.getEnvironment());
            } catch (Throwable t) {
                failure.set(t);
            }
        }, "onnxruntime-init", INIT_STACK_BYTES);
        init.setDaemon(true);
        init.start();
        boolean interrupted = false;
        while (true) {
            try {
                init.join(); // also when interrupted: the environment it creates is the process's
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Throwable t = failure.get();
        if (t instanceof Error e) {
            throw e;
        }
        if (t != null) {
            throw new SpeculaException("cannot create ONNX Runtime's environment: " + t.getMessage(), t);
        }
        return env.get();
    }
}
