package dev.specula.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.platform.Fp16Conversions;
import dev.specula.core.model.Logits;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;

/**
 * The direct buffers one sequence feeds ONNX Runtime from and reads logits into, with the tensors wrapped
 * around them. Pooled by the {@link OnnxCausalLM}: a sequence borrows a set and returns it when closed, so a
 * server's stream of short requests allocates no direct memory (which the JVM would free only at some later
 * garbage collection).
 */
final class SequenceBuffers implements AutoCloseable {
    /** Calls over at most this many tokens use fixed input tensors and write logits in place. */
    static final int PINNED_ROWS = 17;

    private final OrtEnvironment env;
    private final int vocab;
    /** Inputs of short calls: fixed buffers and one cached tensor per call size. */
    final LongBuffer ids = directLongs(PINNED_ROWS);
    final LongBuffer positions = directLongs(PINNED_ROWS);
    private final OnnxTensor[] idTensors = new OnnxTensor[PINNED_ROWS + 1];
    private final OnnxTensor[] positionTensors = new OnnxTensor[PINNED_ROWS + 1];
    /** Inputs of long calls (prefill): grown on demand, wrapped per call. */
    LongBuffer longIds = directLongs(64);
    LongBuffer longPositions = directLongs(64);
    /** The kept cache slots a compaction gathers; grown on demand. */
    private LongBuffer slots = directLongs(256);
    /** The attention mask over every cache slot (1 = attend, 0 = rolled back); grown on demand. */
    LongBuffer mask = directLongs(256);
    /**
     * Logits of short calls as float32: written by ONNX Runtime in place, or converted from {@link #pinnedHalf}.
     * Holds {@link #pinnedCapacity} rows, grown on demand up to {@link #PINNED_ROWS}: at a 151,936-token vocabulary
     * 17 rows are 10 MB per sequence, and a prefill or a decode with short drafts needs only a few.
     */
    private FloatBuffer pinnedLogits;
    /** Float16/bfloat16 logits of short calls, written by ONNX Runtime in place (null for float32 logits). */
    private ShortBuffer pinnedHalf;
    private int pinnedCapacity;
    private final OnnxJavaType logitsType;
    private final OnnxTensor[] pinnedLogitTensors = new OnnxTensor[PINNED_ROWS + 1];
    /** Two sets of buffers, one per KV tensor, that present outputs are written into alternately; grown on demand. */
    private final ByteBuffer[][] kvSets = new ByteBuffer[2][];

    SequenceBuffers(OrtEnvironment env, int vocab, OnnxJavaType logitsType) {
        this.env = env;
        this.vocab = vocab;
        this.logitsType = logitsType;
        allocatePinned(1);
    }

    /** Rows the pinned logits buffers hold now (grown by calls of more rows; for tests and measurements). */
    int pinnedCapacityRows() {
        return pinnedCapacity;
    }

