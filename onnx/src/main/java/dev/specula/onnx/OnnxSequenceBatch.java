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
import java.util.Set;
import java.util.concurrent.locks.Lock;

/**
 * Several sequences of one {@link OnnxCausalLM} in one KV cache with a batch axis: every cache tensor is
 * [rows, kv_heads, slots, head_dim], and {@link #append} is ONE forward call over all rows. Made by
 * {@link OnnxCausalLM#newBatch(int)} for graphs with a dynamic batch axis and masked rollback.
 *
 * <p>All rows share the physical slot axis; each row has its own attention-mask row and takes positions from its
 * own logical length, exactly like {@link OnnxSequence}'s masked O(1) rollback. So a row's slots that are not its
 * tokens (rolled back, padding where the row got fewer tokens than the call's widest row, the whole call for a
 * row not listed) are masked slots: the model never attends to them again. During the call itself a row's padding
 * slots are attended by their own (discarded) padding queries only, so no query ever has every key masked (a
 * softmax over nothing, NaN in some exports); the causal mask keeps them from the row's real tokens.
 *
 * <p>Rows join ({@link #adopt}) and leave ({@link #remove}) without per-step work: a removed row stays in the cache,
 * fully masked, until the next regather; an adopted sequence's cache is merged in by one ONNX Runtime copy
 * (the {@code kv-rows-merge} graph: the batch's cache and the sequence's, each viewed as a list of head_dim vectors,
 * concatenated and gathered by one index list), which also drops removed rows and compacts every row's masked
 * slots. Between joins the cache is compacted (the {@code kv-rows-gather} graph) when removed rows make up a quarter
 * of its rows, when the slots past the longest row reach a quarter of the slots (and at least
 * {@value OnnxSequence#COMPACT_MIN_SLOTS}), the policy of {@link OnnxSequence}, or when the cache would outgrow the
 * model's positions. After a regather every row holds its tokens in slots {@code [0, length)} and the cache is as
 * long as the longest row.
 *
 * <p>The present outputs of one call are the next call's past inputs (no copy beyond the graph's own). Logits of
 * every row are written by ONNX Runtime into one direct buffer owned here ([rows, widest, vocab]); each returned
 * {@link Logits} is a view of its row's slice, valid until the next call on this batch.
 *
 * <p>Owned by whoever called {@link OnnxCausalLM#newBatch}; {@link #close()} is idempotent and frees every row.
 * Each row held counts as one of the model's {@link OnnxCausalLM#openSequences()}. Not thread-safe.
 *
 * <pre>{@code
 * try (SequenceBatch batch = model.newBatch(16)) {
 *     ModelSequence s = model.newSequence();
 *     s.prefill(prompt, 0, prompt.length - 1);
 *     int row = batch.adopt(s);                       // the batch owns s now
 *     List<Logits> out = batch.append(new int[]{row}, List.of(new int[]{prompt[prompt.length - 1]}));
 * }
 * }</pre>
 */
final class OnnxSequenceBatch implements SequenceBatch {
    private static final ByteBuffer NO_BYTES = ByteBuffer.allocateDirect(0).order(ByteOrder.nativeOrder());
    private static final long[] NO_SLOTS = new long[0];

    private final OnnxCausalLM model;
    private final int capacity;
    private final ModelSignature sig;
    private final OrtEnvironment env;
    private final int vocab;
    private final int maxLength;
    private final int heads;
    private final int headDim;
    private final Set<String> presentNames;
    private final Map<String, OnnxTensor> inputs = new HashMap<>();
    private OnnxTensor cacheBranchTrue;
    private OnnxTensor cacheBranchFalse;

    /** Live rows by handle. */
    private final Map<Integer, Row> rows = new LinkedHashMap<>();
    /** The cache's rows in batch-axis order; null where a removed row waits for the next regather. */
    private Row[] order = new Row[0];
    /** Slots per row of the cache (masked ones included). */
    private int slots;
    /** The cache: tensors owned by {@link #lastResult}, or by {@link #gathered} after a regather, or by this batch. */
    private final OnnxTensor[] kv;
    private OrtSession.Result lastResult;
    private OrtSession.Result[] gathered;
    private boolean ownedKv;

