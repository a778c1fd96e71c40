package dev.specula.onnx;

import ai.onnxruntime.OnnxJavaType;
import dev.specula.core.model.Logits;

/**
 * Decides at load whether a model may roll back by masking (O(1): rejected slots stay in the KV cache with
 * attention-mask 0, new tokens take positions from the logical length) or must compact its cache.
 *
 * <p>Masking is only sound when the graph applies the attention mask element-wise and takes positions from
 * {@code position_ids}. Input names do not prove that: attention kernels that derive a window from the mask's
 * length (ONNX Runtime's GroupQueryAttention), or sliding-window attention over physical slots, would attend to
 * stale slots. So the probe runs the graph: append tokens, roll back, append other tokens, roll back again and
 * append more, and compares those logits with a fresh sequence fed only the kept tokens.
 */
public final class RollbackProbe {
    /** Relative tolerance (of the largest logit) when KV cache and logits are float32. */
    static final double FLOAT_TOLERANCE = 1e-3;
    /** Relative tolerance when either is float16 or bfloat16 (8-11 bit mantissas; sums in a different order). */
    static final double HALF_TOLERANCE = 2e-2;

    private RollbackProbe() {
    }

    /**
     * How a model's sequences roll back.
     *
     * @param masked whether rollback is masked (O(1)); false: compaction
     * @param reason why, e.g. "parity probe: max |difference| 3.1e-07 of max |logit| 9.2"
     */
    public record Decision(boolean masked, String reason) {
        @Override
        public String toString() {
            return (masked ? "masked O(1)" : "compaction") + " (" + reason + ")";
        }
    }

    static Decision decide(OnnxCausalLM model) {
        ModelSignature sig = model.signature();
        if (model.fusedAttention()) {
            return new Decision(true, "in place: the fused attention writes each call's tokens after the kept ones");
        }
        return switch (model.options().rollback()) {
            case MASKED -> {
                if (!sig.supportsMaskedRollback()) {
                    throw new IllegalArgumentException("masked rollback was requested for " + model.name()
                            + " but its graph lacks " + (sig.hasAttentionMask() ? "position_ids" : "attention_mask")
                            + "; use RollbackMode.AUTO or COMPACT");
                }
                yield new Decision(true, "requested");
            }
            case COMPACT -> new Decision(false, "requested");
            case AUTO -> {
                if (!sig.hasAttentionMask() || !sig.hasPositionIds()) {
                    yield new Decision(false, "the graph has no " + (sig.hasAttentionMask() ? "position_ids" : "attention_mask")
                            + " input");
                }
                int window = model.config().slidingWindow();
                if (window > 0 && window < model.maxSequenceLength()) {
                    yield new Decision(false, "config.json sets sliding_window " + window);
                }
                double[] probe = parityError(model);
                double tolerance = tolerance(sig);
                boolean masked = probe[0] <= tolerance * Math.max(1, probe[1]);
                yield new Decision(masked, String.format(java.util.Locale.ROOT,
                        "parity probe: max |difference| %.2e of max |logit| %.3g, tolerance %.0e relative", probe[0],
                        probe[1], tolerance));
            }
        };
    }

    /**
     * Largest absolute logit difference between a masked-rollback sequence and a fresh one over the same kept
     * tokens, and the largest absolute logit of the fresh one: {@code {difference, scale}}.
     */
    static double[] parityError(OnnxCausalLM model) {
        int[] kept = probeTokens(model.vocabSize(), 8, 1);
        int[] rejected = probeTokens(model.vocabSize(), 5, 2);
        int[] other = probeTokens(model.vocabSize(), 4, 3);
        int[] more = probeTokens(model.vocabSize(), 3, 4);
        try (OnnxSequence rolled = model.newSequence(true); OnnxSequence fresh = model.newSequence(true)) {
            rolled.prefill(kept, 0, kept.length);
            rolled.prefill(rejected, 0, rejected.length);
            rolled.rollback(kept.length);
            float[][] rolledRows = rows(rolled.append(other, 0, other.length));
            rolled.rollback(kept.length + 2);
            float[][] rolledMore = rows(rolled.append(more, 0, more.length));

            int[] sequence = concat(kept, other);
            fresh.prefill(sequence, 0, kept.length);
            float[][] freshRows = rows(fresh.append(other, 0, other.length));
            fresh.rollback(0);
            int[] second = concat(concat(kept, java.util.Arrays.copyOf(other, 2)), more);
            fresh.prefill(second, 0, kept.length + 2);
            float[][] freshMore = rows(fresh.append(more, 0, more.length));
            double[] error = new double[2];
            accumulate(rolledRows, freshRows, error);
            accumulate(rolledMore, freshMore, error);
            return error;
        }
    }

    /** The relative tolerance for a model's logits: {@link #FLOAT_TOLERANCE}, or {@link #HALF_TOLERANCE}. */
    static double tolerance(ModelSignature sig) {
        return sig.kvType() == OnnxJavaType.FLOAT && sig.logitsType() == OnnxJavaType.FLOAT
                ? FLOAT_TOLERANCE : HALF_TOLERANCE;
    }

    /**
     * Folds rows into {@code error = {largest |actual - expected|, largest |expected|}}; a NaN counts as an infinite
     * difference.
     */
    static void accumulate(float[][] actual, float[][] expected, double[] error) {
        for (int r = 0; r < expected.length; r++) {
            for (int t = 0; t < expected[r].length; t++) {
                double d = Math.abs((double) actual[r][t] - expected[r][t]);
                error[0] = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(error[0], d);
                error[1] = Math.max(error[1], Math.abs(expected[r][t]));
            }
        }
    }

    private static float[][] rows(Logits logits) {
        float[][] out = new float[logits.rows()][logits.vocabSize()];
        for (int r = 0; r < out.length; r++) {
            logits.copyRow(r, out[r]);
        }
        return out;
    }

    /** Distinct-looking ids spread over the vocabulary (deterministic, so every load decides alike). */
    private static int[] probeTokens(int vocab, int n, int stream) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = (int) ((7919L * (i + 1) + 104729L * stream) % vocab);
        }
        return t;
    }

    private static int[] concat(int[] x, int[] y) {
        int[] out = java.util.Arrays.copyOf(x, x.length + y.length);
        System.arraycopy(y, 0, out, x.length, y.length);
        return out;
    }
}