    private void allocatePinned(int rows) {
        pinnedLogits = ByteBuffer.allocateDirect(rows * vocab * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        pinnedHalf = logitsType == OnnxJavaType.FLOAT ? null
                : ByteBuffer.allocateDirect(rows * vocab * 2).order(ByteOrder.nativeOrder()).asShortBuffer();
        pinnedCapacity = rows;
    }

    /**
     * Makes the pinned buffers hold at least {@code rows} rows: doubles them (at most {@link #PINNED_ROWS}) and drops
     * the tensors wrapping the old ones. Logits handed out earlier keep the old buffer alive; they are read before
     * the next call anyway.
     */
    private void ensurePinnedRows(int rows) {
        if (rows > PINNED_ROWS) {
            throw new IllegalArgumentException("a pinned call takes at most " + PINNED_ROWS + " rows, got " + rows);
        }
        if (rows <= pinnedCapacity) {
            return;
        }
        closeAll(pinnedLogitTensors);
        allocatePinned(Math.min(PINNED_ROWS, Math.max(rows, 2 * pinnedCapacity)));
    }

    /**
     * Converts {@code count} float16 or bfloat16 values ({@code type}) of {@code half} from {@code from} into
     * {@code out} from {@code to}, with ONNX Runtime's own conversions.
     */
    static void widen(ShortBuffer half, int from, FloatBuffer out, int to, int count, OnnxJavaType type) {
        boolean bf16 = type == OnnxJavaType.BFLOAT16;
        for (int k = 0; k < count; k++) {
            short h = half.get(from + k);
            out.put(to + k, bf16 ? Fp16Conversions.bf16ToFloat(h) : Fp16Conversions.fp16ToFloat(h));
        }
    }

    static LongBuffer directLongs(int n) {
        return ByteBuffer.allocateDirect(n * 8).order(ByteOrder.nativeOrder()).asLongBuffer();
    }

    OnnxTensor idTensor(int count) throws OrtException {
        if (idTensors[count] == null) {
            idTensors[count] = OnnxTensor.createTensor(env, ids.duplicate().limit(count), new long[]{1, count});
        }
        return idTensors[count];
    }

    OnnxTensor positionTensor(int count) throws OrtException {
        if (positionTensors[count] == null) {
            positionTensors[count] = OnnxTensor.createTensor(env, positions.duplicate().limit(count), new long[]{1, count});
        }
        return positionTensors[count];
    }

    OnnxTensor logitsTensor(int count) throws OrtException {
        ensurePinnedRows(count);
        if (pinnedLogitTensors[count] == null) {
            long[] shape = {1, count, vocab};
            pinnedLogitTensors[count] = pinnedHalf == null
                    ? OnnxTensor.createTensor(env, pinnedLogits.duplicate().position(0).limit(count * vocab), shape)
                    : OnnxTensor.createTensor(env, pinnedHalf.duplicate().position(0).limit(count * vocab), shape,
                    logitsType);
        }
        return pinnedLogitTensors[count];
    }

    /** The first {@code count} pinned rows as float32 (float16/bfloat16 converted by ONNX Runtime's conversions). */
    Logits pinnedRows(int count) {
        if (pinnedHalf != null) {
            widen(pinnedHalf, 0, pinnedLogits, 0, count * vocab, logitsType);
        }
        return new Logits(pinnedLogits.duplicate().position(0).limit(count * vocab), count, vocab);
    }

    /**
     * Buffer {@code index} of KV set {@code set} (of {@code tensors}), holding at least {@code bytes}: positioned at 0
     * and limited to {@code bytes}. Growing replaces the buffer, so call it only for the set no live tensor uses.
     */
    ByteBuffer kvBuffer(int set, int index, int tensors, int bytes) {
        if (kvSets[set] == null || kvSets[set].length != tensors) {
            kvSets[set] = new ByteBuffer[tensors];
        }
        ByteBuffer b = kvSets[set][index];
        if (b == null || b.capacity() < bytes) {
            int capacity = b == null ? bytes : Math.max(bytes, (int) Math.min(Integer.MAX_VALUE, 2L * b.capacity()));
            b = ByteBuffer.allocateDirect(capacity).order(ByteOrder.nativeOrder());
            kvSets[set][index] = b;
        }
        return b.duplicate().order(ByteOrder.nativeOrder()).position(0).limit(bytes);
    }

    /** Bytes of the KV buffers this set holds (a fused sequence's grow with its context). */
    long kvBytes() {
        long bytes = 0;
        for (ByteBuffer[] set : kvSets) {
            for (int i = 0; set != null && i < set.length; i++) {
                bytes += set[i] == null ? 0 : set[i].capacity();
            }
        }
        return bytes;
    }

    /** Whether this set holds pinned KV buffers (for tests of the pool's bound). */
    boolean holdsKv() {
        return kvSets[0] != null || kvSets[1] != null;
    }

    /** Lets the KV buffer sets go (the garbage collector frees them), e.g. before this set is pooled idle. */
    void dropKv() {
        kvSets[0] = null;
        kvSets[1] = null;
    }

    void ensureLongInputs(int count) {
        if (longIds.capacity() < count) {
            int n = Math.max(count, longIds.capacity() * 2);
            longIds = directLongs(n);
            longPositions = directLongs(n);
        }
    }

    LongBuffer slots(int count) {
        if (slots.capacity() < count) {
            slots = directLongs(Math.max(count, slots.capacity() * 2));
        }
        return slots;
    }

    void ensureMask(int slots, int keep) {
        if (mask.capacity() < slots) {
            LongBuffer grown = directLongs(Math.max(slots, mask.capacity() * 2));
            grown.put(0, mask, 0, keep);
            mask = grown;
        }
    }

    @Override
    public void close() {
        for (OnnxTensor[] tensors : new OnnxTensor[][]{idTensors, positionTensors, pinnedLogitTensors}) {
            closeAll(tensors);
        }
    }

    private static void closeAll(OnnxTensor[] tensors) {
        for (int i = 0; i < tensors.length; i++) {
            if (tensors[i] != null) {
                tensors[i].close();
                tensors[i] = null;
            }
        }
    }
}