    /** Direct input buffers, grown on demand: token ids, positions, the attention mask, a regather's index. */
    private LongBuffer ids = directLongs(64);
    private LongBuffer positions = directLongs(64);
    private LongBuffer mask = directLongs(1024);
    private LongBuffer index = directLongs(1024);
    /** Logits of the last call as float32 ([rows, widest, vocab]), and the pinned float16/bfloat16 output if any. */
    private FloatBuffer logits = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).asFloatBuffer();
    private ShortBuffer halfLogits;
    private final OnnxJavaType logitsType;

    private int nextHandle;
    private int regathers;
    private boolean open = true;

    /** One sequence of the batch: its logical length and which of the cache's slots it attends to. */
    private static final class Row {
        final int handle;
        int length;
        /** 1 = the row's token, 0 = masked; at least {@link #slots} entries. */
        long[] attends;

        Row(int handle, int length) {
            this.handle = handle;
            this.length = length;
            this.attends = NO_SLOTS;
        }
    }

    OnnxSequenceBatch(OnnxCausalLM model, int capacity) {
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
        this.headDim = sig.headDim();
        this.presentNames = Set.copyOf(sig.presentNames());
        this.kv = new OnnxTensor[sig.pastNames().size()];
        this.logitsType = sig.logitsType();
        if (sig.hasUseCacheBranch()) {
            try {
                cacheBranchTrue = OnnxTensor.createTensor(env, new boolean[]{true});
                cacheBranchFalse = OnnxTensor.createTensor(env, new boolean[]{false});
            } catch (OrtException e) {
                closeAll(cacheBranchTrue);
                throw new SpeculaException("cannot create a batch for model " + model.name() + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * Merges the sequence's cache into the batch (one ONNX Runtime copy of both caches, which also compacts every
     * row) and closes the sequence. On an exception the batch has not taken the sequence: the caller still owns it.
     */
    @Override
    public int adopt(ModelSequence sequence) {
        ensureOpen();
        Objects.requireNonNull(sequence, "sequence");
        if (!(sequence instanceof OnnxSequence s) || s.model() != model) {
            throw new IllegalArgumentException("a batch of model " + model.name() + " adopts only sequences made by"
                    + " that model's newSequence(), got " + sequence);
        }
        int length = s.length(); // throws if the sequence is closed
        if (rows.size() >= capacity) {
            throw new IllegalArgumentException("batch is full: " + capacity + " rows");
        }
        Row row = new Row(nextHandle, length);
        Lock lock = model.runLock();
        lock.lock();
        try {
            ensureModelOpen();
            regather(s, row);
        } catch (OrtException e) {
            throw new SpeculaException("merging a sequence of " + length + " tokens into a batch of model "
                    + model.name() + " failed: " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
        nextHandle++;
        rows.put(row.handle, row);
        model.rowOpened();
        s.close();
        return row.handle;
    }

    /** Masks the row out at once; its slots leave the cache at the next regather (a join or a compaction). */
    @Override
    public void remove(int handle) {
        ensureOpen();
        Row row = row(handle);
        rows.remove(handle);
        for (int i = 0; i < order.length; i++) {
            if (order[i] == row) {
                order[i] = null;
            }
        }
        model.sequenceClosed();
        if (rows.isEmpty()) {
            releaseCache(); // nothing left to keep: no copy needed
            order = new Row[0];
            slots = 0;
        }
    }

    @Override
    public List<Logits> append(int[] handles, List<int[]> tokens) {
        ensureOpen();
        checkCall(handles, tokens);
        Row[] listed = new Row[handles.length];
        int width = 0;
        for (int i = 0; i < handles.length; i++) {
            Row row = row(handles[i]);
            for (int j = 0; j < i; j++) {
                if (listed[j] == row) {
                    throw new IllegalArgumentException("row " + handles[i] + " is listed twice: "
                            + Arrays.toString(handles));
                }
            }
            listed[i] = row;
            int[] t = tokens.get(i);
            checkRowTokens(model, handles[i], t, row.length);
            width = Math.max(width, t.length);
        }
        Lock lock = model.runLock();
        lock.lock();
        try {
            ensureModelOpen();
            compactIfWasteful(width);
            return forward(listed, tokens, width);
        } catch (OrtException e) {
            throw new SpeculaException("running model " + model.name() + " over a batch of " + order.length
                    + " rows x " + width + " tokens at " + slots + " cache slots failed: " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }

    /** The checks every batch's {@code append} makes of its arguments as a whole. */
    static void checkCall(int[] handles, List<int[]> tokens) {
        Objects.requireNonNull(handles, "rows");
        Objects.requireNonNull(tokens, "tokens");
        if (handles.length != tokens.size()) {
            throw new IllegalArgumentException(handles.length + " rows but " + tokens.size() + " token lists");
        }
        if (handles.length == 0) {
            throw new IllegalArgumentException("no rows listed; expected at least one");
        }
    }

    /** The checks every batch's {@code append} makes of one row's tokens: some, within the context and vocabulary. */
    static void checkRowTokens(OnnxCausalLM model, int handle, int[] tokens, int length) {
        if (tokens == null || tokens.length == 0) {
            throw new IllegalArgumentException("row " + handle + " gets no tokens; expected at least one");
        }
        if (length + tokens.length > model.maxSequenceLength()) {
            throw new IllegalArgumentException("row " + handle + " would hold " + (length + tokens.length)
                    + " tokens but model " + model.name() + " has a context of " + model.maxSequenceLength());
        }
        for (int token : tokens) {
            if (token < 0 || token >= model.vocabSize()) {
                throw new IllegalArgumentException("row " + handle + ": token " + token
                        + " is outside the vocabulary [0, " + model.vocabSize() + ")");
            }
        }
    }

    /** One forward call over every row of the cache; the listed rows' tokens first in their rows, padding after. */
    private List<Logits> forward(Row[] listed, List<int[]> tokens, int width) throws OrtException {
        int n = order.length;
        int total = slots + width;
        int[][] byPosition = new int[n][];
        for (int i = 0; i < listed.length; i++) {
            byPosition[order(listed[i])] = tokens.get(i);
        }
        ids = ensure(ids, n * width);
        positions = ensure(positions, n * width);
        mask = ensure(mask, n * total);
        for (int b = 0; b < n; b++) {
            Row row = order[b];
            int[] t = byPosition[b];
            int length = row == null ? 0 : row.length;
            for (int j = 0; j < width; j++) {
                ids.put(b * width + j, t != null && j < t.length ? t[j] : 0);
                positions.put(b * width + j, Math.min(length + j, maxLength - 1));
            }
            if (row != null) {
                mask.put(b * total, row.attends, 0, slots);
            } else {
                for (int p = 0; p < slots; p++) {
                    mask.put(b * total + p, 0L);
                }
            }
            for (int j = 0; j < width; j++) {
                mask.put(b * total + slots + j, 1L); // padding queries attend to themselves, see the class comment
            }
        }
        int cells = n * width * vocab;
        if (logits.capacity() < cells) {
            logits = ByteBuffer.allocateDirect(cells * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
            if (logitsType != OnnxJavaType.FLOAT) {
                halfLogits = ByteBuffer.allocateDirect(cells * 2).order(ByteOrder.nativeOrder()).asShortBuffer();
            }
        }
        long[] rowShape = {n, width};
        OrtSession.Result result;
        try (OnnxTensor idTensor = OnnxTensor.createTensor(env, ids.duplicate().position(0).limit(n * width), rowShape);
             OnnxTensor positionTensor = OnnxTensor.createTensor(env,
                     positions.duplicate().position(0).limit(n * width), rowShape);
             OnnxTensor maskTensor = OnnxTensor.createTensor(env, mask.duplicate().position(0).limit(n * total),
                     new long[]{n, total});
             OnnxTensor logitsTensor = halfLogits == null
                     ? OnnxTensor.createTensor(env, logits.duplicate().position(0).limit(cells),
                     new long[]{n, width, vocab})
                     : OnnxTensor.createTensor(env, halfLogits.duplicate().position(0).limit(cells),
                     new long[]{n, width, vocab}, logitsType)) {
            inputs.put(ModelSignature.INPUT_IDS, idTensor);
            if (sig.hasPositionIds()) {
                inputs.put(ModelSignature.POSITION_IDS, positionTensor);
            }
            if (sig.hasAttentionMask()) {
                inputs.put(ModelSignature.ATTENTION_MASK, maskTensor);
            }
            if (sig.hasUseCacheBranch()) {
                inputs.put(ModelSignature.USE_CACHE_BRANCH, slots > 0 ? cacheBranchTrue : cacheBranchFalse);
            }
            if (kv[0] == null) {
                emptyCache(n); // every row is empty: nothing was gathered
            }
            for (int i = 0; i < kv.length; i++) {
                inputs.put(sig.pastNames().get(i), kv[i]);
            }
            long t0 = System.nanoTime();
            result = model.session().run(inputs, presentNames, Map.of(ModelSignature.LOGITS, logitsTensor));
            model.recordRun(System.nanoTime() - t0);
        } finally {
            inputs.clear(); // holds no closed tensor between calls
        }
        try {
            OnnxTensor[] next = new OnnxTensor[kv.length];
            for (int i = 0; i < kv.length; i++) {
                OnnxValue v = result.get(sig.presentNames().get(i)).orElseThrow(
                        () -> new SpeculaException("model " + model.name() + " returned no present output"));
                next[i] = (OnnxTensor) v;
            }
            releaseCache();
            System.arraycopy(next, 0, kv, 0, kv.length);
            lastResult = result;
        } catch (RuntimeException e) {
            result.close();
            throw e;
        }
        for (int b = 0; b < n; b++) {
            Row row = order[b];
            if (row == null) {
                continue;
            }
            int count = byPosition[b] == null ? 0 : byPosition[b].length;
            row.attends = grow(row.attends, total);
            for (int j = 0; j < width; j++) {
                row.attends[slots + j] = j < count ? 1L : 0L;
            }
            row.length += count;
        }
        slots = total;
        List<Logits> out = new ArrayList<>(listed.length);
        for (int i = 0; i < listed.length; i++) {
            int from = order(listed[i]) * width * vocab;
            int count = tokens.get(i).length;
            if (halfLogits != null) {
                SequenceBuffers.widen(halfLogits, from, logits, from, count * vocab, logitsType);
            }
            FloatBuffer view = logits.duplicate();
            view.limit(from + count * vocab).position(from);
            out.add(new Logits(view.slice(), count, vocab));
        }
        return out;
    }

    /**
     * Compacts when removed rows make up a quarter of the cache's rows (each costs its share of every call's compute),
     * when the slots past the longest row reach a quarter of the cache and {@value OnnxSequence#COMPACT_MIN_SLOTS}
     * ({@link OnnxSequence}'s rule on the shared slot axis), or when the call would take the cache past the model's
     * positions (graphs with fixed causal-mask buffers need it within them).
     */
    private void compactIfWasteful(int width) throws OrtException {
        int n = order.length;
        int removed = n - rows.size();
        int longest = 0;
        for (Row row : rows.values()) {
            longest = Math.max(longest, row.length);
        }
        int spare = slots - longest;
        if ((removed > 0 && 4 * removed >= n)
                || (spare > 0 && (spare >= Math.max(OnnxSequence.COMPACT_MIN_SLOTS, slots / 4) || slots + width > maxLength))) {
            regather(null, null);
        }
    }

    /**
     * Rewrites the cache with only the live rows (and {@code joining} as a new last row), each row's attended slots
     * moved to the front in order and the rest padding: ONNX Runtime gathers head_dim vectors by one index list per
     * cache tensor, so the cache is never copied into the Java heap. Padding slots copy some existing vector (masked,
     * so never read, but finite). The batch's state changes only once every tensor is gathered.
     */
    private void regather(OnnxSequence joining, Row joiningRow) throws OrtException {
        List<Row> kept = new ArrayList<>();
        for (Row row : order) {
            if (row != null) {
                kept.add(row);
            }
        }
        int n = order.length;
        int batchVectors = n * heads * slots; // head_dim vectors per cache tensor of the batch
        int joiningSlots = joining == null ? 0 : joining.physicalLength();
        boolean fromBatch = batchVectors > 0;
        boolean fromJoining = joiningSlots > 0;
        int newSlots = joiningRow == null ? 0 : joiningRow.length;
        for (Row row : kept) {
            newSlots = Math.max(newSlots, row.length);
        }
        int m = kept.size() + (joiningRow == null ? 0 : 1);
        long[][] attends = new long[m][];
        OrtSession.Result[] results = new OrtSession.Result[kv.length];
        if (newSlots > 0) {
            int size = m * heads * newSlots;
            index = ensure(index, size);
            int at = 0;
            for (int k = 0; k < m; k++) {
                boolean isJoining = k == kept.size();
                int length = isJoining ? joiningRow.length : kept.get(k).length;
                int[] keptSlots = new int[length];
                int found = 0;
                int rowSlots = isJoining ? joiningSlots : slots;
                for (int p = 0; p < rowSlots && found < length; p++) {
                    if (isJoining ? joining.attends(p) : kept.get(k).attends[p] != 0) {
                        keptSlots[found++] = p;
                    }
                }
                if (found != length) {
                    throw new IllegalStateException("row holds " + length + " tokens but attends " + found
                            + " cache slots");
                }
                long base = isJoining ? (fromBatch ? batchVectors : 0) : (long) order(kept.get(k)) * heads * slots;
                for (int h = 0; h < heads; h++) {
                    for (int p = 0; p < newSlots; p++) {
                        index.put(at++, p < length ? base + (long) h * rowSlots + keptSlots[p] : 0L);
                    }
                }
                long[] a = new long[Math.max(newSlots, 16)];
                Arrays.fill(a, 0, length, 1L);
                attends[k] = a;
            }
            OrtSession graph = model.rowsSession(fromBatch && fromJoining);
            Map<String, OnnxTensor> in = new HashMap<>(8);
            OnnxTensor[] joiningKv = fromJoining ? joining.cacheTensors() : null;
            try (OnnxTensor indexTensor = OnnxTensor.createTensor(env, index.duplicate().position(0).limit(size),
                    new long[]{size});
                 OnnxTensor flat = OnnxTensor.createTensor(env, new long[]{-1, headDim});
                 OnnxTensor shape = OnnxTensor.createTensor(env, new long[]{m, heads, newSlots, headDim})) {
                in.put("index", indexTensor);
                in.put("flat", flat);
                in.put("shape", shape);
                for (int i = 0; i < kv.length; i++) {
                    if (fromBatch && fromJoining) {
                        in.put("cache", kv[i]);
                        in.put("joining", joiningKv[i]);
                    } else {
                        in.put("cache", fromBatch ? kv[i] : joiningKv[i]);
                    }
                    results[i] = graph.run(in);
                }
            } catch (OrtException | RuntimeException e) {
                closeAll(results);
                throw e;
            }
        } else {
            for (int k = 0; k < m; k++) {
                attends[k] = new long[16];
            }
        }
        releaseCache();
        if (newSlots > 0) {
            for (int i = 0; i < kv.length; i++) {
                kv[i] = (OnnxTensor) results[i].get(0);
            }
            gathered = results;
        }
        Row[] newOrder = new Row[m];
        for (int k = 0; k < m; k++) {
            newOrder[k] = k < kept.size() ? kept.get(k) : joiningRow;
            newOrder[k].attends = attends[k];
        }
        order = newOrder;
        slots = newSlots;
        regathers++;
    }

    /** Rolls the row back by masking its last tokens' slots (O(1) in the cache, as {@link OnnxSequence} does). */
    @Override
    public void rollback(int handle, int length) {
        ensureOpen();
        Row row = row(handle);
        if (length < 0 || length > row.length) {
            throw new IllegalArgumentException("cannot roll row " + handle + " back to length " + length
                    + "; it holds " + row.length + " tokens");
        }
        int drop = row.length - length;
        for (int p = slots - 1; p >= 0 && drop > 0; p--) {
            if (row.attends[p] != 0) {
                row.attends[p] = 0L;
                drop--;
            }
        }
        row.length = length;
    }

    @Override
    public int length(int handle) {
        ensureOpen();
        return row(handle).length;
    }

    @Override
    public int size() {
        return rows.size();
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    /** Rows of the cache tensors, removed rows not yet dropped included (for tests and measurements). */
    int cacheRows() {
        return order.length;
    }

    /** Regathers so far: joins and compactions (for tests and measurements). */
    int regathers() {
        return regathers;
    }

    /** Slots per row of the cache, masked ones included (for tests and measurements). */
    int cacheSlots() {
        return slots;
    }

    @Override
    public void close() {
        if (!open) {
            return;
        }
        open = false;
        releaseCache();
        closeAll(cacheBranchTrue, cacheBranchFalse);
        for (int i = 0; i < rows.size(); i++) {
            model.sequenceClosed();
        }
        rows.clear();
        order = new Row[0];
    }

    private Row row(int handle) {
        Row row = rows.get(handle);
        if (row == null) {
            throw new IllegalArgumentException("no row " + handle + " in this batch; rows held: " + rows.keySet());
        }
        return row;
    }

    private int order(Row row) {
        for (int i = 0; i < order.length; i++) {
            if (order[i] == row) {
                return i;
            }
        }
        throw new IllegalStateException("row " + row.handle + " is not in the cache");
    }

    private void emptyCache(int n) throws OrtException {
        long[] shape = {n, heads, 0, headDim};
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
            ownedKv = false;
        }
        Arrays.fill(kv, null);
    }

    private void ensureOpen() {
        if (!open) {
            throw new IllegalStateException("batch of model " + model.name() + " is closed");
        }
    }

    private void ensureModelOpen() {
        if (model.isClosed()) {
            throw new IllegalStateException("model " + model.name() + " is closed");
        }
    }

    private static LongBuffer ensure(LongBuffer buffer, int n) {
        return buffer.capacity() >= n ? buffer : directLongs(Math.max(n, buffer.capacity() * 2));
    }

    private static long[] grow(long[] a, int n) {
        return a.length >= n ? a : Arrays.copyOf(a, Math.max(n, a.length * 2));
    }

    private static LongBuffer directLongs(int n) {
        return SequenceBuffers.directLongs(n);
    }

    private static void closeAll(OrtSession.Result[] results) {
        for (OrtSession.Result r : results) {
            if (r != null) {
                r.close();
            }
        }
    }

    private static void closeAll(OnnxTensor... tensors) {
        for (OnnxTensor t : tensors) {
            if (t != null) {
                t.close();
            }
        }
    }
}
