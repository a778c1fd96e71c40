package dev.specula.onnx;

import java.nio.file.Path;

/**
 * How an ONNX model is found and run. Start from {@link #cpu(int)}, {@link #cuda(int)} or {@link #defaults()} and
 * change one option at a time with the {@code with*} methods.
 *
 * <pre>{@code
 * OnnxModelOptions options = OnnxModelOptions.cpu(2).withVariant("q4").withPrefillChunkTokens(512)
 *         .withOptimizedModelCache(Path.of(System.getProperty("user.home"), ".cache/specula/ort"));
 * }</pre>
 *
 * @param intraOpThreads        threads one forward call may use (ONNX Runtime's intra-op pool); {@code >= 1}
 * @param provider              the execution provider
 * @param cudaDeviceId          the GPU for {@link ExecutionProvider#CUDA}
 * @param spinning              whether intra-op threads spin waiting for work while a forward call runs, or block
 *                              (see {@link Spinning}; {@link Spinning#AUTO} by default)
 * @param variant               which graph of a directory to load: {@code ""} for {@code model.onnx} /
 *                              {@code decoder_model_merged.onnx}, else e.g. {@code "q4"} for {@code onnx/model_q4.onnx}
 *                              (see {@link ModelFiles})
 * @param prefillChunkTokens    the most tokens one forward call of a prefill takes: a long prompt is fed in chunks so
 *                              that ONNX Runtime's logits output holds at most this many rows of the vocabulary
 * @param rollback              how rolled-back tokens leave the KV cache of a graph run as exported (see
 *                              {@link RollbackMode}); a fused graph rolls back by length alone
 * @param optimizedModelCache   a folder where the graph as optimized for this machine (pre-packed weights included)
 *                              is kept, so that a second load skips the optimization; {@code null} for none
 * @param pinnedKv              whether sequences may write the present KV into two buffer sets of their own instead of
 *                              tensors ONNX Runtime allocates per call (on by default; used only where both sets at the
 *                              full context are small, see {@code OnnxCausalLM.description()})
 * @param fuseAttention         whether to rewrite the graph's attention blocks into ONNX Runtime's fused
 *                              GroupQueryAttention at load, with the KV cache updated in place (on by default; kept
 *                              only where the graph matches and a parity probe finds the same logits, see
 *                              {@code OnnxCausalLM.attention()})
 */
