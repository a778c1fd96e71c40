package dev.specula.onnx;

/**
 * How an ONNX model is run.
 *
 * @param intraOpThreads threads one forward call may use (ONNX Runtime's intra-op pool); {@code >= 1}
 * @param provider       the execution provider
 * @param cudaDeviceId   the GPU for {@link ExecutionProvider#CUDA}
 * @param spinning       whether idle intra-op threads spin waiting for work (lower latency, burns a core); off
 *                       by default, since draft and target alternate on the same cores
 */
public record OnnxModelOptions(int intraOpThreads, ExecutionProvider provider, int cudaDeviceId, boolean spinning) {

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
    }

    /** CPU with one intra-op thread per available core (at most 8). */
    public static OnnxModelOptions defaults() {
        return cpu(Math.min(8, Runtime.getRuntime().availableProcessors()));
    }

    public static OnnxModelOptions cpu(int threads) {
        return new OnnxModelOptions(threads, ExecutionProvider.CPU, 0, false);
    }

    public static OnnxModelOptions cuda(int deviceId) {
        return new OnnxModelOptions(1, ExecutionProvider.CUDA, deviceId, false);
    }

    public OnnxModelOptions withIntraOpThreads(int threads) {
        return new OnnxModelOptions(threads, provider, cudaDeviceId, spinning);
    }

    public OnnxModelOptions withSpinning(boolean spin) {
        return new OnnxModelOptions(intraOpThreads, provider, cudaDeviceId, spin);
    }
}
