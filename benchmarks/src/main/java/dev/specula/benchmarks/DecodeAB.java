package dev.specula.benchmarks;

import dev.specula.Completion;
import dev.specula.GenerationRequest;
import dev.specula.Specula;
import dev.specula.core.decode.GenerationMetrics;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.Scheduling;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.OnnxModelOptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Decode speed of engine configurations A/B in ONE process, interleaved: every configuration is loaded once, then
 * each repeat runs every prompt through every configuration (the order rotated per repeat), so a load change on a
 * shared machine hits all configurations alike. Reports per configuration the median over repeats of the pooled
 * decode rate (all prompts' generated tokens over their decode time, prefill excluded, as {@code compare.py}
 * counts it), its ratio to the first configuration (of the medians, and the median of the per-repeat ratios), and
 * whether every greedy output equals the first
 * configuration's on the same prompt.
 *
 * <pre>
 * java -cp benchmarks/target/specula-benchmarks.jar dev.specula.benchmarks.DecodeAB --repeats 7 \
 *     plain-2t=draft:none,t:2 plain-1t=draft:none,t:1 spec-2t-d1=draft:model,t:2,dt:1 spec-1t-d1=draft:model,t:1,dt:1
 * </pre>
 *
 * A configuration is {@code NAME=key:value,...}: {@code draft} ({@code none}, {@code model}, {@code lookup},
 * {@code ngram}: a cross-request n-gram cache), {@code t} (target
 * intra-op threads), {@code dt} (draft threads), {@code spin} / {@code dspin} (1: spinning while a call runs),
 * {@code pin} (0: present KV allocated by ONNX Runtime per call, for target and draft; default 1), {@code fuse} (0: the
 * graphs' attention as exported, for target and draft; default 1: fused into GroupQueryAttention), {@code k} (the
 * draft length: {@code auto}, the default, {@code heuristic} or a number).
 * Options: {@code --target DIR --draft DIR} (default: the embedded pair), {@code --tokens N} (128),
 * {@code --repeats N} (5), {@code --prompt-file FILE} (repeatable; default: three code prompts).
 */
public final class DecodeAB {
    private static final List<String> DEFAULT_PROMPTS = List.of(
            "import os\n\n\ndef read_lines(path):",
            "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
            "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):");

    private record Config(String name, String draft, int threads, int draftThreads, boolean spin, boolean draftSpin,
                          boolean pin, boolean fuse, String schedule) {
        static Config parse(String spec) {
            int eq = spec.indexOf('=');
            if (eq < 1) {
                throw new IllegalArgumentException("configuration must be NAME=key:value,..., got '" + spec + "'");
            }
            Map<String, String> kv = new LinkedHashMap<>();
            for (String part : spec.substring(eq + 1).split(",")) {
                String[] p = part.split(":", 2);
                if (p.length != 2) {
                    throw new IllegalArgumentException("expected key:value in '" + spec + "', got '" + part + "'");
                }
                kv.put(p[0], p[1]);
            }
            for (String key : kv.keySet()) {
                if (!List.of("draft", "t", "dt", "spin", "dspin", "pin", "fuse", "k").contains(key)) {
                    throw new IllegalArgumentException("unknown key '" + key + "' in '" + spec
                            + "', expected draft, t, dt, spin, dspin, pin, fuse or k");
                }
            }
            String draft = kv.getOrDefault("draft", "none");
            if (!List.of("none", "model", "lookup", "ngram").contains(draft)) {
                throw new IllegalArgumentException("draft must be none, model, lookup or ngram, got '" + draft + "'");
            }
            int t = Integer.parseInt(kv.getOrDefault("t", "2"));
            return new Config(spec.substring(0, eq), draft, t,
                    Integer.parseInt(kv.getOrDefault("dt", "1")), "1".equals(kv.get("spin")),
                    "1".equals(kv.get("dspin")), !"0".equals(kv.get("pin")), !"0".equals(kv.get("fuse")),
                    kv.getOrDefault("k", "auto"));
        }

        Specula open(Path target, Path draftDir) {
            OnnxModelOptions to = OnnxModelOptions.cpu(threads).withSpinning(spin).withPinnedKv(pin)
                    .withFusedAttention(fuse);
            Specula.Builder b = Specula.builder().target(target).batching(false).targetOptions(to);
            if (draft.equals("lookup")) {
                b.promptLookup();
            } else if (draft.equals("ngram")) {
                b.ngramCache();
            }
            if (draft.equals("model")) {
                b.draftModel(draftDir).draftOptions(OnnxModelOptions.cpu(draftThreads).withSpinning(draftSpin)
                        .withPinnedKv(pin).withFusedAttention(fuse));
            }
            if (!draft.equals("none") && !schedule.equals("auto")) { // auto: the facade's default
                b.scheduling(schedule.equals("heuristic") ? Scheduling.heuristic()
                        : Scheduling.fixed(Integer.parseInt(schedule)));
            }
            return b.build();
        }
    }

