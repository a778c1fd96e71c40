package dev.specula.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.specula.core.SpeculaException;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.model.SequenceBatch;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.Lock;

/**
 * Several sequences of a fused-attention {@link OnnxCausalLM} ({@link OnnxCausalLM#fusedAttention()}): every KV tensor
 * is one buffer [rows, kv_heads, slots, head_dim] that the fused kernel updates in place, and row {@code b} holds its
 * tokens in slots {@code [0, length)}.
 *
 * <p>A call writes each row's new tokens to the slots from the row's length on: its attention-mask row has
 * {@code length + width} ones, from which the kernel takes where to write and each query's position. ONNX Runtime's
 * CPU kernel steps several rows in one call only one token each (a multi-token call with a cache must be one row), so
 * {@link #append} makes one call over every row when each listed row gets one token (rows not listed get a discarded
 * padding token whose keys land past their length, where the next call overwrites them); when some rows get more,
 * one call over every row with each row's first token and then one call per longer row for the rest (or, when fewer
 * than two rows get a single token, one call per listed row). So rollback only shortens a row, a row joins by a copy
 * of its own cache ({@link #adopt}) and leaves by moving the last row into its place ({@link #remove}): no call copies
 * the whole cache.
 *
 * <p>Owned by whoever called {@link OnnxCausalLM#newBatch}; {@link #close()} is idempotent and frees every row.
 * Each row held counts as one of the model's {@link OnnxCausalLM#openSequences()}. Not thread-safe.
 */
final class FusedSequenceBatch implements SequenceBatch {
    private final OnnxCausalLM model;
    private final int capacity;
    private final ModelSignature sig;
    private final OrtEnvironment env;
    private final int vocab;
    private final int maxLength;
    private final int heads;
    private final int element;
    /** Bytes of one slot of one head: head_dim elements. */
    private final int slotBytes;
    private final OnnxJavaType logitsType;

    /** Handles of the rows, in batch-axis order; {@link #lengths} in the same order. */
    private final List<Integer> handles = new ArrayList<>();
    private int[] lengths = new int[0];
    /** The KV buffers, one per past input, [rowCapacity, heads, slots, head_dim]; null until the first row. */
    private ByteBuffer[] kv;
    private int rowCapacity;
    private int slots;
    /** Tensors over {@link #kv} for the current row count (past and present views of the same memory). */
    private final Map<String, OnnxTensor> kvInputs = new HashMap<>();
    private final Map<String, OnnxValue> kvOutputs = new HashMap<>();
    private int tensorRows = -1;

