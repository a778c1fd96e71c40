package dev.specula.benchmarks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.specula.core.model.ModelSequence;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.OnnxCausalLM;
import dev.specula.onnx.OnnxModelOptions;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Peak resident memory of one long-prompt prefill ({@code appendLast}, as generation calls it), against what a bounded
 * prefill should need (Linux only: reads {@code /proc/self/status} and {@code /proc/self/statm}, and resets the peak
 * through {@code /proc/self/clear_refs}).
 *
 * <p>The bound is issue 13's: weights + KV cache + one chunk, above the runtime's own baseline.
 * <ul>
 *     <li>weights: the sizes of the weight files;</li>
 *     <li>KV cache: 2 x layers x kv heads x head size x prompt tokens x the KV type's bytes;</li>
 *     <li>one chunk: the chunk's logits, chunk x vocabulary x 4 bytes, the one activation of a chunked call that
 *     grows with the vocabulary;</li>
 *     <li>baseline, printed two ways: "cold" is the JVM with ONNX Runtime's library loaded and no session yet; "warm"
 *     is the same process after a session of the embedded 0.9M-parameter draft was created, ran a 300-token prefill
 *     and was closed (the runtime's one-time costs: code pages, thread stacks and malloc arenas, JIT).</li>
 * </ul>
 * The other activations of a chunked call are printed beside it, not in the bound: the call's second KV cache
 * ({@code present = Concat(past, new)} is written while {@code past} is still an input) and one
 * [heads x chunk x context] float tensor of attention scores (an unfused attention holds one or two of them per
 * layer at a time).
 *
 * <p>A background thread samples the resident set every 0.2 ms to split the peak into anonymous memory (ONNX Runtime's
 * arena, pre-packed weights, the JVM) and file-backed pages (memory-mapped weights and libraries).
 *
 * <pre>
 * java -Xmx256m -cp benchmarks/target/specula-benchmarks.jar dev.specula.benchmarks.PrefillMemory DIR 4096 256
 * </pre>
 * Arguments: model directory, prompt tokens, then the chunk sizes to measure (each in turn, same process; run one
 * per process for numbers that no earlier session's freed memory can lower).
 */
public final class PrefillMemory {
    private static final Pattern SHAPE = Pattern.compile("(\\d+) layers, (\\d+) kv heads x (\\d+), (\\w+) KV");

    private PrefillMemory() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            throw new IllegalArgumentException("usage: PrefillMemory MODEL_DIR PROMPT_TOKENS CHUNK [CHUNK...]");
        }
        ai.onnxruntime.OrtEnvironment.getEnvironment(); // the native library counts as baseline, not as the model
        System.gc();
        long cold = status("VmRSS");
        try (OnnxCausalLM warm = OnnxCausalLM.load(EmbeddedModels.draft(), OnnxModelOptions.cpu(2));
             ModelSequence seq = warm.newSequence()) {
            seq.appendLast(new SplittableRandom(2).ints(300, 0, warm.vocabSize()).toArray(), 0, 300);
        }
        System.gc();
        long warmBase = status("VmRSS");
        Path dir = Path.of(args[0]);
        int promptTokens = Integer.parseInt(args[1]);
        int heads = attentionHeads(dir);
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
                Sampler sampler = new Sampler();
                Thread thread = new Thread(sampler, "rss-sampler");
                thread.setDaemon(true);
                thread.start();
                long t0 = System.nanoTime();
                try (ModelSequence seq = model.newSequence()) {
                    seq.appendLast(prompt, 0, prompt.length);
                    double seconds = (System.nanoTime() - t0) / 1e9;
                    sampler.stop = true;
                    thread.join();
                    long peak = status("VmHWM");
                    long kv = kvBytes(model, promptTokens);
                    long logits = (long) Math.min(chunk, promptTokens) * model.vocabSize() * 4;
                    long scores = (long) heads * Math.min(chunk, promptTokens) * promptTokens * 4;
                    long coldBound = cold + weights + kv + logits;
                    long warmBound = warmBase + weights + kv + logits;
                    System.out.printf("chunk %5d: prefill %.1f s; RSS after load %d MiB; peak %d MiB (sampled: %d MiB"
                                    + " anonymous + %d MiB file-backed)%n", chunk, seconds, mib(afterLoad), mib(peak),
                            mib(sampler.anonAtPeak), mib(sampler.fileAtPeak));
                    System.out.printf("  bound = weight files %d + KV %d + one chunk of logits %d MiB + baseline:"
                                    + " cold %d MiB -> %d MiB, peak %.3f x; warm %d MiB -> %d MiB, peak %.3f x%n",
                            mib(weights), mib(kv), mib(logits), mib(cold), mib(coldBound), (double) peak / coldBound,
                            mib(warmBase), mib(warmBound), (double) peak / warmBound);
                    System.out.printf("  not in the bound: the call's second KV %d MiB, one attention-score tensor"
                            + " [%d heads x %d x %d] %d MiB%n", mib(kv), heads, Math.min(chunk, promptTokens),
                            promptTokens, mib(scores));
                }
            }
        }
    }

    private static long mib(long bytes) {
        return bytes >> 20;
    }

    /** {@code num_attention_heads} of the model's config.json (nested {@code text_config} first); 0 if absent. */
    private static int attentionHeads(Path dir) throws IOException {
        Path config = Files.isDirectory(dir) ? dir.resolve("config.json") : dir.resolveSibling("config.json");
        JsonNode root = new ObjectMapper().readTree(config.toFile());
        JsonNode text = root.path("text_config");
        JsonNode heads = text.has("num_attention_heads") ? text.get("num_attention_heads") : root.path("num_attention_heads");
        return heads.asInt(0);
    }

    private static long kvBytes(OnnxCausalLM model, int tokens) {
        // The description's "N layers, H kv heads x D, TYPE KV": the signature the runner discovered from the graph.
        Matcher m = SHAPE.matcher(model.description());
        if (!m.find()) {
            throw new IllegalStateException("cannot read the KV shape from " + model.description());
        }
        int bytes = m.group(4).equals("FLOAT") ? 4 : 2;
        return 2L * Integer.parseInt(m.group(1)) * Integer.parseInt(m.group(2)) * Integer.parseInt(m.group(3)) * tokens
                * bytes;
    }

    private static long status(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no " + field + " in /proc/self/status (Linux only)");
    }

    /**
     * Samples {@code /proc/self/statm} (resident and file-backed pages) without allocating, keeping the split at the
     * highest resident set seen.
     */
    private static final class Sampler implements Runnable {
        private static final long PAGE = 4096;
        volatile boolean stop;
        long anonAtPeak;
        long fileAtPeak;
        private final byte[] buffer = new byte[128];
        private final long[] fields = new long[3];

        @Override
        public void run() {
            try (RandomAccessFile statm = new RandomAccessFile("/proc/self/statm", "r")) {
                long max = 0;
                while (!stop) {
                    read(statm);
                    long resident = fields[1] * PAGE;
                    long file = fields[2] * PAGE;
                    if (resident > max) {
                        max = resident;
                        anonAtPeak = resident - file;
                        fileAtPeak = file;
                    }
                    Thread.sleep(0, 200_000);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** statm's first three numbers: size, resident, shared (file-backed), in pages. */
        private void read(RandomAccessFile statm) throws IOException {
            statm.seek(0);
            int n = statm.read(buffer);
            int field = 0;
            long value = 0;
            for (int i = 0; i < n && field < 3; i++) {
                byte b = buffer[i];
                if (b >= '0' && b <= '9') {
                    value = value * 10 + (b - '0');
                } else {
                    fields[field++] = value;
                    value = 0;
                }
            }
        }
    }
}
