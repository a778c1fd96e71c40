package dev.specula.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.proto.Onnx.AttributeProto;
import dev.specula.onnx.proto.Onnx.ModelProto;
import dev.specula.onnx.proto.Onnx.NodeProto;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The load-time rewrite into ONNX Runtime's GroupQueryAttention ({@link AttentionFusion}): which graphs it fuses,
 * that a fused graph computes what the exported one computes through a speculative decoder's calls (prompt,
 * verification of several tokens, rollback, growth of the KV buffers), and that the parity probe rejects a rewrite
 * that computes something else.
 */
class AttentionFusionTest {
    private static final Path HF = RowInvarianceProbeTest.HF;
    private static final Path FIXTURES = OnnxSequenceBatchTest.FIXTURES;

    @Test
    void llamaAndQwen2ExportsAreFused() {
        for (Path dir : List.of(EmbeddedModels.target(), EmbeddedModels.draft(), HF.resolve("tiny-qwen2"))) {
            try (OnnxCausalLM model = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(1))) {
                assertTrue(model.fusedAttention(), model.description());
                assertTrue(model.attention().reason().contains("parity probe"), model.attention().toString());
                assertFalse(model.signature().hasPositionIds(), "positions come from the attention mask");
                assertTrue(model.description().contains("attention fused GroupQueryAttention"), model.description());
            }
        }
    }

    @Test
    void graphsItDoesNotMatchRunAsExportedAndSayWhy() {
        try (OnnxCausalLM gpt2 = OnnxCausalLM.load(HF.resolve("tiny-gpt2"), OnnxModelOptions.cpu(1));
             OnnxCausalLM bf16 = OnnxCausalLM.load(FIXTURES.resolve("bf16-batched"), OnnxModelOptions.cpu(1));
             OnnxCausalLM off = OnnxCausalLM.load(EmbeddedModels.draft(), OnnxModelOptions.cpu(1).withFusedAttention(false))) {
            System.out.println("tiny-gpt2: " + gpt2.attention());
            System.out.println("bf16-batched: " + bf16.attention());
            assertFalse(gpt2.fusedAttention());
            assertTrue(gpt2.attention().reason().contains("layer 0"), gpt2.attention().toString());
            assertFalse(bf16.fusedAttention());
            assertFalse(off.fusedAttention());
            assertTrue(off.attention().reason().contains("turned off"), off.attention().toString());
            assertTrue(off.signature().hasPositionIds());
        }
    }

    /**
     * The calls speculative decoding makes, on the fused and the exported graph side by side: a chunked prompt that
     * outgrows the first KV buffers, verification of several tokens, rollback of some, plain steps; every logit
     * within 1e-3 of the largest and every greedy choice equal.
     */
    @Test
    void aFusedSequenceComputesWhatTheExportedGraphComputes() {
        for (Path dir : List.of(EmbeddedModels.draft(), HF.resolve("tiny-qwen2"))) {
            try (OnnxCausalLM fused = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(1).withPrefillChunkTokens(128));
                 OnnxCausalLM exported = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(1).withFusedAttention(false));
                 ModelSequence a = fused.newSequence();
                 ModelSequence b = exported.newSequence()) {
                assertTrue(fused.fusedAttention(), fused.description());
                int vocab = fused.vocabSize();
                SplittableRandom r = new SplittableRandom(7);
                int[] prompt = r.ints(300, 0, vocab).toArray(); // past the first 256 slots
                double[] worst = new double[2];
                compare(a.appendLast(prompt, 0, prompt.length), b.appendLast(prompt, 0, prompt.length), worst);
                for (int step = 0; step < 40; step++) {
                    int[] draft = r.ints(1 + r.nextInt(6), 0, vocab).toArray();
                    Logits x = a.append(draft);
                    Logits y = b.append(draft);
                    compare(x, y, worst);
                    int keep = a.length() - draft.length + r.nextInt(draft.length + 1);
                    a.rollback(keep);
                    b.rollback(keep);
                    assertEquals(b.length(), a.length());
                }
                System.out.printf("%s: fused vs exported: max |difference| %.2e of max |logit| %.3g%n",
                        dir.getFileName(), worst[0], worst[1]);
                assertTrue(worst[0] <= 1e-3 * Math.max(1, worst[1]), dir + ": " + worst[0]);
            }
        }
    }

    private static void compare(Logits x, Logits y, double[] worst) {
        assertEquals(y.rows(), x.rows());
        for (int row = 0; row < x.rows(); row++) {
            assertEquals(y.argmax(row), x.argmax(row), "greedy choice of row " + row);
            for (int t = 0; t < x.vocabSize(); t++) {
                worst[0] = Math.max(worst[0], Math.abs(x.get(row, t) - y.get(row, t)));
                worst[1] = Math.max(worst[1], Math.abs(y.get(row, t)));
            }
        }
    }

    /** A rewrite that runs but computes something else (a doubled attention scale) fails the probe; the right one passes. */
    @Test
    void theParityProbeRejectsARewriteThatComputesSomethingElse() throws Exception {
        Path dir = HF.resolve("tiny-qwen2");
        ModelFiles files = ModelFiles.locate(dir, "");
        ModelConfig config = ModelConfig.read(dir);
        AttentionFusion.Result rewrite = AttentionFusion.rewrite(AttentionFusion.read(files.graph()), dir,
                config.maxPositionEmbeddings());
        assertTrue(rewrite.fused(), rewrite.reason());
        ModelProto.Builder wrong = rewrite.model().toBuilder();
        for (NodeProto.Builder n : wrong.getGraphBuilder().getNodeBuilderList()) {
            if (n.getOpType().equals(AttentionFusion.OP)) {
                for (AttributeProto.Builder a : n.getAttributeBuilderList()) {
                    if (a.getName().equals("scale")) {
                        a.setF(2 * a.getF());
                    }
                }
            }
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        double[] right;
        double[] doubled;
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions();
             OrtSession good = env.createSession(rewrite.model().toByteArray(), so);
             OrtSession bad = env.createSession(wrong.build().toByteArray(), so)) {
            ModelSignature sig = ModelSignature.discover(good, dir.toString());
            float[][] expected = FusedAttentionProbe.reference(env, files.graph(), 1, config.vocabSize());
            right = FusedAttentionProbe.parityError(env, good, sig, expected, config.vocabSize());
            doubled = FusedAttentionProbe.parityError(env, bad, sig, expected, config.vocabSize());
        }
        System.out.printf("probe: right rewrite %.2e, doubled scale %.2e (max |logit| %.3g)%n", right[0], doubled[0],
                right[1]);
        assertTrue(right[0] <= RollbackProbe.FLOAT_TOLERANCE * Math.max(1, right[1]), "right: " + right[0]);
        assertTrue(doubled[0] > RollbackProbe.FLOAT_TOLERANCE * Math.max(1, doubled[1]), "doubled: " + doubled[0]);
    }

    /** A row whose tokens the batch steps alone and the same tokens in a fused batch beside other rows agree. */
    @Test
    void aFusedBatchStepsPlainRowsInOneCallAndLongerRowsAfter() {
        try (OnnxCausalLM model = OnnxCausalLM.load(EmbeddedModels.draft(), OnnxModelOptions.cpu(1));
             var batch = model.newBatch(4)) {
            int[][] prompts = {{1, 2, 3}, {4, 5}, {6, 7, 8, 9}};
            int[] rows = new int[3];
            for (int i = 0; i < 3; i++) {
                ModelSequence s = model.newSequence();
                s.prefill(prompts[i], 0, prompts[i].length);
                rows[i] = batch.adopt(s);
            }
            List<Logits> out = batch.append(rows, List.of(new int[]{10}, new int[]{11}, new int[]{12, 13, 14}));
            for (int i = 0; i < 3; i++) {
                int[] fed = i == 0 ? new int[]{10} : i == 1 ? new int[]{11} : new int[]{12, 13, 14};
                int[] all = java.util.stream.IntStream.concat(java.util.Arrays.stream(prompts[i]),
                        java.util.Arrays.stream(fed)).toArray();
                try (ModelSequence alone = model.newSequence()) {
                    Logits expected = alone.append(all);
                    for (int j = 0; j < fed.length; j++) {
                        float[] e = new float[model.vocabSize()];
                        float[] g = new float[model.vocabSize()];
                        expected.copyRow(prompts[i].length + j, e);
                        out.get(i).copyRow(j, g);
                        assertArrayEquals(e, g, 1e-3f, "row " + i + " token " + j);
                    }
                }
            }
        }
    }

    /**
     * A graph whose weights live in an external data file (as Optimum writes models over 2 GB) is fused from bytes,
     * with ONNX Runtime reading the weights from the model's folder, and computes what the exported graph computes.
     */
    @Test
    void aGraphWithExternalDataIsFusedToo(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path source = HF.resolve("tiny-qwen2");
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("external"));
        for (String f : List.of("config.json", "generation_config.json")) {
            java.nio.file.Files.copy(source.resolve(f), dir.resolve(f));
        }
        ModelProto.Builder m = AttentionFusion.read(source.resolve("model.onnx")).toBuilder();
        try (var data = new java.io.ByteArrayOutputStream()) {
            for (var t : m.getGraphBuilder().getInitializerBuilderList()) {
                if (t.getRawData().size() >= 1024) {
                    long offset = data.size();
                    t.getRawData().writeTo(data);
                    t.clearRawData().setDataLocation(dev.specula.onnx.proto.Onnx.TensorProto.DataLocation.EXTERNAL)
                            .addExternalData(entry("location", "model.onnx_data"))
                            .addExternalData(entry("offset", Long.toString(offset)))
                            .addExternalData(entry("length", Long.toString(data.size() - offset)));
                }
            }
            java.nio.file.Files.write(dir.resolve("model.onnx_data"), data.toByteArray());
        }
        java.nio.file.Files.write(dir.resolve("model.onnx"), m.build().toByteArray());
        int[] prompt = RollbackProbeTest.ids(1024, 20, 3);
        try (OnnxCausalLM fused = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(1));
             OnnxCausalLM exported = OnnxCausalLM.load(source, OnnxModelOptions.cpu(1).withFusedAttention(false))) {
            assertEquals(List.of(dir.resolve("model.onnx_data")), fused.files().externalData());
            assertTrue(fused.fusedAttention(), fused.description());
            assertArrayEquals(PrefillAndPrecisionTest.greedy(exported, prompt, 24),
                    PrefillAndPrecisionTest.greedy(fused, prompt, 24));
        }
    }

    private static dev.specula.onnx.proto.Onnx.StringStringEntryProto entry(String key, String value) {
        return dev.specula.onnx.proto.Onnx.StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }
}
