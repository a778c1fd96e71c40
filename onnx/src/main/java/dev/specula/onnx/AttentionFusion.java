package dev.specula.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import dev.specula.onnx.proto.Onnx.AttributeProto;
import dev.specula.onnx.proto.Onnx.GraphProto;
import dev.specula.onnx.proto.Onnx.ModelProto;
import dev.specula.onnx.proto.Onnx.NodeProto;
import dev.specula.onnx.proto.Onnx.OperatorSetIdProto;
import dev.specula.onnx.proto.Onnx.TensorProto;
import dev.specula.onnx.proto.Onnx.ValueInfoProto;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Rewrites, at load, each attention block of an Optimum (or transformers.js) decoder into ONNX Runtime's fused
 * {@code com.microsoft.GroupQueryAttention}: from the q/k/v projections' outputs to the input of the output
 * projection, rotary embedding, the past/new KV concatenation, {@code repeat_kv}, the causal mask and both attention
 * MatMuls become one kernel that writes the new keys and values into the KV buffer in place. Projections, norms and
 * the MLP are kept as they are.
 *
 * <p>The graph keeps its inputs and outputs, except {@code position_ids}, which the fused kernel derives from the
 * attention mask (each row's length is the mask's sum). Its {@code past_key_values.*} inputs and {@code present.*}
 * outputs become one fixed-capacity buffer per tensor, {@code [batch, kv_heads, capacity, head_dim]}, bound as both
 * (see {@link FusedKv}). A graph that does not match the pattern is left alone, with the reason; a match is only
 * used after {@link FusedAttentionProbe} found it computing what the original computes.
 */
final class AttentionFusion {
    static final String DOMAIN = "com.microsoft";
    static final String OP = "GroupQueryAttention";
    /**
     * Rotary positions beyond the context the tables cover: in a batch, a row near the end of the context gets the
     * positions of a call's padding queries too (discarded, but the kernel looks them up).
     */
    static final int POSITION_MARGIN = 64;

    /** Ops allowed between a projection's reshape and the KV cache or the attention MatMul (rotary, transposes). */
    private static final Set<String> ROTARY_PATH = Set.of("Transpose", "Reshape", "Mul", "Add", "Sub", "Neg", "Slice",
            "Concat", "Split", "Unsqueeze", "Squeeze", "Cast", "Identity");
    /** Ops allowed between the cache and an attention MatMul ({@code repeat_kv}, transposes). */
    private static final Set<String> REPEAT_PATH = Set.of("Unsqueeze", "Expand", "Reshape", "Transpose", "Identity",
            "Cast", "Mul");
    /** Where a rotary path's cos/sin tables come from; not followed further. */
    private static final Set<String> TABLE_OPS = Set.of("Cos", "Sin");

    /**
     * The outcome: the rewritten model, or null with the reason it was left alone.
     *
     * @param model  the rewritten model, or null
     * @param layers attention blocks fused
     * @param reason why the model was left alone, or a one-line summary of the rewrite
     */
    record Result(ModelProto model, int layers, String reason) {
        boolean fused() {
            return model != null;
        }
    }

    /** Attention shapes the kernel needs, from the graph's KV inputs and config.json. */
    record Shape(int heads, int kvHeads, int headDim, int maxPositions, double ropeTheta) {
    }

    private final GraphProto graph;
    private final Shape shape;
    private final Map<String, Integer> producer = new HashMap<>();
    private final Map<String, List<Integer>> consumers = new HashMap<>();
    private final Map<String, TensorProto> constants = new HashMap<>();
    private final Set<String> graphInputs = new HashSet<>();

    private AttentionFusion(GraphProto graph, Shape shape) {
        this.graph = graph;
        this.shape = shape;
        for (int i = 0; i < graph.getNodeCount(); i++) {
            NodeProto n = graph.getNode(i);
            for (String out : n.getOutputList()) {
                producer.put(out, i);
            }
            for (String in : n.getInputList()) {
                consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(i);
            }
            if (n.getOpType().equals("Constant")) {
                for (AttributeProto a : n.getAttributeList()) {
                    if (a.getName().equals("value") && a.hasT()) {
                        constants.put(n.getOutput(0), a.getT());
                    }
                }
            }
        }
        for (TensorProto t : graph.getInitializerList()) {
            constants.put(t.getName(), t);
        }
        for (ValueInfoProto v : graph.getInputList()) {
            graphInputs.add(v.getName());
        }
    }

