package dev.specula.benchmarks;

import dev.specula.core.model.ModelSequence;
import dev.specula.onnx.OnnxCausalLM;
import dev.specula.onnx.OnnxModelOptions;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Prefill time by chunk size, A/B in one process over one session: each round prefills the same prompt once per
 * chunk size (order rotated per round), calls of at most {@code chunk} tokens without logits and then the last token
 * with its logits, as {@code appendLast} does; prints the median per size and its ratio to the first size, with every
 * round's ratio (the machine's drift shows there).
 *
 * <pre>
 * java -cp benchmarks/target/specula-benchmarks.jar dev.specula.benchmarks.PrefillChunkCost DIR 4096 7 256 128 64
 * </pre>
 * Arguments: model directory, prompt tokens, rounds, then the chunk sizes (the first is the reference).
 */
public final class PrefillChunkCost {
    private PrefillChunkCost() {
    }

    public static void main(String[] args) {
        if (args.length < 4) {
            throw new IllegalArgumentException("usage: PrefillChunkCost MODEL_DIR PROMPT_TOKENS ROUNDS CHUNK [CHUNK...]");
        }
        Path dir = Path.of(args[0]);
        int promptTokens = Integer.parseInt(args[1]);
        int rounds = Integer.parseInt(args[2]);
        int[] chunks = Arrays.stream(args, 3, args.length).mapToInt(Integer::parseInt).toArray();
        int widest = Arrays.stream(chunks).max().orElseThrow();
        try (OnnxCausalLM model = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(2).withPrefillChunkTokens(widest))) {
            System.out.println(model.description());
            int[] prompt = new SplittableRandom(1).ints(promptTokens, 0, model.vocabSize()).toArray();
            prefill(model, prompt, chunks[0]); // warm-up, not recorded
            double[][] seconds = new double[chunks.length][rounds];
            for (int r = 0; r < rounds; r++) {
                for (int j = 0; j < chunks.length; j++) {
                    int i = (j + r) % chunks.length;
                    seconds[i][r] = prefill(model, prompt, chunks[i]);
                }
            }
            double reference = median(seconds[0]);
            for (int i = 0; i < chunks.length; i++) {
                StringBuilder perRound = new StringBuilder();
                for (int r = 0; r < rounds; r++) {
                    perRound.append(String.format(" %.2f", seconds[i][r] / seconds[0][r]));
                }
                System.out.printf("chunk %5d: median prefill %.2f s = %.3f x chunk %d; per round:%s%n", chunks[i],
                        median(seconds[i]), median(seconds[i]) / reference, chunks[0], perRound);
            }
        }
    }

    private static double prefill(OnnxCausalLM model, int[] prompt, int chunk) {
        try (ModelSequence seq = model.newSequence()) {
            long t0 = System.nanoTime();
            int body = prompt.length - 1;
            for (int done = 0; done < body; done += chunk) {
                seq.prefill(prompt, done, Math.min(chunk, body - done));
            }
            seq.append(prompt, body, 1);
            return (System.nanoTime() - t0) / 1e9;
        }
    }

    private static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
