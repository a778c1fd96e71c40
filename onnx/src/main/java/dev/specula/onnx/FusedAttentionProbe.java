package dev.specula.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks at load that a graph rewritten by {@link AttentionFusion} computes what the exported graph computes: both run
 * the same 12 tokens as a prompt of 8 and a call of the last 4 over its cache, the fused graph with three tokens fed
 * and rolled back in between (the calls a speculative decoder makes), and every logit is compared.
 */
final class FusedAttentionProbe {
    private static final int PROMPT = 8;
    private static final int TOTAL = 12;
    private static final int CAPACITY = 16;
    private static final Set<String> QUANTIZED_MATMULS = Set.of("MatMulNBits", "MatMulInteger", "QLinearMatMul",
            "DynamicQuantizeMatMul", "MatMulIntegerToFloat");

    private FusedAttentionProbe() {
    }

    /**
     * The exported graph's logits for the probe's tokens: a session over {@code original} made for this one call
     * (for float weights without pre-packing and with basic optimizations only, which is faster to make) and closed
     * before the fused session is made, so a load never holds both models' weights at once.
     */
    static float[][] reference(OrtEnvironment env, Path original, int threads, int vocab) throws OrtException {
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.setIntraOpNumThreads(threads);
            if (Collections.disjoint(GraphOpTypes.read(original), QUANTIZED_MATMULS)) {
                so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.BASIC_OPT);
                so.addConfigEntry("session.disable_prepacking", "1");
            } else {
                // Quantized MatMuls compute differently once their weights are pre-packed (MatMulNBits quantizes its
                // activations then), so the reference runs them as the model will run.
                so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            }
            try (OrtSession reference = env.createSession(original.toString(), so)) {
                return runOriginal(env, reference, tokens(vocab), ModelSignature.discover(reference, original.toString()));
            }
        }
    }

    /** {@code {largest |difference|, largest |logit|}} between the fused session and the {@link #reference} logits. */
    static double[] parityError(OrtEnvironment env, OrtSession fused, ModelSignature fusedSig, float[][] expected,
                                int vocab) throws OrtException {
        double[] error = new double[2];
        RollbackProbe.accumulate(runFused(env, fused, fusedSig, tokens(vocab)), expected, error);
        return error;
    }

    private static int[] tokens(int vocab) {
        int[] tokens = new int[TOTAL];
        for (int i = 0; i < TOTAL; i++) {
            tokens[i] = (int) ((7919L * (i + 1) + 104729L) % vocab);
        }
        return tokens;
    }

    /**
     * The exported graph over the probe's tokens in the fused run's call sizes (the prompt, then the rest with the
     * prompt's cache), so that a graph whose rows depend on the other rows of their call (dynamically quantized
     * activations) is compared call for call.
     */
    private static float[][] runOriginal(OrtEnvironment env, OrtSession session, int[] tokens, ModelSignature sig)
            throws OrtException {
        List<OnnxTensor> made = new ArrayList<>();
        OrtSession.Result first = null;
        try {
            Map<String, OnnxTensor> past = new HashMap<>();
            ByteBuffer none = ByteBuffer.allocateDirect(0).order(ByteOrder.nativeOrder());
            for (String name : sig.pastNames()) {
                past.put(name, keep(made, OnnxTensor.createTensor(env, none, new long[]{1, sig.kvHeads(), 0,
                        sig.headDim()}, sig.kvType())));
            }
            float[][] out = new float[TOTAL][];
            first = session.run(originalInputs(env, session, tokens, 0, PROMPT, past, made));
            System.arraycopy(rows(first.get(ModelSignature.LOGITS).orElseThrow(), PROMPT), 0, out, 0, PROMPT);
            for (int i = 0; i < sig.pastNames().size(); i++) {
                past.put(sig.pastNames().get(i), (OnnxTensor) first.get(sig.presentNames().get(i)).orElseThrow());
            }
            try (OrtSession.Result rest = session.run(originalInputs(env, session, tokens, PROMPT, TOTAL, past, made),
                    Set.of(ModelSignature.LOGITS))) {
                System.arraycopy(rows(rest.get(0), TOTAL - PROMPT), 0, out, PROMPT, TOTAL - PROMPT);
            }
            return out;
        } finally {
            if (first != null) {
                first.close();
            }
            made.forEach(OnnxTensor::close);
        }
    }

    private static Map<String, OnnxTensor> originalInputs(OrtEnvironment env, OrtSession session, int[] tokens, int from,
                                                          int to, Map<String, OnnxTensor> past, List<OnnxTensor> made)
            throws OrtException {
        Map<String, OnnxTensor> in = new HashMap<>(past);
        long[] ids = new long[to - from];
        long[] positions = new long[to - from];
        long[] mask = new long[to];
        for (int i = from; i < to; i++) {
            ids[i - from] = tokens[i];
            positions[i - from] = i;
        }
        java.util.Arrays.fill(mask, 1L);
        in.put(ModelSignature.INPUT_IDS, keep(made, OnnxTensor.createTensor(env, new long[][]{ids})));
        in.put(ModelSignature.ATTENTION_MASK, keep(made, OnnxTensor.createTensor(env, new long[][]{mask})));
        if (session.getInputNames().contains(ModelSignature.POSITION_IDS)) {
            in.put(ModelSignature.POSITION_IDS, keep(made, OnnxTensor.createTensor(env, new long[][]{positions})));
        }
        return in;
    }

    private static float[][] runFused(OrtEnvironment env, OrtSession session, ModelSignature sig, int[] tokens)
            throws OrtException {
        List<OnnxTensor> made = new ArrayList<>();
        try {
            Map<String, OnnxTensor> kvIn = new HashMap<>();
            Map<String, OnnxValue> kvOut = new HashMap<>();
            long[] shape = {1, sig.kvHeads(), CAPACITY, sig.headDim()};
            int bytes = sig.kvHeads() * CAPACITY * sig.headDim() * OnnxCausalLM.kvElementBytes(sig);
            for (int i = 0; i < sig.pastNames().size(); i++) {
                ByteBuffer b = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
                kvIn.put(sig.pastNames().get(i), keep(made, OnnxTensor.createTensor(env, b, shape, sig.kvType())));
                kvOut.put(sig.presentNames().get(i), keep(made, OnnxTensor.createTensor(env,
                        b.duplicate().order(ByteOrder.nativeOrder()), shape, sig.kvType())));
            }
            float[][] out = new float[TOTAL][];
            float[][] prompt = call(env, session, kvIn, kvOut, java.util.Arrays.copyOf(tokens, PROMPT), 0);
            System.arraycopy(prompt, 0, out, 0, PROMPT);
            call(env, session, kvIn, kvOut, new int[]{tokens[3], tokens[1], tokens[4]}, PROMPT); // rolled back
            float[][] rest = call(env, session, kvIn, kvOut, java.util.Arrays.copyOfRange(tokens, PROMPT, TOTAL), PROMPT);
            System.arraycopy(rest, 0, out, PROMPT, TOTAL - PROMPT);
            return out;
        } finally {
            made.forEach(OnnxTensor::close);
        }
    }

    private static float[][] call(OrtEnvironment env, OrtSession session, Map<String, OnnxTensor> kvIn,
                                  Map<String, OnnxValue> kvOut, int[] tokens, int length) throws OrtException {
        long[] ids = new long[tokens.length];
        long[] mask = new long[length + tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            ids[i] = tokens[i];
        }
        java.util.Arrays.fill(mask, 1L);
        try (OnnxTensor idTensor = OnnxTensor.createTensor(env, new long[][]{ids});
             OnnxTensor maskTensor = OnnxTensor.createTensor(env, new long[][]{mask})) {
            Map<String, OnnxTensor> in = new HashMap<>(kvIn);
            in.put(ModelSignature.INPUT_IDS, idTensor);
            in.put(ModelSignature.ATTENTION_MASK, maskTensor);
            try (OrtSession.Result r = session.run(in, Set.of(ModelSignature.LOGITS), kvOut)) {
                return rows(r.get(ModelSignature.LOGITS).orElseThrow(), tokens.length);
            }
        }
    }

    private static float[][] rows(OnnxValue value, int n) throws OrtException {
        FloatBuffer all = ((OnnxTensor) value).getFloatBuffer(); // float16/bfloat16 converted by ONNX Runtime
        int vocab = all.remaining() / n;
        float[][] out = new float[n][vocab];
        for (int r = 0; r < n; r++) {
            all.get(out[r]);
        }
        return out;
    }

    private static OnnxTensor keep(List<OnnxTensor> made, OnnxTensor t) {
        made.add(t);
        return t;
    }

}
