package dev.specula.cli.bench;

import dev.specula.core.decode.GenerationResult;
import dev.specula.core.decode.SpeculativeDecoder;
import dev.specula.core.draft.Drafter;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.draft.CompositeDrafter;
import dev.specula.draft.ModelDrafter;
import dev.specula.draft.NGramCacheDrafter;
import dev.specula.draft.PromptLookupDrafter;
import dev.specula.onnx.HfTokenizer;
import dev.specula.onnx.OnnxCausalLM;
import dev.specula.verifier.ParallelVerifier;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Runs every configuration of every workload, interleaved: within each repeat, every prompt is decoded by every
 * configuration back to back, in an order rotated per prompt and repeat (A B C, B C A, ...), after a warm-up,
 * with the same prompts and seeds for all. Single-threaded, so the ONNX Runtime time of a generation is exact.
 */
public final class BenchRunner {
    private final OnnxCausalLM target;
    private final OnnxCausalLM draft;
    private final HfTokenizer tokenizer;
    private final ParallelVerifier verifier = new ParallelVerifier();
    private final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    public BenchRunner(OnnxCausalLM target, OnnxCausalLM draft, HfTokenizer tokenizer) {
        this.target = target;
        this.draft = draft;
        this.tokenizer = tokenizer;
    }

    /** Fresh drafters: an n-gram cache starts empty and learns across the prompts of one configuration's repeat. */
    private Map<String, Drafter> drafters() {
        Map<String, Drafter> d = new HashMap<>();
        PromptLookupDrafter lookup = new PromptLookupDrafter();
        NGramCacheDrafter cache = new NGramCacheDrafter();
        d.put("prompt-lookup", lookup);
        d.put("ngram-cache", cache);
        if (draft != null) {
            ModelDrafter model = new ModelDrafter(draft);
            d.put("model", model);
            d.put("composite", new CompositeDrafter(List.of(lookup, cache, model)));
        } else {
            d.put("composite", new CompositeDrafter(List.of(lookup, cache)));
        }
        return d;
    }

    private SpeculativeDecoder decoder(BenchConfig c, Map<String, Drafter> drafters) {
        SpeculativeDecoder.Builder b = SpeculativeDecoder.builder().target(target).verifier(verifier)
                .endOfSequence(target.config().eosTokenIds());
        if (c.isPlain()) {
            return b.build();
        }
        Drafter d = drafters.get(c.drafter());
        if (d == null) {
            throw new IllegalArgumentException("configuration " + c.name() + " needs a draft model");
        }
        return b.drafter(d).scheduling(c.scheduling()).build();
    }

    public List<Measurement> run(List<Workload> workloads, Map<String, List<BenchConfig>> configs, int repeats,
                                 Consumer<String> progress) {
        List<Measurement> out = new ArrayList<>();
        for (Workload w : workloads) {
            List<BenchConfig> cs = configs.get(w.name());
            List<int[]> prompts = w.prompts().stream().map(tokenizer::encode).toList();
            // Warm-up: every configuration once on a short run (JIT, ONNX Runtime's first calls).
            Map<String, Drafter> warm = drafters();
            SamplingParams shortRun = w.params().toBuilder().maxNewTokens(Math.min(16, w.params().maxNewTokens())).build();
            for (BenchConfig c : cs) {
                decoder(c, warm).generate(prompts.get(0), shortRun);
            }
            for (int r = 0; r < repeats; r++) {
                // Each configuration its own drafters: a cache shared between configurations would hand one
                // the answer another just generated for the same prompt.
                Map<String, SpeculativeDecoder> decoders = new HashMap<>();
                for (BenchConfig c : cs) {
                    decoders.put(c.name(), decoder(c, drafters()));
                }
                for (int p = 0; p < prompts.size(); p++) {
                    SamplingParams params = w.params().toBuilder().seed(1000L * p + 17).build();
                    for (int i = 0; i < cs.size(); i++) {
                        BenchConfig c = cs.get((i + p + r) % cs.size());
                        out.add(measure(w, c, decoders.get(c.name()), r, p, prompts.get(p), params));
                    }
                }
                progress.accept(String.format("%s: repeat %d/%d done", w.name(), r + 1, repeats));
            }
        }
        return out;
    }

    private Measurement measure(Workload w, BenchConfig c, SpeculativeDecoder decoder, int repeat, int prompt,
                                int[] ids, SamplingParams params) {
        long ort = runtimeNanos();
        long bytes = threads.getCurrentThreadAllocatedBytes();
        GenerationResult r = decoder.generate(ids, params);
        return new Measurement(w.name(), c.name(), repeat, prompt, r.tokens(), r.metrics(), runtimeNanos() - ort,
                threads.getCurrentThreadAllocatedBytes() - bytes);
    }

    private long runtimeNanos() {
        return target.runNanos() + (draft == null ? 0 : draft.runNanos());
    }
}
