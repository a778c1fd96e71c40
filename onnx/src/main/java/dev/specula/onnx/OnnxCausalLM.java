package dev.specula.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import dev.specula.core.SpeculaException;
import dev.specula.core.model.CausalLanguageModel;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.model.SequenceBatch;
import dev.specula.core.model.SequentialBatch;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A causal language model exported to ONNX the way {@code optimum-cli export onnx --task
 * text-generation-with-past} does it: the ONE runner behind both draft and target models.
 *
 * <p>Owns its {@link OrtSession} (thread-safe, shared by every sequence) and closes it in {@link #close()},
 * which is idempotent. Each {@link #newSequence()} holds its own KV cache; after the model is closed, calls on
 * its sequences throw {@link IllegalStateException} instead of touching freed native memory. {@link #newBatch(int)}
 * steps many sequences in one forward call over one KV cache with a batch axis ({@code OnnxSequenceBatch}).
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
    private final ModelFiles files;
    /** Set once in {@link #load}, before the model is handed out. */
    private Duration loadTime = Duration.ZERO;
    private final String loadedFrom;
    /** Set once at load, before the model is handed out; null only while the probe runs (which forces its modes). */
    private RollbackProbe.Decision rollback;
    /** Set once at load, after the rollback decision, before the model is handed out. */
    private RowInvarianceProbe.Decision rowInvariance;
    /** Set once at load, before any sequence: null when sequences write present KV into their own buffers, else why not. */
    private String kvNotPinned = "undecided";
    private String spinning = "undecided"; // the load's SpinDecision, for descriptions
    /** Set once at load, before any sequence. */
    private Attention attention;
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
    /** Pooled buffers beyond this many keep no pinned KV sets (at most 16 MiB each, see {@link #PINNED_KV_MAX_BYTES}). */
    private static final int POOLED_KV_SETS = 8;
    /** A pooled buffer set keeps its KV buffers only up to this size (a fused sequence's grow with its context). */
    private static final long POOLED_KV_MAX_BYTES = 32L << 20;
    private final LongAdder runNanos = new LongAdder();
    private final LongAdder runs = new LongAdder();
    private volatile boolean closed;
    /** Copy graphs by kind (kept KV slots of a compaction, a batch's rows), created on first use, closed with the model. */
    private final java.util.Map<String, OrtSession> helpers = new java.util.HashMap<>();
    private OrtSession.SessionOptions helperOptions;
    static final String GATHER_CACHE = "cache";
    static final String GATHER_SLOTS = "slots";
    private String sha256;

    private OnnxCausalLM(Path directory, ModelFiles files, ModelConfig config, OnnxModelOptions options,
                         OrtEnvironment env, OrtSession.SessionOptions sessionOptions, OrtSession session,
                         ModelSignature signature, String loadedFrom) {
        this.directory = directory;
        this.name = directory.getFileName() == null ? directory.toString() : directory.getFileName().toString();
        this.files = files;
        this.config = config;
        this.options = options;
        this.env = env;
        this.sessionOptions = sessionOptions;
        this.session = session;
        this.signature = signature;
        this.vocabSize = config.vocabSize();
        this.loadedFrom = loadedFrom;
    }

    /**
     * Loads the decoder in {@code dir} (see {@link ModelFiles} for the layouts found: {@code model.onnx},
     * {@code decoder_model_merged.onnx}, {@code onnx/model_<variant>.onnx}, external data) with its
     * {@code config.json} (a nested {@code text_config} is read too) and {@code generation_config.json} if present,
     * then decides how rollback works (see {@link OnnxModelOptions.RollbackMode#AUTO}).
     *
     * @param dir a model directory, or the path of one {@code .onnx} graph in it
     * @throws dev.specula.core.SpeculaException naming the problem when the directory, a file, or the model's
     *                                           signature is not what a Hugging Face export holds
     */
    public static OnnxCausalLM load(Path dir, OnnxModelOptions options) {
        long start = System.nanoTime();
        ModelFiles files = ModelFiles.locate(dir, options.variant());
        Path modelFile = files.graph();
        ModelConfig config = ModelConfig.read(files.configDirectory());
        OrtEnvironment env = OrtEnvironments.get();
        OrtSession.SessionOptions so = new OrtSession.SessionOptions();
        OrtSession session = null;
        OnnxCausalLM model = null;
        try {
            so.setIntraOpNumThreads(options.intraOpThreads());
            so.setInterOpNumThreads(1);
            so.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            so.setMemoryPatternOptimization(false); // shapes change every call
            SpinDecision spinning = SpinDecision.of(options);
            so.addConfigEntry("session.intra_op.allow_spinning", spinning.spin() ? "1" : "0");
            // With one inter-op thread and sequential execution the inter-op pool is idle: never let it spin.
            so.addConfigEntry("session.inter_op.allow_spinning", "0");
            if (spinning.spin()) {
                // Spin only while a call runs (no futex wake per parallel section); block once it returns, so
                // an idle pool does not burn the core the other model of a speculative pair is about to use.
                so.addConfigEntry("session.force_spinning_stop", "1");
            }
            if (options.provider() == OnnxModelOptions.ExecutionProvider.CUDA) {
                if (!OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) {
                    throw new SpeculaException("CUDA was requested for " + dir + " but the ONNX Runtime on the classpath"
                            + " has no CUDA provider (available: " + OrtEnvironment.getAvailableProviders()
                            + "); depend on com.microsoft.onnxruntime:onnxruntime_gpu instead of onnxruntime"
                            + " (it needs CUDA 12 and cuDNN 9)");
                }
                so.addCUDA(options.cudaDeviceId());
            }
            OptimizedModelCache.Plan plan = options.optimizedModelCache() == null ? null
                    : OptimizedModelCache.plan(options.optimizedModelCache(), files, options);
            Path cached = plan == null ? null : plan.prepare(so);
            Attention attention;
            if (cached != null) {
                session = env.createSession(cached.toString(), so);
                boolean fused = options.fuseAttention() && GraphOpTypes.read(cached).contains(AttentionFusion.OP)
                        && !GraphOpTypes.read(modelFile).contains(AttentionFusion.OP);
                attention = new Attention(fused, fused ? "fused when the cached graph was written" : "as exported");
            } else {
                Fused f = options.fuseAttention() ? fuse(env, so, files, config, options) : null;
                session = f != null && f.session() != null ? f.session() : env.createSession(modelFile.toString(), so);
                attention = f == null ? new Attention(false, "as exported (fusion turned off in the options)")
                        : f.attention();
            }
            String loadedFrom = plan == null ? modelFile.toString() : plan.finish();
            ModelSignature signature = ModelSignature.discover(session, dir.toString());
            if (signature.logitsVocab() > 0 && signature.logitsVocab() != config.vocabSize()) {
                throw new SpeculaException("model " + dir + " produces logits over " + signature.logitsVocab()
                        + " tokens but config.json says vocab_size " + config.vocabSize());
            }
            if (config.numHiddenLayers() > 0 && config.numHiddenLayers() != signature.layers()) {
                throw new SpeculaException("model " + dir + " has " + signature.layers() + " layers of past_key_values"
                        + " but config.json says num_hidden_layers " + config.numHiddenLayers());
            }
            model = new OnnxCausalLM(dir, files, config, options, env, so, session, signature, loadedFrom);
            model.attention = attention;
            model.spinning = spinning.toString();
            model.kvNotPinned = attention.fused() ? "the fused attention updates its KV buffers in place"
                    : options.pinnedKv() ? kvNotPinned(session, signature, config.maxPositionEmbeddings())
                    : "turned off in the options";
            model.rollback = RollbackProbe.decide(model);
            model.rowInvariance = RowInvarianceProbe.decide(model);
            model.loadTime = Duration.ofNanos(System.nanoTime() - start);
            return model;
        } catch (OrtException e) {
            closeQuietly(model, session, so);
            throw new SpeculaException("cannot load " + modelFile + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(model, session, so);
            throw e;
        }
    }

    /**
     * How the graph's attention runs: fused by {@link AttentionFusion} (KV cache updated in place) or as exported.
     *
     * @param fused  whether sequences run the fused graph
     * @param reason what was fused and the parity probe's result, or why the graph runs as exported
     */
    public record Attention(boolean fused, String reason) {
        @Override
        public String toString() {
            return (fused ? "fused GroupQueryAttention" : "as exported") + " (" + reason + ")";
        }
    }

    /** A fused session (null when fusion did not apply or failed its probe) and what happened. */
    private record Fused(OrtSession session, Attention attention) {
    }

    /**
     * Rewrites the graph's attention ({@link AttentionFusion}), creates a session from it and keeps it only if
     * {@link FusedAttentionProbe} finds the logits of the exported graph; anything else leaves the graph as exported.
     */
    private static Fused fuse(OrtEnvironment env, OrtSession.SessionOptions so, ModelFiles files, ModelConfig config,
                              OnnxModelOptions options) {
        AttentionFusion.Result rewrite;
        try {
            rewrite = AttentionFusion.rewrite(AttentionFusion.read(files.graph()), files.configDirectory(),
                    config.maxPositionEmbeddings());
        } catch (java.io.IOException | RuntimeException e) {
            return new Fused(null, new Attention(false, "as exported (the graph could not be read for fusion: "
                    + e.getMessage() + ")"));
        }
        if (!rewrite.fused()) {
            return new Fused(null, new Attention(false, rewrite.reason()));
        }
        if (config.slidingWindow() > 0 && config.slidingWindow() < config.maxPositionEmbeddings()) {
            return new Fused(null, new Attention(false, "config.json sets sliding_window " + config.slidingWindow()));
        }
        OrtSession fused = null;
        try {
            float[][] expected = FusedAttentionProbe.reference(env, files.graph(), options.intraOpThreads(),
                    config.vocabSize());
            if (!files.externalData().isEmpty()) {
                so.addConfigEntry("session.model_external_initializers_file_folder_path",
                        files.graph().toAbsolutePath().getParent().toString());
            }
            fused = env.createSession(rewrite.model().toByteArray(), so);
            ModelSignature sig = ModelSignature.discover(fused, files.graph().toString());
            double[] probe = FusedAttentionProbe.parityError(env, fused, sig, expected, config.vocabSize());
            double tolerance = RollbackProbe.tolerance(sig);
            String result = String.format(java.util.Locale.ROOT,
                    "parity probe: max |difference| %.2e of max |logit| %.3g, tolerance %.0e relative", probe[0],
                    probe[1], tolerance);
            if (!(probe[0] <= tolerance * Math.max(1, probe[1]))) {
                OrtSession rejected = fused;
                fused = null;
                rejected.close();
                return new Fused(null, new Attention(false, rewrite.reason() + ", rejected by the " + result));
            }
            return new Fused(fused, new Attention(true, rewrite.reason() + "; " + result));
        } catch (OrtException | RuntimeException e) {
            if (fused != null) {
                try {
                    fused.close();
                } catch (OrtException ignored) {
                    // the fused session is dropped either way; the exported graph is loaded next
                }
            }
            return new Fused(null, new Attention(false, rewrite.reason() + ", but ONNX Runtime could not run it: "
                    + e.getMessage()));
        }
    }

    /** How the graph's attention runs (decided at load). */
    public Attention attention() {
        return attention;
    }

    /** Whether sequences run a graph whose fused attention updates the KV cache in place. */
    boolean fusedAttention() {
        return attention != null && attention.fused();
    }

    /**
     * Why sequences of this model should not write the present KV into buffers of their own (null when they should):
     * pinned only where every present output is [batch, kv_heads, total, head_dim] of the cache's type and both
     * buffer sets at the full context fit {@link #PINNED_KV_MAX_BYTES}. Measured: a draft call's CPU time 0.91x,
     * the 11M target's 1.00x (docs/benchmarks.md), so the budget keeps large models on ONNX Runtime's allocator.
     */
    static String kvNotPinned(OrtSession session, ModelSignature sig, int maxLength) throws OrtException {
        long bytes = 2L * sig.presentNames().size() * sig.kvHeads() * sig.headDim() * kvElementBytes(sig)
                * Math.max(1, maxLength);
        if (bytes > PINNED_KV_MAX_BYTES) {
            return "two buffer sets at the full context would take " + (bytes >> 20) + " MiB, more than "
                    + (PINNED_KV_MAX_BYTES >> 20) + " MiB";
        }
        java.util.Map<String, ai.onnxruntime.NodeInfo> outputs = session.getOutputInfo();
        for (String name : sig.presentNames()) {
            ai.onnxruntime.ValueInfo info = outputs.get(name).getInfo();
            if (!(info instanceof ai.onnxruntime.TensorInfo t) || t.type != sig.kvType() || t.getShape().length != 4
                    || t.getShape()[1] != sig.kvHeads() || t.getShape()[3] != sig.headDim()) {
                return "output '" + name + "' is " + info + ", not " + sig.kvType() + " [batch, " + sig.kvHeads()
                        + ", total, " + sig.headDim() + "]";
            }
        }
        return null;
    }

    /** Both pinned KV buffer sets of one sequence at the full context, at most (the embedded pair: 2 and 12 MiB). */
    static final long PINNED_KV_MAX_BYTES = 16L << 20;

    static int kvElementBytes(ModelSignature sig) {
        return sig.kvType() == ai.onnxruntime.OnnxJavaType.FLOAT ? 4 : 2;
    }

    /** Whether sequences write the present KV into buffers they own (pinned outputs) instead of fresh ones. */
    boolean pinnedKv() {
        return kvNotPinned == null;
    }

    private static void closeQuietly(OnnxCausalLM model, OrtSession session, OrtSession.SessionOptions so) {
        if (model != null) {
            try {
                model.close();
            } catch (RuntimeException ignored) {
                // already failing; the original error is reported
            }
            return;
        }
        closeQuietly(session, so);
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

    /** The graph and external data files this model was loaded from. */
    public ModelFiles files() {
        return files;
    }

    /**
     * SHA-256 over every weight file, the graph and its external data (computed on first call): provenance for
     * reports, so a number can be traced back to the exact model that produced it.
     */
    public synchronized String modelSha256() {
        if (sha256 == null) {
            sha256 = files.sha256();
        }
        return sha256;
    }

    /** How this model's sequences forget rolled-back tokens, and why (decided at load). */
    public RollbackProbe.Decision rollbackDecision() {
        return rollback;
    }

    /**
     * Whether each row of a multi-token call gets the logits that token would get alone, and why (decided at load).
     * Where not, greedy speculative output may differ from plain decoding at near-ties.
     */
    public RowInvarianceProbe.Decision rowInvariance() {
        return rowInvariance;
    }

    /** Wall time {@link #load} took (session creation, the optimized-graph cache, the rollback and row probes). */
    public Duration loadTime() {
        return loadTime;
    }

    boolean maskedRollback() {
        return rollback == null || rollback.masked();
    }

    public OnnxModelOptions options() {
        return options;
    }

    /** Whether its intra-op threads spin, as decided at load, with the reason (e.g. "off (auto: one thread)"). */
    public String spinning() {
        return spinning;
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

    /** A batch took over an adopted sequence's place in {@link #openSequences()}: its row counts until removed. */
    void rowOpened() {
        openSequences.incrementAndGet();
    }

    SequenceBuffers borrowBuffers() {
        SequenceBuffers b = bufferPool.pollFirst();
        return b != null ? b : new SequenceBuffers(env, vocabSize, signature.logitsType());
    }

    void returnBuffers(SequenceBuffers b) {
        if (closed || bufferPool.size() >= MAX_POOLED_BUFFERS) {
            b.close();
            return;
        }
        if (bufferPool.size() >= POOLED_KV_SETS || b.kvBytes() > POOLED_KV_MAX_BYTES) {
            b.dropKv(); // bounds the idle KV memory a burst of sequences (or one long one) leaves behind
        }
        bufferPool.offerFirst(b);
        if (closed && bufferPool.remove(b)) {
            b.close(); // the model closed meanwhile
        }
    }

    /** The one-node graph {@code Gather(cache, slots, axis=2)} for this model's KV type (a resource of this module). */
    OrtSession gatherSession() throws OrtException {
        return helperSession("kv-gather");
    }

    /**
     * The graph a batch regathers its cache tensors with: {@code kv-rows-gather} (one cache) or {@code kv-rows-merge}
     * (the batch's cache and a joining sequence's, concatenated first); see {@code OnnxSequenceBatch}.
     */
    OrtSession rowsSession(boolean merge) throws OrtException {
        return helperSession(merge ? "kv-rows-merge" : "kv-rows-gather");
    }

    /** A small copy graph for this model's KV type, loaded from this module's resources on first use. */
    private synchronized OrtSession helperSession(String kind) throws OrtException {
        OrtSession existing = helpers.get(kind);
        if (existing != null) {
            return existing;
        }
        String type = switch (signature.kvType()) {
            case FLOAT16 -> "float16";
            case BFLOAT16 -> "bfloat16";
            default -> "float";
        };
        String resource = kind + "-" + type + ".onnx";
        byte[] graph;
        try (java.io.InputStream in = OnnxCausalLM.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new SpeculaException("resource " + resource + " is missing from the specula-onnx jar");
            }
            graph = in.readAllBytes();
        } catch (java.io.IOException e) {
            throw new SpeculaException("cannot read resource " + resource + ": " + e.getMessage(), e);
        }
        if (helperOptions == null) {
            OrtSession.SessionOptions so = new OrtSession.SessionOptions();
            try {
                so.setIntraOpNumThreads(1); // a memory copy
                so.setInterOpNumThreads(1);
                so.setMemoryPatternOptimization(false);
            } catch (OrtException | RuntimeException e) {
                so.close();
                throw e;
            }
            helperOptions = so;
        }
        OrtSession session = env.createSession(graph, helperOptions);
        helpers.put(kind, session);
        return session;
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

    /** Sequences made from this model and not yet closed, counting each row held by a batch as one. */
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
        return newSequence(maskedRollback());
    }

    /** A sequence whose rollback is masked or compacting, whatever the model decided (for the probe and tests). */
    OnnxSequence newSequence(boolean masked) {
        return newSequence(masked, pinnedKv());
    }

    /** A sequence with rollback and KV pinning as given, whatever the model decided (for tests). */
    OnnxSequence newSequence(boolean masked, boolean pinKv) {
        if (closed) {
            throw new IllegalStateException("model " + name + " is closed");
        }
        openSequences.incrementAndGet();
        try {
            return new OnnxSequence(this, masked, pinKv);
        } catch (RuntimeException e) {
            openSequences.decrementAndGet();
            throw e;
        }
    }

    /**
     * A batch whose {@link SequenceBatch#append} steps every row in ONE forward call ({@code OnnxSequenceBatch}) when
     * the graph has a dynamic batch axis and rolls back by masking; otherwise a {@link SequentialBatch}, one call per
     * row ({@link #batching()} says which and why).
     */
    @Override
    public SequenceBatch newBatch(int capacity) {
        if (closed) {
            throw new IllegalStateException("model " + name + " is closed");
        }
        if (batchFallback() != null) {
            return new SequentialBatch(this, capacity);
        }
        return fusedAttention() ? new FusedSequenceBatch(this, capacity) : new OnnxSequenceBatch(this, capacity);
    }

    /** Why this model's batches make one call per row, or null when one call steps every row. */
    String batchFallback() {
        if (!signature.dynamicBatch()) {
            return "the graph's batch axis is fixed, not symbolic";
        }
        if (!maskedRollback() && !fusedAttention()) {
            return "rows of different lengths need masked slots, and rollback here is by compaction";
        }
        return null;
    }

    /** How {@link #newBatch} steps its rows, for {@code --verbose} and reports. */
    public String batching() {
        String fallback = batchFallback();
        return fallback == null ? "one forward call for all rows" : "one forward call per row (" + fallback + ")";
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
                synchronized (this) {
                    for (OrtSession helper : helpers.values()) {
                        helper.close();
                    }
                    helpers.clear();
                }
                session.close();
            } catch (OrtException e) {
                throw new SpeculaException("closing model " + name + " failed: " + e.getMessage(), e);
            } finally {
                if (helperOptions != null) {
                    helperOptions.close();
                }
                sessionOptions.close();
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
    }

    /**
     * Whether the intra-op threads spin, and why. {@code AUTO} samples other processes' CPU use
     * ({@link CpuContention}); one thread never spins.
     */
    private record SpinDecision(boolean spin, String reason) {
        static SpinDecision of(OnnxModelOptions options) {
            switch (options.spinning()) {
                case ON:
                    return new SpinDecision(true, "on in the options");
                case OFF:
                    return new SpinDecision(false, "off in the options");
                default:
                    if (options.intraOpThreads() == 1) {
                        return new SpinDecision(false, "auto: one thread");
                    }
                    CpuContention c = CpuContention.sample(CpuContention.SAMPLE);
                    return new SpinDecision(c.spinningPays(options.intraOpThreads()), "auto: " + c.describe() + " at load");
            }
        }

        /** E.g. "while a call runs (auto: other processes busy on 0.00 of 2 cores at load)". */
        @Override
        public String toString() {
            return (spin ? "while a call runs" : "off") + " (" + reason + ")";
        }
    }

    /**
     * What was loaded and how it runs, for {@code --verbose} and reports: the graph, shapes, KV and logits types,
     * the rollback decision with its reason, the prefill chunk and the load time.
     */
    public String description() {
        return "model " + files.graph() + (files.externalData().isEmpty() ? "" : " + " + files.externalData().size()
                + " external data file(s)") + (loadedFrom.equals(files.graph().toString()) ? "" : " (" + loadedFrom + ")") + ": vocab " + vocabSize + ", context " + config.maxPositionEmbeddings() + ", "
                + signature.layers() + " layers, " + signature.kvHeads() + " kv heads x " + signature.headDim() + ", "
                + signature.kvType() + " KV, " + signature.logitsType() + " logits; attention " + attention
                + "; rollback " + rollback
                + "; rowInvariant=" + rowInvariance.rowInvariant() + " (" + rowInvariance.reason() + ")"
                + "; batches: " + batching() + "; prefill chunks of " + options.prefillChunkTokens() + " tokens; " + options.intraOpThreads()
                + " intra-op thread(s), spinning " + spinning + "; "
                + (fusedAttention() ? "KV cache updated in place by the fused attention"
                : kvNotPinned == null ? "present KV written into the sequence's own buffers"
                : "present KV allocated per call (" + kvNotPinned + ")") + "; loaded in " + loadTime.toMillis() + " ms";
    }

    @Override
    public String toString() {
        return "OnnxCausalLM[" + directory + ", vocab " + vocabSize + ", " + signature.layers() + " layers, "
                + signature.kvHeads() + " kv heads x " + signature.headDim() + ", " + signature.kvType() + " KV, "
                + "rollback " + (rollback == null ? "undecided" : rollback.masked() ? "masked" : "compaction") + "]";
    }
}
