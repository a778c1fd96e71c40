package dev.specula.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.specula.core.SpeculaException;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The inputs and outputs of an Optimum-style decoder, discovered from the session's metadata rather than
 * assumed: {@code input_ids}, {@code attention_mask}, optional {@code position_ids}, optional
 * {@code use_cache_branch} (merged decoders), {@code past_key_values.{i}.key|value} of shape
 * [batch, kv_heads, past, head_dim] in float32, float16 or bfloat16, and outputs {@code logits} and
 * {@code present.{i}.key|value}. {@code dynamicBatch}: whether every input and output has a symbolic batch axis
 * (so one call may step several sequences); a graph exported with a fixed batch of 1 has not.
 */
record ModelSignature(int layers, int kvHeads, int headDim, OnnxJavaType kvType, OnnxJavaType logitsType,
                      long logitsVocab, boolean hasAttentionMask, boolean hasPositionIds, boolean hasUseCacheBranch,
                      List<String> pastNames, List<String> presentNames, boolean dynamicBatch) {

    static final String INPUT_IDS = "input_ids";
    static final String ATTENTION_MASK = "attention_mask";
    static final String POSITION_IDS = "position_ids";
    static final String USE_CACHE_BRANCH = "use_cache_branch";
    static final String LOGITS = "logits";
    private static final Pattern PAST = Pattern.compile("past_key_values\\.(\\d+)\\.(key|value)");

    static ModelSignature discover(OrtSession session, String model) throws OrtException {
        Map<String, NodeInfo> inputs = session.getInputInfo();
        Map<String, NodeInfo> outputs = session.getOutputInfo();
        if (!inputs.containsKey(INPUT_IDS)) {
            throw new SpeculaException("model " + model + " has no input 'input_ids'; inputs are " + inputs.keySet());
        }
        if (!outputs.containsKey(LOGITS)) {
            throw new SpeculaException("model " + model + " has no output 'logits'; outputs are " + outputs.keySet());
        }
        TreeMap<Integer, String[]> layers = new TreeMap<>();
        for (String name : inputs.keySet()) {
            Matcher m = PAST.matcher(name);
            if (m.matches()) {
                layers.computeIfAbsent(Integer.parseInt(m.group(1)), i -> new String[2])[m.group(2).equals("key") ? 0 : 1] = name;
            }
        }
        if (layers.isEmpty()) {
            throw new SpeculaException("model " + model + " has no past_key_values.* inputs, so it cannot keep a KV"
                    + " cache: export it with `optimum-cli export onnx --task text-generation-with-past`; inputs are "
                    + inputs.keySet());
        }
        List<String> past = new ArrayList<>();
        List<String> present = new ArrayList<>();
        int expected = 0;
        for (Map.Entry<Integer, String[]> e : layers.entrySet()) {
            if (e.getKey() != expected++ || e.getValue()[0] == null || e.getValue()[1] == null) {
                throw new SpeculaException("model " + model + " has an incomplete KV cache signature: expected"
                        + " past_key_values.{0.." + (layers.size() - 1) + "}.key and .value, found " + inputs.keySet());
            }
            for (int kv = 0; kv < 2; kv++) {
                String name = e.getValue()[kv];
                String out = name.replace("past_key_values", "present");
                if (!outputs.containsKey(out)) {
                    throw new SpeculaException("model " + model + " has input '" + name + "' but no output '" + out + "'");
                }
                past.add(name);
                present.add(out);
            }
        }
        TensorInfo first = tensor(inputs.get(past.get(0)), past.get(0), model);
        long[] shape = first.getShape();
        if (shape.length != 4) {
            throw new SpeculaException("model input '" + past.get(0) + "' has " + shape.length
                    + " dims, expected 4 [batch, kv_heads, past, head_dim]");
        }
        if (shape[1] <= 0 || shape[3] <= 0) {
            throw new SpeculaException("model input '" + past.get(0) + "' has symbolic kv_heads or head_dim "
                    + java.util.Arrays.toString(shape) + "; expected fixed sizes [batch, kv_heads, past, head_dim]");
        }
        OnnxJavaType kvType = first.type;
        if (kvType != OnnxJavaType.FLOAT && kvType != OnnxJavaType.FLOAT16 && kvType != OnnxJavaType.BFLOAT16) {
            throw new SpeculaException("model input '" + past.get(0) + "' holds " + kvType
                    + ", expected FLOAT, FLOAT16 or BFLOAT16");
        }
        for (String name : past) {
            TensorInfo t = tensor(inputs.get(name), name, model);
            long[] s = t.getShape();
            if (s.length != 4 || s[1] != shape[1] || s[3] != shape[3] || t.type != kvType) {
                throw new SpeculaException("model input '" + name + "' is " + t.type + " " + java.util.Arrays.toString(s)
                        + ", expected " + kvType + " like '" + past.get(0) + "' " + java.util.Arrays.toString(shape));
            }
        }
        TensorInfo logits = tensor(outputs.get(LOGITS), LOGITS, model);
        if (logits.type != OnnxJavaType.FLOAT && logits.type != OnnxJavaType.FLOAT16
                && logits.type != OnnxJavaType.BFLOAT16) {
            throw new SpeculaException("model output 'logits' holds " + logits.type
                    + ", expected FLOAT, FLOAT16 or BFLOAT16");
        }
        long[] ls = logits.getShape();
        if (ls.length != 3) {
            throw new SpeculaException("model output 'logits' has " + ls.length
                    + " dims, expected 3 [batch, sequence, vocab]");
        }
        return new ModelSignature(layers.size(), (int) shape[1], (int) shape[3], kvType, logits.type, ls[2],
                inputs.containsKey(ATTENTION_MASK), inputs.containsKey(POSITION_IDS),
                inputs.containsKey(USE_CACHE_BRANCH), List.copyOf(past), List.copyOf(present),
                dynamicBatch(inputs, outputs));
    }

    /** Whether the first axis of every batched input and output is symbolic (ONNX Runtime reports it as -1). */
    private static boolean dynamicBatch(Map<String, NodeInfo> inputs, Map<String, NodeInfo> outputs) {
        List<NodeInfo> batched = new ArrayList<>();
        for (Map<String, NodeInfo> m : List.of(inputs, outputs)) {
            for (Map.Entry<String, NodeInfo> e : m.entrySet()) {
                if (!e.getKey().equals(USE_CACHE_BRANCH)) {
                    batched.add(e.getValue());
                }
            }
        }
        for (NodeInfo info : batched) {
            if (!(info.getInfo() instanceof TensorInfo t) || t.getShape().length == 0 || t.getShape()[0] >= 0) {
                return false;
            }
        }
        return true;
    }

    private static TensorInfo tensor(NodeInfo info, String name, String model) {
        if (!(info.getInfo() instanceof TensorInfo t)) {
            throw new SpeculaException("model " + model + " input/output '" + name + "' is not a tensor: " + info.getInfo());
        }
        return t;
    }

    /** Bytes per KV element. */
    int kvElementBytes() {
        return kvType == OnnxJavaType.FLOAT ? 4 : 2;
    }

    /**
     * Whether rolled-back cache slots can stay in place, masked out: the model must take the attention mask
     * and explicit positions (else positions would be derived from the physical cache length).
     */
    boolean supportsMaskedRollback() {
        return hasAttentionMask && hasPositionIds;
    }
}
