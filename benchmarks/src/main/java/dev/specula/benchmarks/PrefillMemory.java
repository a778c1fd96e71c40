package dev.specula.benchmarks;

import dev.specula.core.model.ModelSequence;
import dev.specula.onnx.OnnxCausalLM;
import dev.specula.onnx.OnnxModelOptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Peak resident memory of one long-prompt prefill (Linux only: reads {@code /proc/self/status} and resets the
 * peak through {@code /proc/self/clear_refs}). Prints, per prefill chunk size, the peak next to what a bounded
 * prefill should need: the JVM with ONNX Runtime's library before loading, the weight files, the KV cache and one chunk's logits. (Weights kept
 * as external data are memory-mapped, so the resident size right after load can be below their size: the prefill's
 * embedding lookups touch them.)
 *
 * <pre>
 * java -Xmx256m -cp benchmarks/target/specula-benchmarks.jar dev.specula.benchmarks.PrefillMemory DIR 4096 256 4096
 * </pre>
 * Arguments: model directory, prompt tokens, then the chunk sizes to measure (each in turn, same process).
 */
public final class PrefillMemory {
    private PrefillMemory() {
    }

    public static void main(String[] args) throws IOException {
        ai.onnxruntime.OrtEnvironment.getEnvironment(); // the native library counts as baseline, not as the model
        System.gc();
        long jvm = status("VmRSS");
        Path dir = Path.of(args[0]);
        int promptTokens = Integer.parseInt(args[1]);
        long weights = 0;
        for (int i = 2; i < args.length; i++) {
            int chunk = Integer.parseInt(args[i]);
            try (OnnxCausalLM model = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(2).withPrefillChunkTokens(chunk))) {
                if (weights == 0) {
                    for (Path f : model.files().weightFiles()) {
                        weights += Files.size(f);
                    }
                    System.out.println(model.description());
                }
                int[] prompt = new SplittableRandom(1).ints(promptTokens, 0, model.vocabSize()).toArray();
                System.gc();
                long afterLoad = status("VmRSS");
                Files.writeString(Path.of("/proc/self/clear_refs"), "5"); // reset VmHWM to the current RSS
                long t0 = System.nanoTime();
                try (ModelSequence seq = model.newSequence()) {
                    seq.appendLast(prompt, 0, prompt.length);
                    long peak = status("VmHWM");
                    long kvBytes = kvBytes(model, promptTokens);
                    long chunkLogits = (long) Math.min(chunk, promptTokens) * model.vocabSize() * 4;
                    long bound = jvm + weights + kvBytes + chunkLogits;
                    System.out.printf("chunk %5d: prefill %.1f s; RSS after load %d MiB; peak %d MiB = %.2f x (JVM + ONNX Runtime %d MiB"
                                    + " + weight files %d MiB + KV %d MiB + one chunk of logits %d MiB = %d MiB)%n",
                            chunk, (System.nanoTime() - t0) / 1e9, afterLoad >> 20, peak >> 20, (double) peak / bound,
                            jvm >> 20, weights >> 20, kvBytes >> 20, chunkLogits >> 20, bound >> 20);
                }
            }
        }
    }

    private static long kvBytes(OnnxCausalLM model, int tokens) {
        // The description's "N layers, H kv heads x D, TYPE KV" as numbers: read back from the public config is not
        // enough (head_dim), so parse the description the runner prints.
        String d = model.description();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+) layers, (\\d+) kv heads x (\\d+), (\\w+) KV")
                .matcher(d);
        if (!m.find()) {
            return 0;
        }
        int bytes = m.group(4).equals("FLOAT") ? 4 : 2;
        return 2L * Integer.parseInt(m.group(1)) * Integer.parseInt(m.group(2)) * Integer.parseInt(m.group(3)) * tokens * bytes;
    }

    private static long status(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no " + field + " in /proc/self/status (Linux only)");
    }
}
