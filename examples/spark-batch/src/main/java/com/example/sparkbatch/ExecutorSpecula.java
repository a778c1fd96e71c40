package com.example.sparkbatch;

import dev.specula.Specula;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One {@link Specula} per executor JVM and {@link ModelSource}, loaded by the first task that asks for it and shared
 * by every later task on that executor, concurrent ones included ({@code Specula} is thread-safe: one copy of the
 * weights, a KV cache per generation).
 *
 * <p>Why per JVM rather than per partition: loading a pair (sessions, tokenizer, the scheduler's cost calibration)
 * costs far more than generating a short completion, and an executor runs many partitions over its life. Spark
 * offers no per-executor lifecycle to hang it on, so this class is the one deliberate piece of JVM-wide state
 * in the example, keyed by the model source so that two jobs with different models in one JVM never share.
 *
 * <p>Ownership: this class owns every instance it hands out; tasks borrow them and never close them. They are
 * closed by {@link #closeAll()}, which a JVM shutdown hook (registered on the first load) calls when the executor
 * exits, and which a driver running Spark in local mode may call itself when its jobs are done.
 */
public final class ExecutorSpecula {
    private static final Map<ModelSource, Specula> INSTANCES = new ConcurrentHashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();
    private static final AtomicBoolean HOOK_REGISTERED = new AtomicBoolean();

    private ExecutorSpecula() {
    }

    /**
     * The shared instance for {@code source} in this JVM, loading it on first use (concurrent first callers wait for
     * one load). Borrowed: valid until {@link #closeAll()}; do not close it.
     */
    public static Specula get(ModelSource source) {
        return INSTANCES.computeIfAbsent(source, s -> {
            if (HOOK_REGISTERED.compareAndSet(false, true)) {
                Runtime.getRuntime().addShutdownHook(new Thread(ExecutorSpecula::closeAll, "specula-close"));
            }
            Specula loaded = s.load();
            LOADS.incrementAndGet();
            return loaded;
        });
    }

    /** How many instances this JVM has loaded so far: one per model source unless {@link #closeAll()} ran between. */
    public static int loads() {
        return LOADS.get();
    }

    /**
     * Closes every instance and forgets it (a later {@link #get} loads anew). Idempotent; meant for the end of the
     * JVM's work, when no task is generating.
     */
    public static void closeAll() {
        List<ModelSource> sources = new ArrayList<>(INSTANCES.keySet());
        for (ModelSource source : sources) {
            Specula specula = INSTANCES.remove(source);
            if (specula != null) {
                specula.close();
            }
        }
    }
}
