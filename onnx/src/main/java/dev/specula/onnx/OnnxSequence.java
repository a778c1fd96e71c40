package dev.specula.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.specula.core.SpeculaException;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.Lock;

/**
 * One sequence's KV cache over a shared {@link OnnxCausalLM}.
 *
 * <p>KV state: the {@code present.*} outputs of one run are fed straight back as the next run's
 * {@code past_key_values.*} (no copy); the previous result is closed once the next run has returned.
 *
 * <p>Rollback is O(1) when the model allows it ({@link RollbackProbe}): rejected tokens stay in the cache as
 * "physical" slots whose attention-mask entry is 0, and new tokens take their positions from the logical length,
 * so the model never sees them again. When masked slots exceed a quarter of the cache (and at least
 * {@value #COMPACT_MIN_SLOTS}), or the cache would outgrow the model's positions, it is compacted (ONNX Runtime
 * gathers the kept slots natively, see {@link #compact()}). Models that fail the
 * probe are compacted at every rollback instead.
 *
 * <p>Logits of up to {@value #PINNED_ROWS} rows are written by ONNX Runtime straight into a direct buffer
 * owned here (pinned output, no copy; float16/bfloat16 rows are converted by ONNX Runtime's own conversions).
 * A prefill runs in chunks of {@link OnnxModelOptions#prefillChunkTokens()} tokens and reads no logits;
 * {@link #appendLast} ends its chunks with a pinned call, so only the last row is read. The pinned buffer grows with
 * the widest pinned call a sequence makes (a prefill's last row, a verification's k + 1 rows). Input buffers are direct
 * and reused, so a step allocates only a few small tensor handles. For small models
 * ({@link OnnxCausalLM#pinnedKv()}) the present KV is pinned too: written into one of two buffer sets owned here,
 * alternately (the past lives in the other), instead of tensors ONNX Runtime allocates and wraps per call.
 */
final class OnnxSequence implements ModelSequence {
    static final int PINNED_ROWS = SequenceBuffers.PINNED_ROWS;
    static final int COMPACT_MIN_SLOTS = 32;
    private static final ByteBuffer NO_BYTES = ByteBuffer.allocateDirect(0).order(ByteOrder.nativeOrder());

    private final OnnxCausalLM model;
    private final boolean masked;
    private final int chunk;
    private final ModelSignature sig;
    private final OrtEnvironment env;
    private final int vocab;
    private final int maxLength;
    private final Set<String> presentNames;
    private final Map<String, OnnxTensor> inputs = new HashMap<>();
    /** Whether present KV is written into {@link #io}'s KV buffers (see {@link OnnxCausalLM#pinnedKv()}). */
    private final boolean pinKv;
    private final Map<String, OnnxTensor> pinnedOutputs = new HashMap<>();
    /** The KV buffer set of {@link #io} that the cache tensors live in, or -1 when they live elsewhere. */
    private int liveSet = -1;
    /**
     * Whether the graph's attention is fused ({@link OnnxCausalLM#fusedAttention()}): {@link #kv} are then fixed
     * buffers of {@link #capacity} slots that ONNX Runtime updates in place, also bound as the present outputs
     * through {@link #kvOut}; each call's new tokens go to the slots after the logical length, so rollback only
     * shortens the length.
     */
    private final boolean fused;
    private final OnnxTensor[] kvOut;
    private int capacity;

    /** Borrowed from the model's pool, returned on close. */
    private final SequenceBuffers io;
    private OnnxTensor cacheBranchTrue;
    private OnnxTensor cacheBranchFalse;

    /**
     * The KV cache: tensors owned by {@link #lastResult}, by {@link #gathered} after a compaction, or by this sequence
     * when {@link #ownedKv} is set.
     */
    private final OnnxTensor[] kv;
    private final OnnxTensor[] nextKv;
    private OrtSession.Result lastResult;
    private boolean ownedKv;
    /** The results of the last compaction, which own the cache tensors until the next run. */
    private OrtSession.Result[] gathered;
    private int physical;
    private int logical;
    private boolean open = true;

    OnnxSequence(OnnxCausalLM model, boolean masked) {
        this(model, masked, model.pinnedKv());
    }

