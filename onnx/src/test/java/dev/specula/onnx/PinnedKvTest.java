package dev.specula.onnx;

import ai.onnxruntime.OnnxJavaType;
import dev.specula.core.model.Logits;
import dev.specula.models.EmbeddedModels;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sequences that write the present KV into their own buffers (pinned outputs) compute exactly what sequences over
 * ONNX Runtime's per-call outputs compute, through prefill, decode steps, verify calls, masked rollback, compaction
 * and reset; and only small caches are pinned.
 */
class PinnedKvTest {
    private static final Path HF = RowInvarianceProbeTest.HF;
    private static final Path FIXTURES = ModelFilesTest.FIXTURES;

    @Test
    void pinnedAndUnpinnedSequencesGiveBitIdenticalLogits() {
        for (Path dir : new Path[]{EmbeddedModels.draft(), EmbeddedModels.target(), HF.resolve("tiny-qwen2"),
                HF.resolve("tiny-gpt2"), FIXTURES.resolve("fp16-io"), FIXTURES.resolve("bf16-io")}) {
            for (OnnxModelOptions.RollbackMode mode : new OnnxModelOptions.RollbackMode[]{
                    OnnxModelOptions.RollbackMode.AUTO, OnnxModelOptions.RollbackMode.COMPACT}) {
                try (OnnxCausalLM model = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(1).withRollback(mode).withFusedAttention(false))) {
                    assertTrue(model.pinnedKv(), dir + ": " + model.description());
                    assertTrue(model.description().contains("present KV written into the sequence's own buffers"),
                            model.description());
                    List<float[]> pinned = script(model, true);
                    List<float[]> unpinned = script(model, false);
                    assertEquals(unpinned.size(), pinned.size());
                    for (int i = 0; i < pinned.size(); i++) {
                        assertArrayEquals(unpinned.get(i), pinned.get(i), dir + " " + mode + ", call " + i);
                    }
                }
            }
        }
    }

    /** Every row of every call's logits over a fixed script of appends, rollbacks and a reset. */
    private static List<float[]> script(OnnxCausalLM model, boolean pin) {
        SplittableRandom r = new SplittableRandom(17);
        int vocab = model.vocabSize();
        List<float[]> out = new ArrayList<>();
        try (OnnxSequence seq = model.newSequence(model.maskedRollback(), pin)) {
            seq.prefill(r.ints(20, 0, vocab).toArray(), 0, 20); // at most 20 + 10 x 6 + 30 < 128 positions
            for (int round = 0; round < 10; round++) {
                int length = seq.length();
                record(seq.append(r.ints(1, 0, vocab).toArray(), 0, 1), out);
                int[] verify = r.ints(5, 0, vocab).toArray();
                record(seq.append(verify, 0, verify.length), out);
                seq.rollback(length + 1 + r.nextInt(6)); // keep 0..5 of the verified tokens
            }
            int[] longCall = r.ints(30, 0, vocab).toArray(); // more rows than the pinned logits hold
            record(seq.append(longCall, 0, longCall.length), out);
            seq.rollback(0);
            record(seq.appendLast(r.ints(9, 0, vocab).toArray(), 0, 9), out);
        }
        return out;
    }

    private static void record(Logits logits, List<float[]> out) {
        for (int row = 0; row < logits.rows(); row++) {
            float[] a = new float[logits.vocabSize()];
            logits.copyRow(row, a);
            out.add(a);
        }
    }

    @Test
    void largeCachesStayOnOnnxRuntimesAllocator() throws Exception {
        // the 1B twin's shape: 22 layers x (key, value), 4 KV heads of 64, float32, 2,048 positions
        List<String> past = new ArrayList<>();
        List<String> present = new ArrayList<>();
        for (int l = 0; l < 22; l++) {
            for (String kv : new String[]{"key", "value"}) {
                past.add("past_key_values." + l + "." + kv);
                present.add("present." + l + "." + kv);
            }
        }
        ModelSignature twin = new ModelSignature(22, 4, 64, OnnxJavaType.FLOAT, OnnxJavaType.FLOAT, 32000, true, true,
                false, past, present, true);
        String reason = OnnxCausalLM.kvNotPinned(null, twin, 2048); // decided before the session is consulted
        assertEquals("two buffer sets at the full context would take 176 MiB, more than 16 MiB", reason);
        try (OnnxCausalLM draft = OnnxCausalLM.load(EmbeddedModels.draft(), OnnxModelOptions.cpu(1).withFusedAttention(false))) {
            assertNull(OnnxCausalLM.kvNotPinned(draft.session(), draft.signature(), draft.maxSequenceLength()));
        }
        try (OnnxCausalLM off = OnnxCausalLM.load(EmbeddedModels.draft(), OnnxModelOptions.cpu(1).withPinnedKv(false).withFusedAttention(false))) {
            assertTrue(!off.pinnedKv() && off.description().contains("present KV allocated per call (turned off in the"
                    + " options)"), off.description());
        }
    }

    @Test
    void theBufferPoolKeepsKvSetsForAtMostEightIdleSequences() {
        try (OnnxCausalLM model = OnnxCausalLM.load(EmbeddedModels.draft(), OnnxModelOptions.cpu(1).withFusedAttention(false))) {
            List<OnnxSequence> open = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                OnnxSequence s = model.newSequence(true, true);
                s.append(new int[]{1, 2, 3}, 0, 3);
                open.add(s);
            }
            open.forEach(OnnxSequence::close);
            List<SequenceBuffers> pooled = new ArrayList<>();
            int withKv = 0;
            for (int i = 0; i < 10; i++) {
                SequenceBuffers b = model.borrowBuffers();
                pooled.add(b);
                withKv += b.holdsKv() ? 1 : 0;
            }
            pooled.forEach(model::returnBuffers);
            assertEquals(8, withKv);
        }
    }
}
