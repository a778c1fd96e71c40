package dev.specula.benchmarks;

import dev.specula.core.model.ModelSequence;
import dev.specula.core.model.SequenceBatch;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.OnnxCausalLM;
import dev.specula.onnx.OnnxModelOptions;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * What one batched forward call of B rows x T tokens costs against B separate calls of T tokens (each row its own
 * {@link ModelSequence}), for the embedded pair: the per-call cost curve a batch scheduler trades off. Every call
 * appends T tokens to every row and rolls them back (so the context stays put and masked slots are compacted as
 * in speculative decoding). Batched and separate calls alternate within each round, and the report gives medians
 * over rounds, so load that drifts on a shared machine hits both sides alike: read the ratios, not the times.
 *
 * <pre>
 * java -cp benchmarks/target/specula-benchmarks.jar dev.specula.benchmarks.BatchCallCost [context] [rounds] [threads] [rows,...] [model,...]
 * </pre>
 */
public final class BatchCallCost {
    private static final int[] TOKENS = {1, 4};

    private BatchCallCost() {
    }

    public static void main(String[] args) {
        int context = args.length > 0 ? Integer.parseInt(args[0]) : 128;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 7;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        int[] rowCounts = args.length > 3 ? Arrays.stream(args[3].split(",")).mapToInt(Integer::parseInt).toArray()
                : new int[]{1, 4, 16};
        List<String> models = args.length > 4 ? List.of(args[4].split(",")) : List.of("target", "draft");
        System.out.printf(Locale.ROOT, "context %d tokens per row, %d rounds, %d intra-op threads; medians over rounds%n",
                context, rounds, threads);
        System.out.println("model   B  T  batched call us  B separate calls us  batched/separate  batched/first row");
        for (String name : models) {
            Path dir = name.equals("target") ? EmbeddedModels.target() : EmbeddedModels.draft();
            try (OnnxCausalLM model = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(threads))) {
                double unit = 0;
                for (int b : rowCounts) {
                    for (int t : TOKENS) {
                        double[] r = measure(model, b, t, context, rounds);
                        if (unit == 0) {
                            unit = r[0]; // the first configuration measured: B=1, T=1 by default
                        }
                        System.out.printf(Locale.ROOT, "%-6s %2d %2d  %15.0f  %19.0f  %16.2f  %17.2f%n", name, b, t,
                                r[0], r[1], r[2], r[0] / unit);
                    }
                }
            }
        }
    }

    /** {median batched call us, median B separate calls us, median per-round ratio batched / separate}. */
    private static double[] measure(OnnxCausalLM model, int rows, int tokens, int context, int rounds) {
        SplittableRandom random = new SplittableRandom(rows * 100L + tokens);
        int vocab = model.vocabSize();
        int calls = Math.max(4, 48 / rows);
        List<ModelSequence> separate = new ArrayList<>();
        try (SequenceBatch batch = model.newBatch(rows)) {
            int[] handles = new int[rows];
            List<int[]> fed = new ArrayList<>();
            for (int i = 0; i < rows; i++) {
                int[] prompt = random.ints(context, 0, vocab).toArray();
                ModelSequence joining = model.newSequence();
                joining.prefill(prompt, 0, context);
                handles[i] = batch.adopt(joining);
                ModelSequence alone = model.newSequence();
                separate.add(alone);
                alone.prefill(prompt, 0, context);
                fed.add(random.ints(tokens, 0, vocab).toArray());
            }
            double[] batched = new double[rounds];
            double[] apart = new double[rounds];
            double[] ratio = new double[rounds];
            for (int round = -1; round < rounds; round++) { // round -1 warms up
                long b = 0;
                long s = 0;
                for (int pass = 0; pass < 2; pass++) {
                    boolean batchedFirst = (round & 1) == 0;
                    if ((pass == 0) == batchedFirst) {
                        long t0 = System.nanoTime();
                        for (int c = 0; c < calls; c++) {
                            batch.append(handles, fed);
                            for (int h : handles) {
                                batch.rollback(h, context);
                            }
                        }
                        b = System.nanoTime() - t0;
                    } else {
                        long t0 = System.nanoTime();
                        for (int c = 0; c < calls; c++) {
                            for (int i = 0; i < rows; i++) {
                                separate.get(i).append(fed.get(i), 0, tokens);
                                separate.get(i).rollback(context);
                            }
                        }
                        s = System.nanoTime() - t0;
                    }
                }
                if (round >= 0) {
                    batched[round] = b / 1e3 / calls;
                    apart[round] = s / 1e3 / calls;
                    ratio[round] = (double) b / s;
                }
            }
            return new double[]{median(batched), median(apart), median(ratio)};
        } finally {
            separate.forEach(ModelSequence::close);
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