    private DecodeAB() {
    }

    public static void main(String[] args) throws IOException {
        Path target = EmbeddedModels.target();
        Path draft = EmbeddedModels.draft();
        int tokens = 128;
        int repeats = 5;
        List<String> prompts = new ArrayList<>();
        List<Config> configs = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--target" -> target = Path.of(args[++i]);
                case "--draft" -> draft = Path.of(args[++i]);
                case "--tokens" -> tokens = Integer.parseInt(args[++i]);
                case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                case "--prompt-file" -> prompts.add(Files.readString(Path.of(args[++i]), StandardCharsets.UTF_8));
                default -> configs.add(Config.parse(args[i]));
            }
        }
        if (configs.isEmpty()) {
            configs = List.of(Config.parse("plain=draft:none,t:2"), Config.parse("model-draft=draft:model,t:2,dt:1"));
        }
        if (prompts.isEmpty()) {
            prompts = DEFAULT_PROMPTS;
        }
        SamplingParams greedy = SamplingParams.greedy(tokens);
        List<Specula> engines = new ArrayList<>();
        try {
            for (Config c : configs) {
                engines.add(c.open(target, draft));
            }
            int[][] reference = new int[prompts.size()][];
            boolean[] identical = new boolean[configs.size()];
            Arrays.fill(identical, true);
            for (int c = 0; c < configs.size(); c++) { // warm-up, and the reference outputs of the first configuration
                for (int p = 0; p < prompts.size(); p++) {
                    int[] ids = engines.get(c).generate(GenerationRequest.builder(prompts.get(p)).params(greedy).build())
                            .tokenIds();
                    if (c == 0) {
                        reference[p] = ids;
                    } else {
                        identical[c] &= Arrays.equals(reference[p], ids);
                    }
                }
            }
            double[][] rate = new double[configs.size()][repeats];
            for (int r = 0; r < repeats; r++) {
                for (int j = 0; j < configs.size(); j++) {
                    int c = (j + r) % configs.size();
                    long decodeNanos = 0;
                    long generated = 0;
                    for (int p = 0; p < prompts.size(); p++) {
                        Completion done = engines.get(c).generate(
                                GenerationRequest.builder(prompts.get(p)).params(greedy).build());
                        GenerationMetrics m = done.metrics();
                        decodeNanos += m.totalNanos() - m.prefillNanos();
                        generated += m.generatedTokens();
                        identical[c] &= Arrays.equals(reference[p], done.tokenIds());
                    }
                    rate[c][r] = generated / (decodeNanos / 1e9);
                }
            }
            double base = median(rate[0]);
            double[][] paired = new double[configs.size()][repeats];
            for (int c = 0; c < configs.size(); c++) {
                for (int r = 0; r < repeats; r++) {
                    paired[c][r] = rate[c][r] / rate[0][r];
                }
            }
            System.out.printf(Locale.ROOT, "%d prompts x %d tokens, %d repeats, greedy; load average %.1f%n",
                    prompts.size(), tokens, repeats,
                    java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
            for (int c = 0; c < configs.size(); c++) {
                double[] sorted = rate[c].clone();
                Arrays.sort(sorted);
                System.out.printf(Locale.ROOT, "%-16s %8.1f tokens/s  x%.3f  paired x%.3f  (min %.1f, max %.1f)  identical to %s: %s%n",
                        configs.get(c).name(), median(rate[c]), median(rate[c]) / base, median(paired[c]), sorted[0],
                        sorted[sorted.length - 1], configs.get(0).name(), identical[c]);
            }
        } finally {
            for (Specula s : engines) {
                s.close();
            }
        }
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }
}