    /** A sequence that pins its present KV or not, whatever the model decided (for tests comparing the two). */
    OnnxSequence(OnnxCausalLM model, boolean masked, boolean pinKv) {
        this.model = model;
        this.masked = masked;
        this.chunk = model.options().prefillChunkTokens();
        this.sig = model.signature();
        this.env = model.env();
        this.vocab = model.vocabSize();
        this.maxLength = model.maxSequenceLength();
        this.presentNames = Set.copyOf(sig.presentNames());
        this.kv = new OnnxTensor[sig.pastNames().size()];
        this.nextKv = new OnnxTensor[kv.length];
        this.fused = model.fusedAttention();
        this.kvOut = new OnnxTensor[kv.length];
        this.pinKv = pinKv && !fused;
        this.io = model.borrowBuffers();
        try {
            emptyCache();
            if (sig.hasUseCacheBranch()) {
                cacheBranchTrue = OnnxTensor.createTensor(env, new boolean[]{true});
                cacheBranchFalse = OnnxTensor.createTensor(env, new boolean[]{false});
            }
        } catch (OrtException | RuntimeException e) {
            open = false;
            releaseCache();
            closeAll(cacheBranchTrue, cacheBranchFalse);
            model.returnBuffers(io); // the model's open-sequence count is the caller's to undo
            throw new SpeculaException("cannot create a sequence for model " + model.name() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public Logits append(int[] tokens, int offset, int count) {
        check(tokens, offset, count);
        return run(tokens, offset, count, true);
    }

    /** Feeds the tokens in chunks of at most {@link OnnxModelOptions#prefillChunkTokens()}, reading no logits. */
    @Override
    public void prefill(int[] tokens, int offset, int count) {
        check(tokens, offset, count);
        for (int done = 0; done < count; done += chunk) {
            run(tokens, offset + done, Math.min(chunk, count - done), false);
        }
    }

    /**
     * Chunks like {@link #prefill}, but ends on a call whose logits ONNX Runtime writes into the pinned buffer: the
     * whole last chunk when it has at most {@value #PINNED_ROWS} tokens, else its last token alone (one extra call
     * at most, no count x vocabulary copy, and one pinned row rather than {@value #PINNED_ROWS} to hold).
     */
    @Override
    public Logits appendLast(int[] tokens, int offset, int count) {
        check(tokens, offset, count);
        int lastChunk = (count - 1) % chunk + 1;
        int tail = lastChunk <= PINNED_ROWS ? lastChunk : 1;
        for (int done = 0; done < count - tail; done += chunk) {
            run(tokens, offset + done, Math.min(chunk, count - tail - done), false);
        }
        Logits rows = run(tokens, offset + count - tail, tail, true);
        return rows.rows() == 1 ? rows : rows.row(rows.rows() - 1);
    }

    private void check(int[] tokens, int offset, int count) {
        ensureOpen();
        if (count < 1) {
            throw new IllegalArgumentException("count must be >= 1, got " + count);
        }
        java.util.Objects.checkFromIndexSize(offset, count, tokens.length);
        if (logical + count > maxLength) {
            throw new IllegalArgumentException("sequence would hold " + (logical + count) + " tokens but model "
                    + model.name() + " has a context of " + maxLength);
        }
        for (int i = 0; i < count; i++) {
            int t = tokens[offset + i];
            if (t < 0 || t >= vocab) {
                throw new IllegalArgumentException("token " + t + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
    }

    private Logits run(int[] tokens, int offset, int count, boolean wantLogits) {
        Lock lock = model.runLock();
        lock.lock();
        try {
            if (model.isClosed()) {
                throw new IllegalStateException("model " + model.name() + " is closed");
            }
            return forward(tokens, offset, count, wantLogits);
        } catch (OrtException e) {
            throw new SpeculaException("running model " + model.name() + " over " + count + " tokens at length "
                    + logical + " failed: " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }

    /** One forward call; returns the logits (null unless {@code wantLogits}), keeps the present KV as the cache. */
    private Logits forward(int[] tokens, int offset, int count, boolean wantLogits) throws OrtException {
        if (fused) {
            return forwardFused(tokens, offset, count, wantLogits);
        }
        int garbage = physical - logical;
        if (garbage > 0 && (garbage >= Math.max(COMPACT_MIN_SLOTS, physical / 4) || physical + count > maxLength)) {
            compact(); // also keeps the physical cache within the model's positions (fixed causal-mask buffers)
        }
        int total = physical + count;
        io.ensureMask(total, physical);
        LongBuffer mask = io.mask;
        boolean small = count <= PINNED_ROWS;
        if (!small) {
            io.ensureLongInputs(count);
        }
        LongBuffer idBuffer = small ? io.ids : io.longIds;
        LongBuffer positionBuffer = small ? io.positions : io.longPositions;
        for (int i = 0; i < count; i++) {
            idBuffer.put(i, tokens[offset + i]);
            positionBuffer.put(i, logical + i);
            mask.put(physical + i, 1L);
        }
        OnnxTensor idTensor = null;
        OnnxTensor positionTensor = null;
        OnnxTensor maskTensor = null;
        OrtSession.Result result;
        try {
            if (small) {
                idTensor = io.idTensor(count);
                positionTensor = io.positionTensor(count);
            } else {
                long[] rowShape = {1, count};
                idTensor = OnnxTensor.createTensor(env, idBuffer.duplicate().limit(count), rowShape);
                positionTensor = OnnxTensor.createTensor(env, positionBuffer.duplicate().limit(count), rowShape);
            }
            inputs.put(ModelSignature.INPUT_IDS, idTensor);
            if (sig.hasPositionIds()) {
                inputs.put(ModelSignature.POSITION_IDS, positionTensor);
            }
            if (sig.hasAttentionMask()) {
                maskTensor = OnnxTensor.createTensor(env, mask.duplicate().limit(total), new long[]{1, total});
                inputs.put(ModelSignature.ATTENTION_MASK, maskTensor);
            }
            if (sig.hasUseCacheBranch()) {
                inputs.put(ModelSignature.USE_CACHE_BRANCH, physical > 0 ? cacheBranchTrue : cacheBranchFalse);
            }
            for (int i = 0; i < kv.length; i++) {
                inputs.put(sig.pastNames().get(i), kv[i]);
            }
            long t0 = System.nanoTime();
            if (pinKv) {
                result = runPinned(total, count, small, wantLogits);
            } else if (small) {
                result = model.session().run(inputs, presentNames, Map.of(ModelSignature.LOGITS, io.logitsTensor(count)));
            } else if (wantLogits) {
                result = model.session().run(inputs);
            } else {
                result = model.session().run(inputs, presentNames); // the chunk's logits stay inside ONNX Runtime
            }
            model.recordRun(System.nanoTime() - t0);
        } finally {
            if (!small) {
                closeAll(idTensor, positionTensor);
            }
            closeAll(maskTensor);
        }
        Logits logits;
        try {
            logits = !wantLogits ? null : small ? io.pinnedRows(count) : copyLogits(result, count);
            OnnxTensor[] next = nextKv;
            if (!pinKv) {
                for (int i = 0; i < kv.length; i++) {
                    OnnxValue v = result.get(sig.presentNames().get(i))
                            .orElseThrow(() -> new SpeculaException("model " + model.name() + " returned no present output"));
                    next[i] = (OnnxTensor) v;
                }
            }
            releaseCache();
            System.arraycopy(next, 0, kv, 0, kv.length);
            lastResult = result;
            if (pinKv) {
                ownedKv = true;
                liveSet = pendingSet;
            }
        } catch (RuntimeException e) {
            result.close();
            if (pinKv) {
                closeAll(nextKv);
            }
            throw e;
        }
        physical = total;
        logical += count;
        return logits;
    }

    /**
     * One call of a fused-attention graph: the new tokens' keys and values are written into {@link #kv} in place, at
     * the slots after the logical length (the mask's sum), so there is no cache to swap and nothing to roll back.
     */
    private Logits forwardFused(int[] tokens, int offset, int count, boolean wantLogits) throws OrtException {
        int total = logical + count;
        if (total > capacity) {
            grow(total);
        }
        io.ensureMask(total, logical);
        LongBuffer mask = io.mask;
        boolean small = count <= PINNED_ROWS;
        if (!small) {
            io.ensureLongInputs(count);
        }
        LongBuffer idBuffer = small ? io.ids : io.longIds;
        for (int i = 0; i < count; i++) {
            idBuffer.put(i, tokens[offset + i]);
            mask.put(logical + i, 1L);
        }
        OnnxTensor idTensor = null;
        OnnxTensor maskTensor = null;
        OrtSession.Result result;
        try {
            idTensor = small ? io.idTensor(count)
                    : OnnxTensor.createTensor(env, idBuffer.duplicate().limit(count), new long[]{1, count});
            inputs.put(ModelSignature.INPUT_IDS, idTensor);
            maskTensor = OnnxTensor.createTensor(env, mask.duplicate().limit(total), new long[]{1, total});
            inputs.put(ModelSignature.ATTENTION_MASK, maskTensor);
            pinnedOutputs.clear();
            for (int i = 0; i < kv.length; i++) {
                inputs.put(sig.pastNames().get(i), kv[i]);
                pinnedOutputs.put(sig.presentNames().get(i), kvOut[i]);
            }
            if (small) {
                pinnedOutputs.put(ModelSignature.LOGITS, io.logitsTensor(count));
            }
            Set<String> requested = !small && wantLogits ? Set.of(ModelSignature.LOGITS) : Set.of();
            long t0 = System.nanoTime();
            result = model.session().run(inputs, requested, pinnedOutputs);
            model.recordRun(System.nanoTime() - t0);
        } finally {
            if (!small) {
                closeAll(idTensor);
            }
            closeAll(maskTensor);
        }
        if (lastResult != null) {
            lastResult.close();
        }
        lastResult = result; // holds a long call's logits until the next call
        Logits logits;
        try {
            logits = !wantLogits ? null : small ? io.pinnedRows(count) : copyLogits(result, count);
        } catch (RuntimeException e) {
            result.close();
            lastResult = null;
            throw e;
        }
        logical = total;
        physical = total;
        return logits;
    }

    /** Slots a fused sequence's buffers start with (grown by doubling up to the model's context). */
    static final int FUSED_INITIAL_SLOTS = 256;

    /**
     * Makes the fused KV buffers hold at least {@code slots} tokens: new buffers (from the other pooled set), the
     * kept tokens of each head copied over, the old tensors closed.
     */
    private void grow(int slots) throws OrtException {
        int newCapacity = Math.min(maxLength, Math.max(slots, Math.max(FUSED_INITIAL_SLOTS, 2 * capacity)));
        int element = OnnxCausalLM.kvElementBytes(sig);
        int row = sig.headDim() * element;
        int set = liveSet == 0 ? 1 : 0;
        long[] shape = {1, sig.kvHeads(), newCapacity, sig.headDim()};
        OnnxTensor[] in = new OnnxTensor[kv.length];
        OnnxTensor[] out = new OnnxTensor[kv.length];
        try {
            for (int i = 0; i < kv.length; i++) {
                ByteBuffer b = io.kvBuffer(set, i, kv.length, sig.kvHeads() * newCapacity * row);
                if (logical > 0) {
                    ByteBuffer old = io.kvBuffer(liveSet, i, kv.length, sig.kvHeads() * capacity * row);
                    for (int h = 0; h < sig.kvHeads(); h++) {
                        b.put(h * newCapacity * row, old, h * capacity * row, logical * row);
                    }
                }
                in[i] = OnnxTensor.createTensor(env, b, shape, sig.kvType());
                out[i] = OnnxTensor.createTensor(env, b.duplicate().order(ByteOrder.nativeOrder()), shape, sig.kvType());
            }
        } catch (OrtException | RuntimeException e) {
            closeAll(in);
            closeAll(out);
            throw e;
        }
        releaseCache();
        System.arraycopy(in, 0, kv, 0, kv.length);
        System.arraycopy(out, 0, kvOut, 0, kv.length);
        ownedKv = true;
        liveSet = set;
        capacity = newCapacity;
    }

    /** The KV set the last {@link #runPinned} wrote into (made live once the call's outputs are taken over). */
    private int pendingSet;

    /**
     * One call whose present KV is written into the KV buffer set the cache does not live in, through tensors this
     * sequence creates (left in {@link #nextKv}, owned by this sequence once the call returned).
     */
    private OrtSession.Result runPinned(int total, int count, boolean small, boolean wantLogits) throws OrtException {
        int set = liveSet == 0 ? 1 : 0;
        int bytes = sig.kvHeads() * total * sig.headDim() * OnnxCausalLM.kvElementBytes(sig);
        long[] shape = {1, sig.kvHeads(), total, sig.headDim()};
        pinnedOutputs.clear();
        java.util.Arrays.fill(nextKv, null);
        try {
            for (int i = 0; i < kv.length; i++) {
                nextKv[i] = OnnxTensor.createTensor(env, io.kvBuffer(set, i, kv.length, bytes), shape, sig.kvType());
                pinnedOutputs.put(sig.presentNames().get(i), nextKv[i]);
            }
            if (small) {
                pinnedOutputs.put(ModelSignature.LOGITS, io.logitsTensor(count));
            }
            Set<String> requested = !small && wantLogits ? Set.of(ModelSignature.LOGITS) : Set.of();
            OrtSession.Result result = model.session().run(inputs, requested, pinnedOutputs);
            pendingSet = set;
            return result;
        } catch (OrtException | RuntimeException e) {
            closeAll(nextKv);
            java.util.Arrays.fill(nextKv, null);
            throw e;
        }
    }

    /** A long call's logits, converted from float16/bfloat16 by ONNX Runtime when the model outputs those. */
    private Logits copyLogits(OrtSession.Result result, int count) {
        OnnxTensor t = (OnnxTensor) result.get(ModelSignature.LOGITS)
                .orElseThrow(() -> new SpeculaException("model " + model.name() + " returned no logits"));
        return new Logits(t.getFloatBuffer(), count, vocab);
    }

    @Override
    public void rollback(int length) {
        ensureOpen();
        if (length < 0 || length > logical) {
            throw new IllegalArgumentException("cannot roll back to length " + length + "; the sequence holds "
                    + logical + " tokens");
        }
        if (length == logical) {
            return;
        }
        if (fused) {
            logical = length; // the next call overwrites the dropped slots; the mask's sum says where to write
            physical = length;
            return;
        }
        if (length == 0) {
            reset();
            return;
        }
        int drop = logical - length;
        LongBuffer mask = io.mask;
        for (int p = physical - 1; p >= 0 && drop > 0; p--) {
            if (mask.get(p) != 0) {
                mask.put(p, 0L);
                drop--;
            }
        }
        logical = length;
        if (!masked) {
            Lock lock = model.runLock();
            lock.lock();
            try {
                compact();
            } catch (OrtException e) {
                throw new SpeculaException("rolling back model " + model.name() + " failed: " + e.getMessage(), e);
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Rewrites the cache without its masked slots: ONNX Runtime gathers the kept slots of each cache tensor
     * natively ({@link OnnxCausalLM#gatherSession()}), so the cache is never copied into the Java heap and the new
     * tensors come from ONNX Runtime's allocator, which reuses its memory.
     */
    private void compact() throws OrtException {
        if (physical == logical) {
            return;
        }
        LongBuffer mask = io.mask;
        LongBuffer slots = io.slots(logical);
        for (int p = 0, n = 0; p < physical; p++) {
            if (mask.get(p) != 0) {
                slots.put(n++, p);
            }
        }
        OrtSession gather = model.gatherSession();
        OrtSession.Result[] results = new OrtSession.Result[kv.length];
        Map<String, OnnxTensor> in = new HashMap<>(4);
        try (OnnxTensor slotTensor = OnnxTensor.createTensor(env, slots.duplicate().limit(logical), new long[]{logical})) {
            in.put(OnnxCausalLM.GATHER_SLOTS, slotTensor);
            for (int i = 0; i < kv.length; i++) {
                in.put(OnnxCausalLM.GATHER_CACHE, kv[i]);
                results[i] = gather.run(in);
            }
        } catch (OrtException | RuntimeException e) {
            closeAll(results);
            throw e;
        }
        releaseCache();
        for (int i = 0; i < kv.length; i++) {
            kv[i] = (OnnxTensor) results[i].get(0);
        }
        gathered = results;
        for (int p = 0; p < logical; p++) {
            mask.put(p, 1L);
        }
        physical = logical;
    }

    private static void closeAll(OrtSession.Result[] results) {
        for (OrtSession.Result r : results) {
            if (r != null) {
                r.close();
            }
        }
    }

    private void reset() {
        releaseCache();
        physical = 0;
        logical = 0;
        try {
            emptyCache();
        } catch (OrtException e) {
            throw new SpeculaException("resetting a sequence of model " + model.name() + " failed: " + e.getMessage(), e);
        }
    }

    private void emptyCache() throws OrtException {
        if (fused) {
            capacity = 0;
            grow(Math.min(maxLength, FUSED_INITIAL_SLOTS));
            return;
        }
        long[] shape = {1, sig.kvHeads(), 0, sig.headDim()};
        OnnxTensor[] empty = new OnnxTensor[kv.length];
        try {
            for (int i = 0; i < kv.length; i++) {
                empty[i] = OnnxTensor.createTensor(env, NO_BYTES, shape, sig.kvType());
            }
        } catch (OrtException | RuntimeException e) {
            closeAll(empty);
            throw e;
        }
        System.arraycopy(empty, 0, kv, 0, kv.length);
        ownedKv = true;
    }

    /** Closes whatever owns the current cache tensors. */
    private void releaseCache() {
        if (lastResult != null) {
            lastResult.close();
            lastResult = null;
        }
        if (gathered != null) {
            closeAll(gathered);
            gathered = null;
        }
        if (ownedKv) {
            closeAll(kv);
            closeAll(kvOut);
            java.util.Arrays.fill(kvOut, null);
            ownedKv = false;
        }
        liveSet = -1;
        java.util.Arrays.fill(kv, null);
    }

    private static void closeAll(OnnxTensor... tensors) {
        for (OnnxTensor t : tensors) {
            if (t != null) {
                t.close();
            }
        }
    }

    /** Rows the pinned logits buffer holds now: the widest pinned call so far, rounded up (for tests and measurements). */
    int pinnedLogitRows() {
        return io.pinnedCapacityRows();
    }

    /** Cache slots held, masked ones included (for tests and measurements). */
    int physicalLength() {
        return physical;
    }

    /** The model this sequence runs on (a batch adopts only sequences of its own model). */
    OnnxCausalLM model() {
        return model;
    }

    /**
     * The cache tensors, one per past input, each [1, kv_heads, {@link #physicalLength()}, head_dim]: still owned
     * by this sequence, valid until its next call (for a batch copying them when it adopts the sequence).
     */
    OnnxTensor[] cacheTensors() {
        ensureOpen();
        return kv;
    }

    /** KV buffer {@code index} of a fused sequence: [1, kv_heads, {@link #fusedCapacity()}, head_dim], tokens first. */
    ByteBuffer fusedKvBuffer(int index) {
        ensureOpen();
        return io.kvBuffer(liveSet, index, kv.length, sig.kvHeads() * capacity * sig.headDim()
                * OnnxCausalLM.kvElementBytes(sig));
    }

    /** Slots per head of a fused sequence's KV buffers. */
    int fusedCapacity() {
        return capacity;
    }

    /** Whether cache slot {@code slot} ({@code < physicalLength()}) is attended, i.e. not rolled back. */
    boolean attends(int slot) {
        java.util.Objects.checkIndex(slot, physical);
        return io.mask.get(slot) != 0;
    }

    @Override
    public int length() {
        ensureOpen();
        return logical;
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    private void ensureOpen() {
        if (!open) {
            throw new IllegalStateException("sequence of model " + model.name() + " is closed");
        }
    }

    @Override
    public void close() {
        if (!open) {
            return;
        }
        open = false;
        releaseCache();
        closeAll(cacheBranchTrue, cacheBranchFalse);
        model.returnBuffers(io);
        model.sequenceClosed();
    }
}