    /** Reads a graph file; large weights are aliased from the memory-mapped file, not copied. */
    static ModelProto read(Path graphFile) throws IOException {
        try (FileChannel ch = FileChannel.open(graphFile, StandardOpenOption.READ)) {
            ByteBuffer mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
            CodedInputStream in = CodedInputStream.newInstance(mapped);
            in.enableAliasing(true);
            in.setSizeLimit(Integer.MAX_VALUE);
            return ModelProto.parseFrom(in);
        }
    }

    private static final java.util.regex.Pattern PAST = java.util.regex.Pattern.compile("past_key_values\\.(\\d+)\\.key");

    /**
     * Fuses every layer's attention, or none: KV names and shapes from the graph's inputs, the number of query heads
     * and rope_theta from {@code config.json} (its {@code text_config} first).
     */
    static Result rewrite(ModelProto model, Path configDirectory, int maxPositions) {
        List<String> past = new ArrayList<>();
        List<String> present = new ArrayList<>();
        int kvHeads = -1;
        int headDim = -1;
        java.util.TreeMap<Integer, ValueInfoProto> keys = new java.util.TreeMap<>();
        for (ValueInfoProto v : model.getGraph().getInputList()) {
            java.util.regex.Matcher m = PAST.matcher(v.getName());
            if (m.matches()) {
                keys.put(Integer.parseInt(m.group(1)), v);
            }
        }
        if (keys.isEmpty() || keys.lastKey() != keys.size() - 1) {
            return new Result(null, 0, "no past_key_values.{i}.key inputs numbered from 0");
        }
        for (ValueInfoProto v : keys.values()) {
            var dims = v.getType().getTensorType().getShape().getDimList();
            if (dims.size() != 4 || !dims.get(1).hasDimValue() || !dims.get(3).hasDimValue()) {
                return new Result(null, 0, "'" + v.getName() + "' is not [batch, kv_heads, past, head_dim] with fixed sizes");
            }
            kvHeads = (int) dims.get(1).getDimValue();
            headDim = (int) dims.get(3).getDimValue();
            String value = v.getName().replace(".key", ".value");
            past.add(v.getName());
            past.add(value);
            present.add(v.getName().replace("past_key_values", "present"));
            present.add(value.replace("past_key_values", "present"));
        }
        com.fasterxml.jackson.databind.JsonNode config;
        try {
            config = new com.fasterxml.jackson.databind.ObjectMapper().readTree(configDirectory.resolve("config.json").toFile());
        } catch (IOException e) {
            return new Result(null, 0, "cannot read config.json: " + e.getMessage());
        }
        com.fasterxml.jackson.databind.JsonNode text = config.path("text_config");
        int heads = text.path("num_attention_heads").asInt(config.path("num_attention_heads").asInt(
                config.path("n_head").asInt(0)));
        double theta = text.path("rope_theta").asDouble(config.path("rope_theta").asDouble(10000.0));
        if (heads <= 0) {
            return new Result(null, 0, "config.json names no num_attention_heads");
        }
        for (String unsupported : List.of("attn_logit_softcapping", "partial_rotary_factor")) {
            com.fasterxml.jackson.databind.JsonNode u = text.has(unsupported) ? text.get(unsupported) : config.get(unsupported);
            if (u != null && !u.isNull() && !(unsupported.equals("partial_rotary_factor") && u.asDouble() == 1.0)) {
                return new Result(null, 0, "config.json sets " + unsupported + ", which the fused kernel is not set up for");
            }
        }
        return rewrite(model, new Shape(heads, kvHeads, headDim, maxPositions, theta), past, present);
    }

