package dev.specula.onnx;

import dev.specula.core.model.Logits;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Decides at load whether a row of a multi-token call gets the same logits as that token fed alone: the premise of
 * lossless greedy speculation, where a verify call scores the accepted token together with draft tokens.
 *
 * <p>Floating-point graphs differ only by summation order (measured: 3e-6 of the largest logit in fp32, 2.6e-4
 * with int4 MatMulNBits weights). Graphs quantized the way ONNX Runtime's {@code quantize_dynamic} does are
 * different: {@code DynamicQuantizeLinear} takes one scale and zero point over the whole activation tensor of the
 * call, so a row's rounding depends on the other rows (measured: 17.5% of the largest logit on a 1.5B-shaped
 * model), and greedy speculative output can differ from plain decoding. Two checks:
 * <ul>
 *   <li>static: a node of the graph (or of its subgraphs and functions) is an operator that quantizes activations
 *       per call ({@link #PER_CALL_OPS}), or a {@code MatMulNBits} that quantizes them to 8 bits per block
 *       ({@code accuracy_level} 4). Per block is per row, but the rounding amplifies summation-order differences
 *       (1e-7) into whole rounding steps: the embedded pair's 8-bit target, whose row probe reads 6e-7, gave other
 *       greedy tokens from token 42 of a code prompt in plain decoding than with any drafter;</li>
 *   <li>dynamic: after a shared prefix, {@value #ROWS} tokens appended in one call against the same tokens one per
 *       call, the largest difference relative to each row's largest |logit|.</li>
 * </ul>
 * Either makes the model row-variant. {@code tools/model-factory/row_invariant_quant.py rewrite} makes such a graph
 * quantize per row, which is row-invariant (integer matrix products are exact whatever the rows).
 */
public final class RowInvarianceProbe {
    /**
     * Largest row difference, relative to the row's largest |logit|, of a row-invariant float32 graph: 8x the
     * 2.6e-4 measured with int4 MatMulNBits weights, 90x below the 17.5% of per-call activation quantization.
     */
    static final double FLOAT_TOLERANCE = 2e-3;
    /** The same when KV cache or logits are float16/bfloat16: one float16 rounding is already 4.9e-4 relative. */
    static final double HALF_TOLERANCE = 2e-2;
    /** Tokens of the probe's multi-token call (a verify call of 4 draft tokens). */
    static final int ROWS = 5;
    /**
     * Operators that quantize activations with one scale per call: ONNX's {@code DynamicQuantizeLinear} and the
     * fusions ONNX Runtime makes of it ({@code DynamicQuantizeMatMul}, {@code DynamicQuantizeLSTM}).
     */
    static final List<String> PER_CALL_OPS = List.of("DynamicQuantizeLinear", "DynamicQuantizeMatMul",
            "DynamicQuantizeLSTM");
    /** The command that rewrites a graph to per-row activation quantization (named in the decision's reason). */
    static final String REWRITE_COMMAND = "python3 tools/model-factory/row_invariant_quant.py rewrite";
    /** The command that block-quantizes weights with float32 activations (named in the decision's reason). */
    static final String NBITS_COMMAND = "python3 tools/model-factory/quantize_nbits.py --accuracy-level 0";

    private RowInvarianceProbe() {
    }

    /**
     * Whether a model's rows are computed independently of the other rows of the call, and why.
     *
     * @param rowInvariant  false where greedy speculative output may differ from plain decoding at near-ties
     * @param maxDifference the probe's largest row difference relative to that row's largest |logit|
     * @param reason        e.g. "row probe: max difference 3.1e-07 of the row's max |logit|, tolerance 2e-03"
     */
    public record Decision(boolean rowInvariant, double maxDifference, String reason) {
        @Override
        public String toString() {
            return (rowInvariant ? "row-invariant" : "row-variant") + " (" + reason + ")";
        }
    }

    static Decision decide(OnnxCausalLM model) {
        GraphOpTypes.Scan scan = GraphOpTypes.scan(model.files().graph());
        List<String> ops = perCallQuantization(scan.opTypes());
        ModelSignature sig = model.signature();
        double tolerance = sig.kvType() == ai.onnxruntime.OnnxJavaType.FLOAT
                && sig.logitsType() == ai.onnxruntime.OnnxJavaType.FLOAT ? FLOAT_TOLERANCE : HALF_TOLERANCE;
        double difference = rowDifference(model);
        boolean invariant = difference <= tolerance && ops.isEmpty();
        String probe = String.format(Locale.ROOT, "row probe: max difference %.2e of the row's max |logit|"
                + " (%d tokens in one call vs one per call), tolerance %.0e", difference, ROWS, tolerance);
        if (ops.isEmpty() && !scan.int8Activations().isEmpty()) {
            return new Decision(false, difference, scan.int8Activations().size() + " MatMulNBits nodes (e.g. "
                    + scan.int8Activations().iterator().next() + ") quantize their activations to 8 bits per block"
                    + " (accuracy_level 4): a float difference in summation order between call shapes can move an"
                    + " activation across a rounding step, so a verify call's row can differ from the same token"
                    + " alone by far more than the probe's tolerance; quantize with `" + NBITS_COMMAND + "` for"
                    + " float32 activations; " + probe);
        }
        if (ops.isEmpty()) {
            return new Decision(invariant, difference, probe);
        }
        return new Decision(false, difference, "the graph quantizes activations per call (" + String.join(", ", ops)
                + "), so a row's scale depends on the other rows of the call (a verify call's draft tokens, other"
                + " sequences batched with it); make it per row with `" + REWRITE_COMMAND + " "
                + model.files().graph().getFileName() + " model-rowwise.onnx`; " + probe);
    }

    /**
     * The largest difference between a row of one {@value #ROWS}-token call and the same token appended alone,
     * relative to that row's largest |logit| (infinite where a logit is NaN).
     */
    static double rowDifference(OnnxCausalLM model) {
        int vocab = model.vocabSize();
        int[] prefix = probeTokens(vocab, 6, 5);
        int[] tokens = probeTokens(vocab, ROWS, 6);
        double worst = 0;
        try (OnnxSequence together = model.newSequence(model.maskedRollback());
             OnnxSequence alone = model.newSequence(model.maskedRollback())) {
            together.prefill(prefix, 0, prefix.length);
            alone.prefill(prefix, 0, prefix.length);
            Logits rows = together.append(tokens, 0, tokens.length);
            float[] a = new float[vocab];
            float[] b = new float[vocab];
            for (int r = 0; r < tokens.length; r++) {
                rows.copyRow(r, a);
                alone.append(tokens, r, 1).copyRow(0, b);
                double diff = 0;
                double scale = 0;
                for (int t = 0; t < vocab; t++) {
                    double d = Math.abs((double) a[t] - b[t]);
                    diff = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(diff, d);
                    scale = Math.max(scale, Math.abs(b[t]));
                }
                double relative = diff == 0 ? 0 : scale > 0 ? diff / scale : Double.POSITIVE_INFINITY;
                worst = Math.max(worst, relative);
            }
        }
        return worst;
    }

    /**
     * The per-call quantization operators among the graph's node types (its subgraphs and functions included), read
     * from the protobuf structure with the weights skipped ({@link GraphOpTypes}): bounded by the graph's size,
     * not the file's, and a weight whose bytes happen to spell an operator name does not count.
     */
    static List<String> perCallQuantization(Path graph) {
        return perCallQuantization(GraphOpTypes.read(graph));
    }

    private static List<String> perCallQuantization(Set<String> types) {
        List<String> ops = new ArrayList<>();
        for (String op : PER_CALL_OPS) {
            if (types.contains(op)) {
                ops.add(op);
            }
        }
        return ops;
    }

    /** Deterministic ids spread over the vocabulary, so every load probes alike. */
    private static int[] probeTokens(int vocab, int n, int stream) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = (int) ((7919L * (i + 1) + 104729L * stream) % vocab);
        }
        return t;
    }
}