    private LongBuffer ids = SequenceBuffers.directLongs(64);
    private LongBuffer mask = SequenceBuffers.directLongs(1024);
    /** Logits of an {@link #append} with longer rows: [listed rows, widest, vocab] as float32. */
    private FloatBuffer logits = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).asFloatBuffer();
    /** Logits of a call over every row with one token each: [rows, vocab] as float32. */
    private FloatBuffer scratchRows = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).asFloatBuffer();
    /** One call's logits as ONNX Runtime writes them when the model outputs float16/bfloat16. */
    private ShortBuffer halfLogits;

    private int nextHandle;
    private boolean open = true;

    FusedSequenceBatch(OnnxCausalLM model, int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("batch capacity must be >= 1, got " + capacity);
        }
        this.model = model;
        this.capacity = capacity;
        this.sig = model.signature();
        this.env = model.env();
        this.vocab = model.vocabSize();
        this.maxLength = model.maxSequenceLength();
        this.heads = sig.kvHeads();
        this.element = OnnxCausalLM.kvElementBytes(sig);
        this.slotBytes = sig.headDim() * element;
        this.logitsType = sig.logitsType();
    }

    /** Copies the sequence's cache into a new last row and closes the sequence (which the caller keeps on an exception). */
    @Override
    public int adopt(ModelSequence sequence) {
        ensureOpen();
        Objects.requireNonNull(sequence, "sequence");
        if (!(sequence instanceof OnnxSequence s) || s.model() != model) {
            throw new IllegalArgumentException("a batch of model " + model.name() + " adopts only sequences made by"
                    + " that model's newSequence(), got " + sequence);
        }
        int length = s.length(); // throws if the sequence is closed
        if (handles.size() >= capacity) {
            throw new IllegalArgumentException("batch is full: " + capacity + " rows");
        }
        int row = handles.size();
        ensureCapacity(row + 1, length);
        for (int i = 0; i < kv.length; i++) {
            ByteBuffer from = s.fusedKvBuffer(i);
            int fromSlots = s.fusedCapacity();
            for (int h = 0; h < heads; h++) {
                kv[i].put(offset(row, h, 0), from, h * fromSlots * slotBytes, length * slotBytes);
            }
        }
        lengths = Arrays.copyOf(lengths, row + 1);
        lengths[row] = length;
        handles.add(nextHandle);
        model.rowOpened();
        s.close();
        return nextHandle++;
    }

    /** Moves the last row into the removed row's place (a copy of one row's tokens, nothing else). */
    @Override
    public void remove(int handle) {
        ensureOpen();
        int row = row(handle);
        int last = handles.size() - 1;
        if (row != last) {
            for (ByteBuffer b : kv) {
                for (int h = 0; h < heads; h++) {
                    b.put(offset(row, h, 0), b.duplicate(), offset(last, h, 0), lengths[last] * slotBytes);
                }
            }
            lengths[row] = lengths[last];
            handles.set(row, handles.get(last));
        }
        handles.remove(last);
        lengths = Arrays.copyOf(lengths, last);
        model.sequenceClosed();
    }

    @Override
    public List<Logits> append(int[] rowHandles, List<int[]> tokens) {
        ensureOpen();
        OnnxSequenceBatch.checkCall(rowHandles, tokens);
        int n = handles.size();
        int[][] byRow = new int[n][];
        int width = 0;
        for (int i = 0; i < rowHandles.length; i++) {
            int row = row(rowHandles[i]);
            if (byRow[row] != null) {
                throw new IllegalArgumentException("row " + rowHandles[i] + " is listed twice: "
                        + Arrays.toString(rowHandles));
            }
            int[] t = tokens.get(i);
            OnnxSequenceBatch.checkRowTokens(model, rowHandles[i], t, lengths[row]);
            byRow[row] = t;
            width = Math.max(width, t.length);
        }
        int longest = 0;
        for (int b = 0; b < n; b++) {
            longest = Math.max(longest, lengths[b]);
            if (lengths[b] + width > maxLength + AttentionFusion.POSITION_MARGIN) {
                throw new IllegalArgumentException("row " + handles.get(b) + " at length " + lengths[b]
                        + " cannot take a call of " + width + " tokens next to the others (positions end at "
                        + (maxLength + AttentionFusion.POSITION_MARGIN) + "); step it alone");
            }
        }
        Lock lock = model.runLock();
        lock.lock();
        try {
            if (model.isClosed()) {
                throw new IllegalStateException("model " + model.name() + " is closed");
            }
            ensureCapacity(n, longest + width);
            return forward(byRow, rowHandles, width);
        } catch (OrtException e) {
            throw new SpeculaException("running model " + model.name() + " over a batch of " + n + " rows x " + width
                    + " tokens failed: " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Steps the listed rows. ONNX Runtime's fused kernel takes several rows in one call only one token each (a
     * multi-token call with a cache must be one row), so: one call over every row when each gets one token; else,
     * when at least two rows get one token, one call over every row with each row's first token and then one call per
     * row for the rest; else one call per listed row. Logits are written where they are handed out (a row's first
     * one is copied once in the mixed case).
     */
    private List<Logits> forward(int[][] byRow, int[] rowHandles, int width) throws OrtException {
        int n = handles.size();
        int listed = rowHandles.length;
        int[] order = new int[listed]; // each listed row's place on the batch axis
        int singles = 0;
        for (int i = 0; i < listed; i++) {
            order[i] = handles.indexOf(rowHandles[i]);
            singles += byRow[order[i]].length == 1 ? 1 : 0;
        }
        List<Logits> out = new ArrayList<>(listed);
        if (n > 1 && width == 1) {
            FloatBuffer rows = call(0, n, firstTokens(byRow), 1, ensure(scratchRows, n), 0);
            scratchRows = rows;
            for (int i = 0; i < listed; i++) {
                lengths[order[i]]++;
                out.add(view(rows, order[i], 1));
            }
            return out;
        }
        logits = ensure(logits, listed * width);
        int[] done = new int[n]; // tokens of each row already run
        if (n > 1 && singles >= 2) {
            scratchRows = ensure(scratchRows, n);
            FloatBuffer rows = call(0, n, firstTokens(byRow), 1, scratchRows, 0);
            for (int i = 0; i < listed; i++) {
                logits.put(i * width * vocab, rows, order[i] * vocab, vocab);
                done[order[i]] = 1;
                lengths[order[i]]++;
            }
        }
        for (int i = 0; i < listed; i++) {
            int b = order[i];
            int[] t = byRow[b];
            if (done[b] == t.length) {
                continue;
            }
            long[] rest = new long[t.length - done[b]];
            for (int j = 0; j < rest.length; j++) {
                rest[j] = t[done[b] + j];
            }
            call(b, 1, rest, rest.length, logits, i * width + done[b]);
            lengths[b] += rest.length;
        }
        for (int i = 0; i < listed; i++) {
            out.add(view(logits, i * width, byRow[order[i]].length));
        }
        return out;
    }

    /** Each row's first token, 0 (a discarded padding token) for rows not listed. */
    private static long[] firstTokens(int[][] byRow) {
        long[] first = new long[byRow.length];
        for (int b = 0; b < byRow.length; b++) {
            first[b] = byRow[b] == null ? 0 : byRow[b][0];
        }
        return first;
    }

    private Logits view(FloatBuffer rows, int firstRow, int count) {
        FloatBuffer v = rows.duplicate();
        v.limit((firstRow + count) * vocab).position(firstRow * vocab);
        return new Logits(v.slice(), count, vocab);
    }

    /** {@code buffer}, or a larger one when it holds fewer than {@code rows} rows of the vocabulary. */
    private FloatBuffer ensure(FloatBuffer buffer, int rows) {
        return buffer.capacity() >= rows * vocab ? buffer
                : ByteBuffer.allocateDirect(Math.max(rows * vocab, 2 * buffer.capacity()) * 4)
                .order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /**
     * One forward call over rows {@code [first, first + count)} with {@code width} tokens each ({@code ids}, row-major):
     * each row's mask has {@code length + width} ones. Writes the logits as float32 into {@code dest} from row
     * {@code destRow} on (ONNX Runtime writes float32 logits there itself) and returns {@code dest}.
     */
    private FloatBuffer call(int first, int count, long[] tokenIds, int width, FloatBuffer dest, int destRow)
            throws OrtException {
        int total = 0;
        for (int b = first; b < first + count; b++) {
            total = Math.max(total, lengths[b] + width);
        }
        if (ids.capacity() < tokenIds.length) {
            ids = SequenceBuffers.directLongs(Math.max(tokenIds.length, 2 * ids.capacity()));
        }
        if (mask.capacity() < count * total) {
            mask = SequenceBuffers.directLongs(Math.max(count * total, 2 * mask.capacity()));
        }
        ids.put(0, tokenIds);
        for (int r = 0; r < count; r++) {
            int ones = lengths[first + r] + width;
            for (int p = 0; p < total; p++) {
                mask.put(r * total + p, p < ones ? 1L : 0L);
            }
        }
        int cells = count * width * vocab;
        if (logitsType != OnnxJavaType.FLOAT && (halfLogits == null || halfLogits.capacity() < cells)) {
            halfLogits = ByteBuffer.allocateDirect(cells * 2).order(ByteOrder.nativeOrder()).asShortBuffer();
        }
        Map<String, OnnxTensor> inputs = new HashMap<>();
        Map<String, OnnxValue> outputs = new HashMap<>();
        List<OnnxTensor> views = new ArrayList<>();
        try (OnnxTensor idTensor = OnnxTensor.createTensor(env, ids.duplicate().position(0).limit(count * width),
                new long[]{count, width});
             OnnxTensor maskTensor = OnnxTensor.createTensor(env, mask.duplicate().position(0).limit(count * total),
                     new long[]{count, total});
             OnnxTensor logitsTensor = logitsType == OnnxJavaType.FLOAT
                     ? OnnxTensor.createTensor(env, dest.duplicate().position(destRow * vocab)
                     .limit(destRow * vocab + cells).slice(), new long[]{count, width, vocab})
                     : OnnxTensor.createTensor(env, halfLogits.duplicate().position(0).limit(cells),
                     new long[]{count, width, vocab}, logitsType)) {
            if (first == 0 && count == handles.size()) {
                kvTensors(count);
                inputs.putAll(kvInputs);
                outputs.putAll(kvOutputs);
            } else {
                long[] shape = {count, heads, slots, sig.headDim()};
                int from = offset(first, 0, 0);
                int bytes = count * heads * slots * slotBytes;
                for (int i = 0; i < kv.length; i++) {
                    ByteBuffer view = kv[i].duplicate().order(ByteOrder.nativeOrder()).position(from).limit(from + bytes)
                            .slice().order(ByteOrder.nativeOrder());
                    OnnxTensor past = OnnxTensor.createTensor(env, view, shape, sig.kvType());
                    views.add(past);
                    OnnxTensor present = OnnxTensor.createTensor(env, view.duplicate().order(ByteOrder.nativeOrder()),
                            shape, sig.kvType());
                    views.add(present);
                    inputs.put(sig.pastNames().get(i), past);
                    outputs.put(sig.presentNames().get(i), present);
                }
            }
            inputs.put(ModelSignature.INPUT_IDS, idTensor);
            inputs.put(ModelSignature.ATTENTION_MASK, maskTensor);
            outputs.put(ModelSignature.LOGITS, logitsTensor);
            long t0 = System.nanoTime();
            model.session().run(inputs, java.util.Set.of(), outputs).close();
            model.recordRun(System.nanoTime() - t0);
        } finally {
            views.forEach(OnnxTensor::close);
        }
        if (logitsType != OnnxJavaType.FLOAT) {
            SequenceBuffers.widen(halfLogits, 0, dest, destRow * vocab, cells, logitsType);
        }
        return dest;
    }

    /** Tensors over the first {@code n} rows of the KV buffers, bound as both the past inputs and present outputs. */
    private void kvTensors(int n) throws OrtException {
        if (tensorRows == n) {
            return;
        }
        closeKvTensors();
        long[] shape = {n, heads, slots, sig.headDim()};
        int bytes = n * heads * slots * slotBytes;
        for (int i = 0; i < kv.length; i++) {
            ByteBuffer view = kv[i].duplicate().order(ByteOrder.nativeOrder()).position(0).limit(bytes);
            kvInputs.put(sig.pastNames().get(i), OnnxTensor.createTensor(env, view, shape, sig.kvType()));
            kvOutputs.put(sig.presentNames().get(i), OnnxTensor.createTensor(env,
                    view.duplicate().order(ByteOrder.nativeOrder()), shape, sig.kvType()));
        }
        tensorRows = n;
    }

    private void closeKvTensors() {
        kvInputs.values().forEach(OnnxTensor::close);
        kvOutputs.values().forEach(v -> v.close());
        kvInputs.clear();
        kvOutputs.clear();
        tensorRows = -1;
    }

    /**
     * Makes the buffers hold at least {@code rows} rows of {@code neededSlots} slots: new buffers (doubling) with
     * every row's tokens copied over when either grows.
     */
    private void ensureCapacity(int rows, int neededSlots) {
        if (kv != null && rows <= rowCapacity && neededSlots <= slots) {
            return;
        }
        int newRows = kv == null ? Math.min(capacity, Math.max(rows, 4)) : rows <= rowCapacity ? rowCapacity
                : Math.min(capacity, Math.max(rows, 2 * rowCapacity));
        int newSlots = neededSlots <= slots ? slots
                : Math.min(maxLength + AttentionFusion.POSITION_MARGIN,
                Math.max(neededSlots, Math.max(OnnxSequence.FUSED_INITIAL_SLOTS, 2 * slots)));
        long bytes = (long) newRows * heads * newSlots * slotBytes;
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a batch of " + newRows + " rows x " + newSlots + " slots would need "
                    + bytes + " bytes per KV tensor, more than one buffer holds; use a smaller batch");
        }
        ByteBuffer[] grown = new ByteBuffer[sig.pastNames().size()];
        for (int i = 0; i < grown.length; i++) {
            grown[i] = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
            for (int b = 0; kv != null && b < handles.size(); b++) {
                for (int h = 0; h < heads; h++) {
                    grown[i].put(((b * heads + h) * newSlots) * slotBytes, kv[i], offset(b, h, 0),
                            lengths[b] * slotBytes);
                }
            }
        }
        closeKvTensors();
        kv = grown;
        rowCapacity = newRows;
        slots = newSlots;
    }

    private int offset(int row, int head, int slot) {
        return ((row * heads + head) * slots + slot) * slotBytes;
    }

    @Override
    public void rollback(int handle, int length) {
        ensureOpen();
        int row = row(handle);
        if (length < 0 || length > lengths[row]) {
            throw new IllegalArgumentException("cannot roll row " + handle + " back to length " + length
                    + "; it holds " + lengths[row] + " tokens");
        }
        lengths[row] = length; // the next call overwrites the dropped slots
    }

    @Override
    public int length(int handle) {
        ensureOpen();
        return lengths[row(handle)];
    }

    @Override
    public int size() {
        return handles.size();
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    /** Slots per row of the KV buffers (for tests and measurements). */
    int cacheSlots() {
        return slots;
    }

    @Override
    public void close() {
        if (!open) {
            return;
        }
        open = false;
        closeKvTensors();
        for (int i = 0; i < handles.size(); i++) {
            model.sequenceClosed();
        }
        handles.clear();
        lengths = new int[0];
        kv = null;
    }

    private int row(int handle) {
        int row = handles.indexOf(handle);
        if (row < 0) {
            throw new IllegalArgumentException("no row " + handle + " in this batch; rows held: " + handles);
        }
        return row;
    }

    private void ensureOpen() {
        if (!open) {
            throw new IllegalStateException("batch of model " + model.name() + " is closed");
        }
    }
}