    /**
     * Fuses every layer's attention, or none.
     *
     * @param pastNames    the graph's {@code past_key_values.{i}.key|value} inputs in layer order, key first
     * @param presentNames the matching {@code present.*} outputs
     */
    static Result rewrite(ModelProto model, Shape shape, List<String> pastNames, List<String> presentNames) {
        GraphProto g = model.getGraph();
        for (NodeProto n : g.getNodeList()) {
            if (n.getOpType().equals("If") || n.getOpType().equals("Loop") || n.getOpType().equals("Scan")) {
                return new Result(null, 0, "the graph has control flow (" + n.getOpType() + ", e.g. a merged decoder)");
            }
            if (n.getOpType().equals(OP) || n.getOpType().equals("MultiHeadAttention")
                    || n.getOpType().equals("Attention")) {
                return new Result(null, 0, "the graph's attention is already fused (" + n.getOpType() + ")");
            }
        }
        if (shape.heads() % shape.kvHeads() != 0) {
            return new Result(null, 0, shape.heads() + " query heads are not a multiple of " + shape.kvHeads()
                    + " KV heads");
        }
        try {
            return new AttentionFusion(g, shape).fuse(model, pastNames, presentNames);
        } catch (NoMatch e) {
            return new Result(null, 0, e.getMessage());
        }
    }

    /** The graph does not have the expected shape; the message says where. */
    private static final class NoMatch extends Exception {
        NoMatch(String message) {
            super(message, null, false, false);
        }
    }

    /** One layer's anchors: projection outputs, the cache concatenations and the output projection's input. */
    private record Layer(String query, String key, String value, int keyConcat, int valueConcat, int outProj,
                         int outProjInput) {
    }

