package dev.specula.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import dev.specula.core.SpeculaException;
import dev.specula.core.model.CausalLanguageModel;
import dev.specula.core.model.ModelSequence;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A causal language model exported to ONNX the way {@code optimum-cli export onnx --task
 * text-generation-with-past} does it: the ONE runner behind both draft and target models.
 *
 * <p>Owns its {@link OrtSession} (thread-safe, shared by every sequence) and closes it in {@link #close()},
 * which is idempotent. Each {@link #newSequence()} holds its own KV cache; after the model is closed, calls on
 * its sequences throw {@link IllegalStateException} instead of touching freed native memory.
 *
 * <pre>{@code
 * try (OnnxCausalLM model = OnnxCausalLM.load(Path.of("models/target"), OnnxModelOptions.cpu(2));
 *      ModelSequence seq = model.newSequence()) {
 *     Logits logits = seq.append(promptIds);
 * }
 * }</pre>
 */
public final class OnnxCausalLM implements CausalLanguageModel {
    private final Path directory;
    private final String name;
    private final ModelConfig config;
    private final OnnxModelOptions options;
    private final OrtEnvironment env;
    private final OrtSession.SessionOptions sessionOptions;
    private final OrtSession session;
    private final ModelSignature signature;
    private final int vocabSize;
    /** Runs hold the read side; close takes the write side, so no run outlives the session. */
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private final AtomicInteger openSequences = new AtomicInteger();
    private final java.util.concurrent.ConcurrentLinkedDeque<SequenceBuffers> bufferPool =
            new java.util.concurrent.ConcurrentLinkedDeque<>();
    private static final int MAX_POOLED_BUFFERS = 64;
    private final LongAdder runNanos = new LongAdder();
    private final LongAdder runs = new LongAdder();
    private volatile boolean closed;
    private String sha256;

    private OnnxCausalLM(Path directory, ModelConfig config, OnnxModelOptions options, OrtEnvironment env,
                         OrtSession.SessionOptions sessionOptions, OrtSession session, ModelSignature signature) {
        this.directory = directory;
        this.name = directory.getFileName() == null ? directory.toString() : directory.getFileName().toString();
        this.config = config;
        this.options = options;
        this.env = env;
        this.sessionOptions = sessionOptions;
        this.session = session;
        this.signature = signature;
        this.vocabSize = config.vocabSize();
    }

    /**
     * Loads {@code dir/model.onnx} with {@code dir/config.json} (and {@code generation_config.json} if present).
     *
     * @throws dev.specula.core.SpeculaException naming the problem when the directory, a file, or the model's
     *                                           signature is not what a Hugging Face export holds
     */
    public static OnnxCausalLM load(Path dir, OnnxModelOptions options) {
        if (!Files.isDirectory(dir)) {
            throw new SpeculaException("model directory " + dir + " does not exist or is not a directory");
        }
        Path modelFile = dir.resolve("model.onnx");
        if (!Files.isRegularFile(modelFile)) {
            throw new SpeculaException("model directory " + dir + " has no model.onnx (expected a Hugging Face"
                    + " export: model.onnx, config.json, tokenizer.json)");
        }
        if (!Files.isReadable(modelFile)) {
            throw new SpeculaException("cannot read " + modelFile + ": permission denied");
        }
        ModelConfig config = ModelConfig.read(dir);
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        OrtSession.SessionOptions so = new OrtSession.SessionOptions();
        OrtSession session = null;
        try {
            so.setIntraOpNumThreads(options.intraOpThreads());
            so.setInterOpNumThreads(1);
            so.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            so.setMemoryPatternOptimization(false); // shapes change every call
            so.addConfigEntry("session.intra_op.allow_spinning", options.spinning() ? "1" : "0");
            if (options.provider() == OnnxModelOptions.ExecutionProvider.CUDA) {
                if (!OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) {
                    throw new SpeculaException("CUDA was requested for " + dir + " but the ONNX Runtime on the classpath"
                            + " has no CUDA provider (available: " + OrtEnvironment.getAvailableProviders()
                            + "); depend on com.microsoft.onnxruntime:onnxruntime_gpu instead of onnxruntime"
                            + " (it needs CUDA 12 and cuDNN 9)");
                }
                so.addCUDA(options.cudaDeviceId());
            }
            session = env.createSession(modelFile.toString(), so);
            ModelSignature signature = ModelSignature.discover(session, dir.toString());
            if (signature.logitsVocab() > 0 && signature.logitsVocab() != config.vocabSize()) {
                throw new SpeculaException("model " + dir + " produces logits over " + signature.logitsVocab()
                        + " tokens but config.json says vocab_size " + config.vocabSize());
            }
            if (config.numHiddenLayers() > 0 && config.numHiddenLayers() != signature.layers()) {
                throw new SpeculaException("model " + dir + " has " + signature.layers() + " layers of past_key_values"
                        + " but config.json says num_hidden_layers " + config.numHiddenLayers());
            }
            return new OnnxCausalLM(dir, config, options, env, so, session, signature);
        } catch (OrtException e) {
            closeQuietly(session, so);
            throw new SpeculaException("cannot load " + modelFile + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(session, so);
            throw e;
        }
    }

    private static void closeQuietly(OrtSession session, OrtSession.SessionOptions so) {
        try {
            if (session != null) {
                session.close();
            }
        } catch (OrtException ignored) {
            // already failing; the original error is reported
        }
        so.close();
    }

    public Path directory() {
        return directory;
    }

    public ModelConfig config() {
        return config;
    }

    /**
     * SHA-256 of {@code model.onnx} (computed on first call): provenance for reports, so a number can be traced
     * back to the exact model that produced it.
     */
    public synchronized String modelSha256() {
        if (sha256 == null) {
            try (java.io.InputStream in = java.nio.file.Files.newInputStream(directory.resolve("model.onnx"))) {
                java.security.MessageDigest digest = java.security.MessageDigest.getInstance("SHA-256");
                byte[] buffer = new byte[1 << 16];
                for (int n; (n = in.read(buffer)) > 0; ) {
                    digest.update(buffer, 0, n);
                }
                sha256 = java.util.HexFormat.of().formatHex(digest.digest());
            } catch (java.io.IOException | java.security.NoSuchAlgorithmException e) {
                throw new SpeculaException("cannot hash " + directory.resolve("model.onnx") + ": " + e.getMessage(), e);
            }
        }
        return sha256;
    }

    public OnnxModelOptions options() {
        return options;
    }

    ModelSignature signature() {
        return signature;
    }

    OrtEnvironment env() {
        return env;
    }

    OrtSession session() {
        return session;
    }

    ReentrantReadWriteLock.ReadLock runLock() {
        return lifecycle.readLock();
    }

    boolean isClosed() {
        return closed;
    }

    void sequenceClosed() {
        openSequences.decrementAndGet();
    }

    SequenceBuffers borrowBuffers() {
        SequenceBuffers b = bufferPool.pollFirst();
        return b != null ? b : new SequenceBuffers(env, vocabSize, signature.logitsType() == ai.onnxruntime.OnnxJavaType.FLOAT);
    }

    void returnBuffers(SequenceBuffers b) {
        if (closed || bufferPool.size() >= MAX_POOLED_BUFFERS) {
            b.close();
            return;
        }
        bufferPool.offerFirst(b);
        if (closed && bufferPool.remove(b)) {
            b.close(); // the model closed meanwhile
        }
    }

    void recordRun(long nanos) {
        runNanos.add(nanos);
        runs.increment();
    }

    /** Wall time spent inside ONNX Runtime's {@code run} by all sequences of this model (for overhead reports). */
    public long runNanos() {
        return runNanos.sum();
    }

    /** Forward calls made by all sequences of this model. */
    public long runs() {
        return runs.sum();
    }

    /** Sequences made from this model and not yet closed. */
    public int openSequences() {
        return openSequences.get();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public int maxSequenceLength() {
        return config.maxPositionEmbeddings();
    }

    @Override
    public ModelSequence newSequence() {
        if (closed) {
            throw new IllegalStateException("model " + name + " is closed");
        }
        openSequences.incrementAndGet();
        try {
            return new OnnxSequence(this);
        } catch (RuntimeException e) {
            openSequences.decrementAndGet();
            throw e;
        }
    }

    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            for (SequenceBuffers b; (b = bufferPool.pollFirst()) != null; ) {
                b.close();
            }
            try {
                session.close();
            } catch (OrtException e) {
                throw new SpeculaException("closing model " + name + " failed: " + e.getMessage(), e);
            } finally {
                sessionOptions.close();
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "OnnxCausalLM[" + directory + ", vocab " + vocabSize + ", " + signature.layers() + " layers, "
                + signature.kvHeads() + " kv heads x " + signature.headDim() + ", " + signature.kvType() + " KV]";
    }
}