public record OnnxModelOptions(int intraOpThreads, ExecutionProvider provider, int cudaDeviceId, Spinning spinning,
                               String variant, int prefillChunkTokens, RollbackMode rollback,
                               Path optimizedModelCache, boolean pinnedKv, boolean fuseAttention) {

    /** Default for {@link #prefillChunkTokens}: 256 rows of a 151,936-token vocabulary are 155 MB of logits. */
    public static final int DEFAULT_PREFILL_CHUNK = 256;

    /** Where the model runs. */
    public enum ExecutionProvider {
        /** ONNX Runtime's CPU provider (the default; in the {@code onnxruntime} artifact). */
        CPU,
        /**
         * NVIDIA CUDA: needs the {@code com.microsoft.onnxruntime:onnxruntime_gpu} artifact instead of
         * {@code onnxruntime} on the classpath (it links CUDA 12 and cuDNN 9); loading fails with a clear error
         * otherwise.
         */
        CUDA
    }

    /**
     * Whether the intra-op threads spin while a forward call runs. Spinning saves a wake-up per parallel section (a
     * decode step of a small model has hundreds): on an otherwise idle 2-core VM, 2 threads decoded the embedded
     * target 1.37x as fast spinning, speculation 1.15x. Spinning threads that share their cores with other busy
     * processes lose their time slices instead: with two busy processes on those 2 cores, 0.59x and 0.88x. Either
     * way the threads block once the call returns, so an idle pool never takes the core that the other model of a
     * speculative pair needs next.
     */
    public enum Spinning {
        /**
         * Decide at load: spin when, over a 100 ms sample, other processes left idle at least the cores the threads
         * need (less half a core); one thread never spins (it is the calling thread). The decision and the sample
         * are in {@code OnnxCausalLM.description()}; it is not revisited if the load changes later.
         */
        AUTO,
        ON,
        OFF
    }

    /** How a sequence forgets rolled-back tokens. */
    public enum RollbackMode {
        /**
         * Decide at load: masked rollback when the graph takes {@code attention_mask} and {@code position_ids}, the
         * config names no sliding window, and a parity probe (append, roll back, append other tokens, compare with
         * a fresh sequence) shows the graph applies the mask; compaction otherwise.
         */
        AUTO,
        /** O(1): rolled-back slots stay in the cache with attention-mask 0 (trusted without a probe). */
        MASKED,
        /** Every rollback rewrites the cache without the dropped slots. */
        COMPACT
    }

    public OnnxModelOptions {
        int cores = Runtime.getRuntime().availableProcessors();
        if (intraOpThreads < 1 || intraOpThreads > Math.max(256, cores)) {
            throw new IllegalArgumentException("intraOpThreads must be in [1, " + Math.max(256, cores) + "], got "
                    + intraOpThreads);
        }
        if (provider == null) {
            throw new IllegalArgumentException("provider must not be null (CPU or CUDA)");
        }
        if (cudaDeviceId < 0) {
            throw new IllegalArgumentException("cudaDeviceId must be >= 0, got " + cudaDeviceId);
        }
        if (variant == null || !variant.matches("[A-Za-z0-9_]*")) {
            throw new IllegalArgumentException("variant must be letters, digits or '_' (e.g. \"q4\", \"fp16\"; \"\" for"
                    + " model.onnx), got " + (variant == null ? "null" : "'" + variant + "'"));
        }
        if (prefillChunkTokens < 1) {
            throw new IllegalArgumentException("prefillChunkTokens must be >= 1, got " + prefillChunkTokens);
        }
        if (rollback == null) {
            throw new IllegalArgumentException("rollback must not be null (AUTO, MASKED or COMPACT)");
        }
        if (spinning == null) {
            throw new IllegalArgumentException("spinning must not be null (AUTO, ON or OFF)");
        }
    }

    /** CPU with one intra-op thread per available core (at most 8). */
    public static OnnxModelOptions defaults() {
        return cpu(Math.min(8, Runtime.getRuntime().availableProcessors()));
    }

    public static OnnxModelOptions cpu(int threads) {
        return new OnnxModelOptions(threads, ExecutionProvider.CPU, 0, Spinning.AUTO, "", DEFAULT_PREFILL_CHUNK,
                RollbackMode.AUTO, null, true, true);
    }

    public static OnnxModelOptions cuda(int deviceId) {
        return new OnnxModelOptions(1, ExecutionProvider.CUDA, deviceId, Spinning.AUTO, "", DEFAULT_PREFILL_CHUNK,
                RollbackMode.AUTO, null, true, true);
    }

    public OnnxModelOptions withIntraOpThreads(int threads) {
        return new OnnxModelOptions(threads, provider, cudaDeviceId, spinning, variant, prefillChunkTokens, rollback,
                optimizedModelCache, pinnedKv, fuseAttention);
    }

    /** Spinning on or off, instead of deciding at load. */
    public OnnxModelOptions withSpinning(boolean spin) {
        return withSpinning(spin ? Spinning.ON : Spinning.OFF);
    }

    public OnnxModelOptions withSpinning(Spinning spin) {
        return new OnnxModelOptions(intraOpThreads, provider, cudaDeviceId, spin, variant, prefillChunkTokens, rollback,
                optimizedModelCache, pinnedKv, fuseAttention);
    }

    /** Loads {@code model_<variant>.onnx} (e.g. "q4", "fp16", "quantized"); {@code ""} for {@code model.onnx}. */
    public OnnxModelOptions withVariant(String graphVariant) {
        return new OnnxModelOptions(intraOpThreads, provider, cudaDeviceId, spinning, graphVariant, prefillChunkTokens,
                rollback, optimizedModelCache, pinnedKv, fuseAttention);
    }

    public OnnxModelOptions withPrefillChunkTokens(int tokens) {
        return new OnnxModelOptions(intraOpThreads, provider, cudaDeviceId, spinning, variant, tokens, rollback,
                optimizedModelCache, pinnedKv, fuseAttention);
    }

    public OnnxModelOptions withRollback(RollbackMode mode) {
        return new OnnxModelOptions(intraOpThreads, provider, cudaDeviceId, spinning, variant, prefillChunkTokens, mode,
                optimizedModelCache, pinnedKv, fuseAttention);
    }

    /** Keeps optimized graphs under {@code folder} (one subfolder per model, runtime and provider); null: off. */
    public OnnxModelOptions withOptimizedModelCache(Path folder) {
        return new OnnxModelOptions(intraOpThreads, provider, cudaDeviceId, spinning, variant, prefillChunkTokens,
                rollback, folder, pinnedKv, fuseAttention);
    }

    /** Lets sequences of small models write the present KV into buffers of their own (true, the default) or not. */
    public OnnxModelOptions withPinnedKv(boolean pin) {
        return new OnnxModelOptions(intraOpThreads, provider, cudaDeviceId, spinning, variant, prefillChunkTokens,
                rollback, optimizedModelCache, pin, fuseAttention);
    }

    /**
     * Rewrites the attention into ONNX Runtime's fused GroupQueryAttention where the graph allows it (true, the
     * default) or runs the graph as exported.
     */
    public OnnxModelOptions withFusedAttention(boolean fuse) {
        return new OnnxModelOptions(intraOpThreads, provider, cudaDeviceId, spinning, variant, prefillChunkTokens,
                rollback, optimizedModelCache, pinnedKv, fuse);
    }
}