    private Result fuse(ModelProto model, List<String> pastNames, List<String> presentNames) throws NoMatch {
        int layers = pastNames.size() / 2;
        List<Layer> found = new ArrayList<>();
        String[] rotarySource = new String[1];
        for (int i = 0; i < layers; i++) {
            found.add(layer(i, pastNames.get(2 * i), pastNames.get(2 * i + 1), presentNames.get(2 * i),
                    presentNames.get(2 * i + 1), rotarySource));
        }
        TensorProto.DataType type = computeType(pastNames.get(0));
        float[] invFreq = inverseFrequencies(rotarySource[0]);

        GraphProto.Builder g = graph.toBuilder();
        String mask = ModelSignature.ATTENTION_MASK;
        if (!graphInputs.contains(mask)) {
            throw new NoMatch("the graph has no attention_mask input");
        }
        String p = "specula_gqa/";
        g.addInitializer(longs(p + "axis1", new long[]{1}, new long[]{1}));
        g.addInitializer(longs(p + "one", new long[]{}, new long[]{1}));
        g.addInitializer(longs(p + "index1", new long[]{}, new long[]{1}));
        float[][] tables = rotaryTables(invFreq, shape.maxPositions() + POSITION_MARGIN);
        g.addInitializer(table(p + "cos32", tables[0], invFreq.length));
        g.addInitializer(table(p + "sin32", tables[1], invFreq.length));
        List<NodeProto> added = new ArrayList<>();
        for (String t : List.of("cos", "sin")) { // ONNX Runtime folds the cast into a constant of the model's type
            added.add(node("Cast", List.of(p + t + "32"), List.of(p + t), p + t, attrInt("to", type.getNumber())));
        }
        added.add(node("ReduceSum", List.of(mask, p + "axis1"), List.of(p + "length"), p + "length",
                attrInt("keepdims", 0)));
        added.add(node("Sub", List.of(p + "length", p + "one"), List.of(p + "last"), p + "last"));
        added.add(node("Cast", List.of(p + "last"), List.of(p + "seqlens_k"), p + "seqlens_k",
                attrInt("to", TensorProto.DataType.INT32_VALUE)));
        added.add(node("Shape", List.of(mask), List.of(p + "mask_shape"), p + "mask_shape"));
        added.add(node("Gather", List.of(p + "mask_shape", p + "index1"), List.of(p + "total64"), p + "total64",
                attrInt("axis", 0)));
        added.add(node("Cast", List.of(p + "total64"), List.of(p + "total"), p + "total",
                attrInt("to", TensorProto.DataType.INT32_VALUE)));
        for (int i = 0; i < layers; i++) {
            Layer l = found.get(i);
            String out = p + "attention_" + i;
            g.getNodeBuilder(l.keyConcat()).setOutput(0, p + "unused_key_" + i);
            g.getNodeBuilder(l.valueConcat()).setOutput(0, p + "unused_value_" + i);
            g.getNodeBuilder(l.outProj()).setInput(l.outProjInput(), out);
            NodeProto.Builder gqa = NodeProto.newBuilder().setOpType(OP).setDomain(DOMAIN).setName(p + "layer_" + i)
                    .addAllInput(List.of(l.query(), l.key(), l.value(), pastNames.get(2 * i), pastNames.get(2 * i + 1),
                            p + "seqlens_k", p + "total", p + "cos", p + "sin"))
                    .addAllOutput(List.of(out, presentNames.get(2 * i), presentNames.get(2 * i + 1)))
                    .addAttribute(attrInt("num_heads", shape.heads()))
                    .addAttribute(attrInt("kv_num_heads", shape.kvHeads()))
                    .addAttribute(attrInt("do_rotary", 1))
                    .addAttribute(attrInt("rotary_interleaved", 0))
                    .addAttribute(AttributeProto.newBuilder().setName("scale").setType(AttributeProto.AttributeType.FLOAT)
                            .setF((float) (1 / Math.sqrt(shape.headDim()))));
            added.add(gqa.build());
        }
        List<NodeProto> all = new ArrayList<>(g.getNodeList());
        all.addAll(added);
        List<NodeProto> live = liveInOrder(all, g.getOutputList());
        g.clearNode().addAllNode(live);
        Set<String> used = new HashSet<>();
        for (NodeProto n : live) {
            used.addAll(n.getInputList());
        }
        for (ValueInfoProto o : g.getOutputList()) {
            used.add(o.getName());
        }
        List<ValueInfoProto> inputs = new ArrayList<>();
        for (ValueInfoProto v : g.getInputList()) {
            if (used.contains(v.getName())) {
                inputs.add(v);
            }
        }
        g.clearInput().addAllInput(inputs);
        List<TensorProto> inits = new ArrayList<>();
        for (TensorProto t : g.getInitializerList()) {
            if (used.contains(t.getName())) {
                inits.add(t);
            }
        }
        g.clearInitializer().addAllInitializer(inits);
        g.clearValueInfo(); // intermediate shapes of removed nodes; ONNX Runtime infers the rest
        ModelProto.Builder m = model.toBuilder().setGraph(g);
        boolean hasDomain = m.getOpsetImportList().stream().anyMatch(o -> o.getDomain().equals(DOMAIN));
        if (!hasDomain) {
            m.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(DOMAIN).setVersion(1));
        }
        return new Result(m.build(), layers, String.format(Locale.ROOT,
                "%d attention blocks fused into %s (%d -> %d nodes)", layers, OP, graph.getNodeCount(), live.size()));
    }

    private Layer layer(int i, String pastKey, String pastValue, String presentKey, String presentValue,
                        String[] rotarySource) throws NoMatch {
        int keyConcat = concatOf(presentKey, pastKey, i);
        int valueConcat = concatOf(presentValue, pastValue, i);
        String key = projectionBehind(graph.getNode(keyConcat).getInput(1), "key", i, rotarySource);
        String value = projectionBehind(graph.getNode(valueConcat).getInput(1), "value", i, null);
        int[] scores = matMulAfter(presentKey, "key", i);
        NodeProto scoreNode = graph.getNode(scores[0]);
        String query = projectionBehind(scoreNode.getInput(1 - scores[1]), "query", i, null);
        if (query.equals(key) || query.equals(value)) {
            throw new NoMatch("layer " + i + ": the attention scores do not combine a query with the keys");
        }
        int[] weighted = matMulAfter(presentValue, "value", i);
        int[] out = outputProjection(graph.getNode(weighted[0]).getOutput(0), i);
        return new Layer(query, key, value, keyConcat, valueConcat, out[0], out[1]);
    }

    private int concatOf(String present, String past, int layer) throws NoMatch {
        Integer c = producer.get(present);
        if (c == null || !graph.getNode(c).getOpType().equals("Concat") || graph.getNode(c).getInputCount() != 2
                || !passesThrough(graph.getNode(c).getInput(0), past)) {
            throw new NoMatch("layer " + layer + ": '" + present + "' is not Concat(" + past + ", new)");
        }
        return c;
    }

    /** Whether {@code tensor} is {@code source} itself or {@code source} through ops that change nothing. */
    private boolean passesThrough(String tensor, String source) {
        String t = tensor;
        for (int steps = 0; steps < 4 && !t.equals(source); steps++) {
            Integer idx = producer.get(t);
            if (idx == null) {
                return false;
            }
            NodeProto n = graph.getNode(idx);
            boolean identity = n.getOpType().equals("Identity")
                    || n.getOpType().equals("Concat") && n.getInputCount() == 1;
            if (!identity) {
                return false;
            }
            t = n.getInput(0);
        }
        return t.equals(source);
    }

    /**
     * Walks back from a tensor of the attention block to the projection it comes from: the first Reshape whose data
     * input is a MatMul's output (or a MatMul plus a constant bias), through rotary and layout ops only.
     */
    private String projectionBehind(String start, String what, int layer, String[] rotarySource) throws NoMatch {
        ArrayDeque<String> todo = new ArrayDeque<>(List.of(start));
        Set<String> seen = new HashSet<>();
        String found = null;
        while (!todo.isEmpty()) {
            String t = todo.poll();
            if (!seen.add(t) || constants.containsKey(t)) {
                continue;
            }
            Integer idx = producer.get(t);
            if (idx == null) {
                throw new NoMatch("layer " + layer + ": the " + what + " path reaches graph input '" + t
                        + "' before a projection");
            }
            NodeProto n = graph.getNode(idx);
            String op = n.getOpType();
            if (op.equals("Reshape") && isProjection(n.getInput(0))) {
                if (found != null && !found.equals(n.getInput(0))) {
                    throw new NoMatch("layer " + layer + ": the " + what + " path mixes two projections");
                }
                found = n.getInput(0);
                continue;
            }
            if (TABLE_OPS.contains(op)) {
                if (rotarySource != null && rotarySource[0] == null) {
                    rotarySource[0] = n.getInput(0);
                }
                continue;
            }
            if (op.equals("Gather") && constants.containsKey(n.getInput(0))) {
                throw new NoMatch("layer " + layer + ": rotary tables gathered from a constant cache are not matched");
            }
            if (!ROTARY_PATH.contains(op)) {
                throw new NoMatch("layer " + layer + ": unexpected " + op + " ('" + n.getName() + "') on the " + what
                        + " path between its projection and the attention");
            }
            boolean allInputs = op.equals("Mul") || op.equals("Add") || op.equals("Sub") || op.equals("Concat");
            for (int k = 0; k < (allInputs ? n.getInputCount() : 1); k++) {
                todo.add(n.getInput(k));
            }
        }
        if (found == null) {
            throw new NoMatch("layer " + layer + ": no projection found behind the " + what);
        }
        return found;
    }

    private boolean isProjection(String tensor) {
        Integer idx = producer.get(tensor);
        if (idx == null) {
            return false;
        }
        NodeProto n = graph.getNode(idx);
        if (n.getOpType().equals("MatMul") || n.getOpType().equals("MatMulNBits") || n.getOpType().equals("FusedMatMul")) {
            return true;
        }
        if (n.getOpType().equals("Add") && n.getInputCount() == 2) {
            for (int k = 0; k < 2; k++) {
                Integer other = producer.get(n.getInput(k));
                if (other != null && graph.getNode(other).getOpType().startsWith("MatMul")
                        && isConstantLike(n.getInput(1 - k))) {
                    return true;
                }
            }
        }
        return false;
    }

    private boolean isConstantLike(String tensor) {
        if (constants.containsKey(tensor)) {
            return true;
        }
        Integer idx = producer.get(tensor);
        return idx != null && graph.getNode(idx).getOpType().matches("Cast|DequantizeLinear|Identity")
                && isConstantLike(graph.getNode(idx).getInput(0));
    }

    /** The MatMul a cache tensor feeds through {@code repeat_kv} and transposes: {node, which input}. */
    private int[] matMulAfter(String cache, String what, int layer) throws NoMatch {
        ArrayDeque<String> todo = new ArrayDeque<>(List.of(cache));
        Set<String> seen = new HashSet<>();
        int[] found = null;
        while (!todo.isEmpty()) {
            String t = todo.poll();
            if (!seen.add(t)) {
                continue;
            }
            for (int idx : consumers.getOrDefault(t, List.of())) {
                NodeProto n = graph.getNode(idx);
                if (n.getOpType().equals("Shape")) {
                    continue;
                }
                if (n.getOpType().equals("MatMul")) {
                    if (found != null && found[0] != idx) {
                        throw new NoMatch("layer " + layer + ": the " + what + " cache feeds two MatMuls");
                    }
                    found = new int[]{idx, n.getInput(0).equals(t) ? 0 : 1};
                    continue;
                }
                if (!REPEAT_PATH.contains(n.getOpType())) {
                    throw new NoMatch("layer " + layer + ": unexpected " + n.getOpType() + " ('" + n.getName()
                            + "') between the " + what + " cache and the attention");
                }
                if (n.getInput(0).equals(t)) {
                    todo.addAll(n.getOutputList());
                }
            }
        }
        if (found == null) {
            throw new NoMatch("layer " + layer + ": the " + what + " cache feeds no MatMul");
        }
        return found;
    }

    /** From the attention-weighted values through transposes and reshapes to the output projection's MatMul. */
    private int[] outputProjection(String start, int layer) throws NoMatch {
        String t = start;
        for (int steps = 0; steps < 8; steps++) {
            List<Integer> next = consumers.getOrDefault(t, List.of()).stream()
                    .filter(i -> !graph.getNode(i).getOpType().equals("Shape")).toList();
            if (next.size() != 1) {
                throw new NoMatch("layer " + layer + ": the attention output has " + next.size() + " consumers");
            }
            NodeProto n = graph.getNode(next.get(0));
            String op = n.getOpType();
            if (op.startsWith("MatMul") && n.getInput(0).equals(t)) {
                return new int[]{next.get(0), 0};
            }
            if (!op.equals("Transpose") && !op.equals("Reshape") || !n.getInput(0).equals(t)) {
                throw new NoMatch("layer " + layer + ": unexpected " + op + " between the attention and its output"
                        + " projection");
            }
            t = n.getOutput(0);
        }
        throw new NoMatch("layer " + layer + ": no output projection after the attention");
    }

    /** The element type of the attention's inputs: the past key's. */
    private TensorProto.DataType computeType(String pastKey) throws NoMatch {
        for (ValueInfoProto v : graph.getInputList()) {
            if (v.getName().equals(pastKey)) {
                int t = v.getType().getTensorType().getElemType();
                if (t == TensorProto.DataType.FLOAT_VALUE || t == TensorProto.DataType.FLOAT16_VALUE) {
                    return TensorProto.DataType.forNumber(t);
                }
                throw new NoMatch("the KV cache is " + TensorProto.DataType.forNumber(t) + "; the fused kernel takes"
                        + " float or float16");
            }
        }
        throw new NoMatch("no graph input '" + pastKey + "'");
    }

    /**
     * The rotary inverse frequencies: the one constant of head_dim / 2 floats behind the first cos table (exported
     * models carry them, scaled as the model's rope_scaling says), else computed from rope_theta.
     */
    private float[] inverseFrequencies(String rotaryInput) throws NoMatch {
        int half = shape.headDim() / 2;
        if (rotaryInput != null) {
            ArrayDeque<String> todo = new ArrayDeque<>(List.of(rotaryInput));
            Set<String> seen = new HashSet<>();
            List<float[]> candidates = new ArrayList<>();
            while (!todo.isEmpty() && seen.size() < 64) {
                String t = todo.poll();
                if (!seen.add(t)) {
                    continue;
                }
                TensorProto c = constants.get(t);
                if (c != null) {
                    float[] v = floats(c);
                    if (v != null && v.length == half) {
                        candidates.add(v);
                    }
                    continue;
                }
                Integer idx = producer.get(t);
                if (idx != null) {
                    todo.addAll(graph.getNode(idx).getInputList());
                }
            }
            if (candidates.size() == 1) {
                return candidates.get(0);
            }
        }
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            inv[i] = (float) (1.0 / Math.pow(shape.ropeTheta(), (2.0 * i) / shape.headDim()));
        }
        return inv;
    }

    /** cos and sin of position x frequency, [maxPositions, half] each, in float32 as the exported graph computes. */
    static float[][] rotaryTables(float[] invFreq, int positions) {
        int half = invFreq.length;
        float[] cos = new float[positions * half];
        float[] sin = new float[positions * half];
        for (int p = 0; p < positions; p++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) p * invFreq[i];
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
        }
        return new float[][]{cos, sin};
    }

    private static float[] floats(TensorProto t) {
        if (t.getDataType() != TensorProto.DataType.FLOAT_VALUE || t.hasDataLocation()
                && t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            return null;
        }
        if (t.getFloatDataCount() > 0) {
            float[] out = new float[t.getFloatDataCount()];
            for (int i = 0; i < out.length; i++) {
                out[i] = t.getFloatData(i);
            }
            return out;
        }
        ByteBuffer raw = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[raw.remaining() / 4];
        raw.asFloatBuffer().get(out);
        return out;
    }

    private static TensorProto table(String name, float[] values, int half) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        b.flip();
        return TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE)
                .addDims(values.length / half).addDims(half).setRawData(ByteString.copyFrom(b)).build();
    }

    private static TensorProto longs(String name, long[] dims, long[] values) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT64_VALUE);
        for (long d : dims) {
            t.addDims(d);
        }
        for (long v : values) {
            t.addInt64Data(v);
        }
        return t.build();
    }

    private static NodeProto node(String op, List<String> in, List<String> out, String name, AttributeProto... attrs) {
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(in).addAllOutput(out);
        for (AttributeProto a : attrs) {
            n.addAttribute(a);
        }
        return n.build();
    }

    private static AttributeProto attrInt(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    /** The nodes the outputs depend on, in an order where every node follows its inputs' producers. */
    private static List<NodeProto> liveInOrder(List<NodeProto> nodes, List<ValueInfoProto> outputs) {
        Map<String, Integer> made = new HashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            for (String o : nodes.get(i).getOutputList()) {
                made.put(o, i);
            }
        }
        BitSet live = new BitSet();
        ArrayDeque<Integer> todo = new ArrayDeque<>();
        for (ValueInfoProto o : outputs) {
            Integer i = made.get(o.getName());
            if (i != null) {
                todo.add(i);
            }
        }
        while (!todo.isEmpty()) {
            int i = todo.poll();
            if (live.get(i)) {
                continue;
            }
            live.set(i);
            for (String in : nodes.get(i).getInputList()) {
                Integer p = made.get(in);
                if (p != null && !live.get(p)) {
                    todo.add(p);
                }
            }
        }
        // Depth-first post-order over live nodes, starting from the original order, keeps producers first.
        List<NodeProto> ordered = new ArrayList<>(live.cardinality());
        BitSet placed = new BitSet();
        for (int start = live.nextSetBit(0); start >= 0; start = live.nextSetBit(start + 1)) {
            ArrayDeque<int[]> stack = new ArrayDeque<>();
            stack.push(new int[]{start, 0});
            while (!stack.isEmpty()) {
                int[] top = stack.peek();
                if (placed.get(top[0])) {
                    stack.pop();
                    continue;
                }
                NodeProto n = nodes.get(top[0]);
                if (top[1] < n.getInputCount()) {
                    Integer p = made.get(n.getInput(top[1]++));
                    if (p != null && !placed.get(p)) {
                        stack.push(new int[]{p, 0});
                    }
                } else {
                    placed.set(top[0]);
                    ordered.add(n);
                    stack.pop();
                }
            }
        }
        return ordered;
    }
}
