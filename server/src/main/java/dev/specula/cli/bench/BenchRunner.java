package dev.specula.cli.bench;

import dev.specula.core.decode.GenerationResult;
import dev.specula.core.decode.SpeculativeDecoder;
import dev.specula.core.draft.Drafter;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.Calibrator;
import dev.specula.core.schedule.CostCalibration;
import dev.specula.core.schedule.Scheduling;
import dev.specula.draft.CompositeDrafter;
import dev.specula.draft.ModelDrafter;
import dev.specula.draft.NGramCacheDrafter;
import dev.specula.draft.PromptLookupDrafter;
import dev.specula.onnx.HfTokenizer;
import dev.specula.onnx.OnnxCausalLM;
import dev.specula.verifier.ParallelVerifier;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Runs every configuration of every workload, interleaved: within each repeat, every prompt is decoded by every
 * configuration back to back, in an order rotated per prompt and repeat (A B C, B C A, ...), after a warm-up,
 * with the same prompts and seeds for all. Single-threaded, so the ONNX Runtime time of a generation is exact.
 *
 * <p>Before each repeat of a workload's timed runs and after the last, a {@link Calibrator} pass measures the pair's
 * costs at the workload's mean context length (prompt plus half the new tokens) and prefill at its mean prompt length
 * (a pass is taken again, up to three times in all, while its own noise is over 10%); the passes are pooled
 * ({@link CostCalibration#pooled}), so the calibration covers the period of the timed runs: the calibrated bound is
 * computed from it and the runs' step counts; with a calibration budget, a pilot calibration first sizes the passes
 * ({@link CalibrationPlanner}). Adaptive configurations are made ready for the pair as a user's
 * {@code Specula} makes them ({@link Scheduling#forModels}: a quick calibration at load).
 */
public final class BenchRunner {
    private final OnnxCausalLM target;
    private final OnnxCausalLM draft;
    private final HfTokenizer tokenizer;
    private final ParallelVerifier verifier = new ParallelVerifier();
    private final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private final Duration calibrationBudget;

    /** Calibrations per workload at most: the first, and retakes while the noise is over {@link #CALIBRATION_NOISE}. */
    static final int CALIBRATION_ATTEMPTS = 3;
    /** The relative standard error of a median above which a calibration is taken again (quiet runs: 2-3%). */
    static final double CALIBRATION_NOISE = 0.10;

    /** A runner whose calibrations take the full plan ({@link Calibrator.Plan#full}) whatever it costs. */
    public BenchRunner(OnnxCausalLM target, OnnxCausalLM draft, HfTokenizer tokenizer) {
        this(target, draft, tokenizer, Duration.ZERO);
    }

    /**
     * @param calibrationBudget how long each workload's calibration may take ({@link CalibrationPlanner}); zero for
     *                          the full plan whatever it costs
     */
    public BenchRunner(OnnxCausalLM target, OnnxCausalLM draft, HfTokenizer tokenizer, Duration calibrationBudget) {
        if (calibrationBudget.isNegative()) {
            throw new IllegalArgumentException("calibrationBudget must be >= 0, got " + calibrationBudget);
        }
        this.target = target;
        this.draft = draft;
        this.tokenizer = tokenizer;
        this.calibrationBudget = calibrationBudget;
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

    /** Every measured generation, and each workload's calibration. */
    public record Results(List<Measurement> measurements, Map<String, CostCalibration> calibrations) {
    }

    public Results run(List<Workload> workloads, Map<String, List<BenchConfig>> configs, int repeats,
                       Consumer<String> progress) {
        List<Measurement> out = new ArrayList<>();
        Map<String, CostCalibration> calibrations = new LinkedHashMap<>();
        for (Workload w : workloads) {
            List<int[]> prompts = w.prompts().stream().map(tokenizer::encode).toList();
            List<BenchConfig> cs = new ArrayList<>();
            for (BenchConfig c : configs.get(w.name())) {
                Scheduling s = c.isPlain() ? c.scheduling() : c.scheduling().forModels(target, usesDraftModel(c) ? draft : null);
                cs.add(new BenchConfig(c.drafter(), s, c.schedule()));
            }
            // Warm-up: every configuration once on a short run (JIT, ONNX Runtime's first calls).
            Map<String, Drafter> warm = drafters();
            SamplingParams shortRun = w.params().toBuilder().maxNewTokens(Math.min(16, w.params().maxNewTokens())).build();
            for (BenchConfig c : cs) {
                decoder(c, warm).generate(prompts.get(0), shortRun);
            }
            double meanPrompt = prompts.stream().mapToInt(p -> p.length).average().orElse(1);
            int context = (int) Math.round(meanPrompt + w.params().maxNewTokens() / 2.0);
            int prefill = (int) Math.max(1, Math.round(meanPrompt));
            Calibrator.Plan calibrationPlan = Calibrator.Plan.full(context, prefill);
            if (!calibrationBudget.isZero()) {
                CostCalibration pilot = Calibrator.calibrate(target, draft, CalibrationPlanner.pilot(context, prefill));
                // One pass before each repeat and one after the last share the budget.
                CalibrationPlanner.Choice choice = CalibrationPlanner.choose(pilot, context, prefill,
                        calibrationBudget.dividedBy(repeats + 1));
                progress.accept(w.name() + ": calibration " + choice.reason());
                calibrationPlan = choice.plan();
            }
            List<CostCalibration> passes = new ArrayList<>();
            for (int r = 0; r < repeats; r++) {
                CostCalibration pass = calibrate(w.name(), calibrationPlan, progress);
                passes.add(pass);
                progress.accept(w.name() + ": calibration pass " + passes.size() + ": " + pass);
                // Each configuration its own drafters: a cache shared between configurations would hand one
                // the answer another just generated for the same prompt.
                Map<String, SpeculativeDecoder> decoders = new HashMap<>();
                Map<String, StepLog> logs = new HashMap<>();
                for (BenchConfig c : cs) {
                    StepLog log = new StepLog(c.scheduling());
                    logs.put(c.name(), log);
                    decoders.put(c.name(), decoder(new BenchConfig(c.drafter(), log, c.schedule()), drafters()));
                }
                for (int p = 0; p < prompts.size(); p++) {
                    SamplingParams params = w.params().toBuilder().seed(1000L * p + 17).build();
                    for (int i = 0; i < cs.size(); i++) {
                        BenchConfig c = cs.get((i + p + r) % cs.size());
                        out.add(measure(w, c, decoders.get(c.name()), logs.get(c.name()), r, p, prompts.get(p), params));
                    }
                }
                progress.accept(String.format("%s: repeat %d/%d done", w.name(), r + 1, repeats));
            }
            passes.add(calibrate(w.name(), calibrationPlan, progress));
            CostCalibration calibration = CostCalibration.pooled(passes);
            calibrations.put(w.name(), calibration);
            progress.accept(w.name() + ": calibration pooled over " + passes.size() + " passes: " + calibration);
        }
        return new Results(out, calibrations);
    }

    /**
     * A calibration whose own noise says it was disturbed (a fresh process's JIT compiling on the cores the
     * intra-op threads use, another process) is taken again, up to {@value #CALIBRATION_ATTEMPTS} times in all; the
     * least noisy one is kept.
     */
    private CostCalibration calibrate(String workload, Calibrator.Plan plan, Consumer<String> progress) {
        CostCalibration best = Calibrator.calibrate(target, draft, plan);
        for (int attempt = 2; attempt <= CALIBRATION_ATTEMPTS && best.noise() > CALIBRATION_NOISE; attempt++) {
            progress.accept(String.format(java.util.Locale.ROOT, "%s: calibration noise %.1f%% over %.0f%%, measuring"
                    + " again (attempt %d of %d)", workload, 100 * best.noise(), 100 * CALIBRATION_NOISE, attempt,
                    CALIBRATION_ATTEMPTS));
            CostCalibration again = Calibrator.calibrate(target, draft, plan);
            if (again.noise() < best.noise()) {
                best = again;
            }
        }
        return best;
    }

    /** Whether a configuration drafts with the draft model (alone or in a composite). */
    public boolean usesDraftModel(BenchConfig c) {
        return draft != null && (c.drafter().equals("model") || c.drafter().equals("composite"));
    }

    private Measurement measure(Workload w, BenchConfig c, SpeculativeDecoder decoder, StepLog log, int repeat,
                                int prompt, int[] ids, SamplingParams params) {
        long ort = runtimeNanos();
        long bytes = threads.getCurrentThreadAllocatedBytes();
        log.take();
        GenerationResult r = decoder.generate(ids, params);
        return new Measurement(w.name(), c.name(), repeat, prompt, r.tokens(), r.metrics(), runtimeNanos() - ort,
                threads.getCurrentThreadAllocatedBytes() - bytes, c.isPlain() ? List.of() : log.take());
    }

    private long runtimeNanos() {
        return target.runNanos() + (draft == null ? 0 : draft.runNanos());
    }
}
