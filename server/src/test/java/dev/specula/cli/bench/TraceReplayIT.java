package dev.specula.cli.bench;

import dev.specula.core.StepOutcome;
import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.Proposal;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.sampling.SamplingTransform;
import dev.specula.core.schedule.Calibrator;
import dev.specula.core.schedule.CostCalibration;
import dev.specula.core.schedule.DraftPlan;
import dev.specula.core.schedule.DraftScheduler;
import dev.specula.core.schedule.FixedScheduler;
import dev.specula.core.schedule.Scheduling;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.HfTokenizer;
import dev.specula.onnx.OnnxCausalLM;
import dev.specula.onnx.OnnxModelOptions;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Schedulers replayed on the embedded pair's real greedy acceptance, with calibrated costs: for every position of
 * the target's greedy output on the code workload, the draft model's 16 greedy tokens and their confidences from
 * that prefix are recorded once; a scheduler's step then drafts (with its early stop) and is accepted exactly as the
 * real loop would, and is charged the calibration's costs. No clock enters a scheduler's decisions or its score,
 * so the comparison of policies is free of machine noise. The costs are fixed ({@link #MEASURED}), so the result does
 * not depend on the machine either, only on the pair's greedy outputs; the adaptive scheduler must reach 0.97 of the
 * better of the heuristic and the best fixed length in hindsight at the measured draft cost, half and three times it.
 */
class TraceReplayIT {
    static final int DRAFT = 16;
    static final String SOURCE = "model:draft";
    /**
     * The embedded pair's costs as the bench measured them on a 2-core EPYC VM (2 threads each, spinning; pooled over
     * 16 calibration passes at 96 tokens of context, 2026-12-02), so that replays compare policies at fixed prices;
     * {@code -Dtrace.replay.calibrate=true} measures this machine's instead.
     */
    static final CostCalibration MEASURED = measured();

    private static CostCalibration measured() {
        double[] ms = {1.505, 1.758, 1.863, 2.035, 2.165, 2.321, 2.664, 2.736, 2.841, 2.841, 2.862, 2.960, 3.301,
                3.308, 3.368, 3.538, 3.550};
        int[] positions = new int[ms.length];
        double[] nanos = new double[ms.length];
        for (int i = 0; i < ms.length; i++) {
            positions[i] = i + 1;
            nanos[i] = ms[i] * 1e6;
        }
        return new CostCalibration(96, positions, nanos, 0.337e6, 0.224e6, 0, Double.NaN, Double.NaN, 0.062, 0.011,
                144);
    }

    /** One prompt's trace: the greedy output, and per position the draft's greedy run and confidences. */
    record Trace(int[] output, int[][] drafts, float[][] confidences) {
        /** The first n tokens of the output (drafts from later prefixes are never consulted). */
        Trace truncated(int n) {
            return new Trace(java.util.Arrays.copyOf(output, Math.min(n, output.length)), drafts, confidences);
        }

        int acceptedRun(int t, int n) {
            int a = 0;
            while (a < n && t + a < output.length && drafts[t][a] == output[t + a]) {
                a++;
            }
            return a;
        }
    }

    static Trace trace(OnnxCausalLM target, OnnxCausalLM draft, int[] prompt, int tokens) {
        int[] out = new int[tokens];
        try (ModelSequence t = target.newSequence()) {
            if (prompt.length > 1) {
                t.prefill(prompt, 0, prompt.length - 1);
            }
            int last = prompt[prompt.length - 1];
            for (int i = 0; i < tokens; i++) {
                last = t.append(last).argmax(0);
                out[i] = last;
            }
        }
        int[][] drafts = new int[tokens][DRAFT];
        float[][] conf = new float[tokens][DRAFT];
        try (ModelSequence d = draft.newSequence()) {
            if (prompt.length > 1) {
                d.prefill(prompt, 0, prompt.length - 1);
            }
            int last = prompt[prompt.length - 1];
            for (int i = 0; i < tokens; i++) {
                int keep = d.length() + 1;
                int token = last;
                for (int j = 0; j < DRAFT; j++) {
                    Logits l = d.append(token);
                    conf[i][j] = (float) SamplingTransform.greedyConfidence(l, 0);
                    token = l.argmax(0);
                    drafts[i][j] = token;
                }
                d.rollback(keep);
                last = out[i];
            }
        }
        return new Trace(out, drafts, conf);
    }

    /** Tokens per calibrated second of one scheduler over the traces (one generation per trace, in order). */
    static double replay(Supplier<DraftScheduler> schedulers, List<Trace> traces, CostCalibration c) {
        return replay(schedulers, traces, c, 1, 1);
    }

    /**
     * As {@link #replay(Supplier, List, CostCalibration)}, but the costs reported to the scheduler are the charged
     * ones times {@code draftInflation} and {@code verifyInflation}: a generation in a process still warming up,
     * whose clock reads slow (the JIT, first native calls) while the score counts the steady-state costs.
     */
    static double replay(Supplier<DraftScheduler> schedulers, List<Trace> traces, CostCalibration c,
                         double draftInflation, double verifyInflation) {
        double time = 0;
        int produced = 0;
        for (Trace tr : traces) {
            DraftScheduler s = schedulers.get();
            int n = tr.output().length;
            int t = 0;
            while (t < n) {
                DraftPlan plan = s.plan().capped(Math.max(0, n - t - 1));
                DraftPlan mine = plan.forSource(SOURCE);
                int k = mine.maxDraftTokens();
                int drafted = 0;
                int calls = 0;
                if (k > 0) {
                    drafted = 1;
                    calls = 1;
                    while (drafted < k) {
                        calls++; // the drafted token is fed to score the next one
                        if (tr.confidences()[t][drafted] < mine.minConfidence()) {
                            break;
                        }
                        drafted++;
                    }
                }
                int accepted = tr.acceptedRun(t, drafted);
                long draftNanos = Math.round(c.draftNanos(calls));
                long verifyNanos = Math.round(c.verifyNanos(drafted + 1));
                time += draftNanos + verifyNanos;
                float[] confs = new float[drafted];
                System.arraycopy(tr.confidences()[t], 0, confs, 0, drafted);
                Proposal p = drafted == 0 ? Proposal.empty()
                        : new Proposal(new int[drafted], null, confs, calls, SOURCE);
                s.feedback(new StepOutcome(plan, p, new Verdict(drafted, accepted, 0),
                        Math.round(draftNanos * draftInflation), Math.round(verifyNanos * verifyInflation)));
                t += accepted + 1;
                produced += accepted + 1;
            }
            s.finish();
        }
        return produced / time;
    }

    /**
     * Tokens per calibrated second over some traces of plain decoding, the best fixed draft length in 0..16 in
     * hindsight, the heuristic and the calibrated adaptive scheduler (its generations one after the other).
     */
    record Comparison(double plain, int bestK, double best, double heuristic, double adaptive) {
        static Comparison of(List<Trace> traces, CostCalibration c) {
            int bestK = 0;
            double best = 0;
            for (int k = 0; k <= 16; k++) {
                int kk = k;
                double r = replay(() -> new FixedScheduler(kk), traces, c);
                if (r > best) {
                    best = r;
                    bestK = k;
                }
            }
            Scheduling adaptive = Scheduling.adaptive(c);
            return new Comparison(replay(() -> new FixedScheduler(0), traces, c), bestK, best,
                    replay(() -> Scheduling.heuristic().start(), traces, c), replay(adaptive::start, traces, c));
        }
    }

    /** {@code c} as a fresh {@code generate} measures it while loading: target calls 2.5x, draft steps 4x slower. */
    static CostCalibration coldCalibration(CostCalibration c) {
        double[] v = c.verifyNanos();
        for (int i = 0; i < v.length; i++) {
            v[i] *= 2.5;
        }
        return new CostCalibration(c.contextLength(), c.positions(), v, c.draftStepNanos() * 4, c.draftNextStepNanos() * 4, 0, Double.NaN,
                Double.NaN, c.spread(), c.noise(), c.repeats());
    }

    @Test
    void adaptiveAgainstHeuristicAndFixedLengthsOnRealAcceptance() throws Exception {
        List<Workload> ws = Workload.load(List.of("code"), false, 0);
        try (HfTokenizer tok = HfTokenizer.load(EmbeddedModels.target());
             OnnxCausalLM target = OnnxCausalLM.load(EmbeddedModels.target(), OnnxModelOptions.defaults());
             OnnxCausalLM draft = OnnxCausalLM.load(EmbeddedModels.draft(), OnnxModelOptions.cpu(1))) {
            List<String> prompts = new ArrayList<>(ws.get(0).prompts());
            // Then DecodeAB's, whose easy stretches are long (one is copied whole), then the README's.
            prompts.add("def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n");
            prompts.add("class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):");
            prompts.add("def fibonacci(n):");
            prompts.add("import os\n\n\ndef read_lines(path):");
            List<Trace> traces = new ArrayList<>();
            for (String p : prompts) {
                traces.add(trace(target, draft, tok.encode(p), 128));
            }
            CostCalibration c = Boolean.getBoolean("trace.replay.calibrate")
                    ? Calibrator.calibrate(target, draft, Calibrator.Plan.full(96, 0)) : MEASURED;
            System.out.println(c);
            // Also the committed JMH ratios' regime: the same curve with a draft step 3x and 0.5x as costly.
            for (double draftScale : new double[]{1, 0.5, 3}) {
                CostCalibration cc = new CostCalibration(c.contextLength(), c.positions(), c.verifyNanos(),
                        c.draftStepNanos() * draftScale, c.draftNextStepNanos() * draftScale, 0, Double.NaN, Double.NaN, c.spread(), c.noise(), c.repeats());
                Comparison all = Comparison.of(traces, cc);
                double best = all.best();
                int bestK = all.bestK();
                double plain = all.plain();
                double heuristic = all.heuristic();
                double adaptive = all.adaptive();
                Scheduling cold = Scheduling.adaptive();
                double uncalibrated = replay(cold::start, traces, cc);
                double firstOnly = replay(() -> Scheduling.adaptive(cc).start(), traces, cc);
                double coldAll = 0;
                double heuristicAll = 0;
                for (Trace tr : traces) {
                    double p = replay(() -> new FixedScheduler(0), List.of(tr), cc);
                    Scheduling fresh = Scheduling.adaptive(coldCalibration(cc));
                    replay(fresh::start, List.of(tr.truncated(32)), cc, 3, 1.6);
                    coldAll += Math.log(replay(fresh::start, List.of(tr), cc) / p);
                    heuristicAll += Math.log(replay(() -> Scheduling.heuristic().start(), List.of(tr), cc) / p);
                }
                System.out.printf(Locale.ROOT, "  fresh processes with cold costs, geometric mean over %d prompts:"
                                + " adaptive %.3f, heuristic %.3f%n", traces.size(),
                        Math.exp(coldAll / traces.size()), Math.exp(heuristicAll / traces.size()));
                System.out.printf(Locale.ROOT, "draft step x%.1f (%.3f ms, verify(1) %.3f ms): plain 1.00, best fixed"
                                + " k=%d %.3f, heuristic %.3f, adaptive %.3f (every generation the first after load"
                                + " %.3f, uncalibrated %.3f); adaptive / max(heuristic, best fixed) %.3f%n",
                        draftScale, cc.draftStepNanos() / 1e6, cc.verifyNanos(1) / 1e6, bestK, best / plain,
                        heuristic / plain, adaptive / plain, firstOnly / plain, uncalibrated / plain,
                        adaptive / Math.max(heuristic, best));
                // DecodeAB's two prompts alone: long easy stretches, where drafting longer in a run pays most.
                Comparison bursty = Comparison.of(traces.subList(traces.size() - 4, traces.size() - 2), cc);
                System.out.printf(Locale.ROOT, "  DecodeAB's prompts: best fixed %.3f, heuristic %.3f, adaptive %.3f;"
                                + " adaptive / max %.3f%n", bursty.best() / bursty.plain(),
                        bursty.heuristic() / bursty.plain(), bursty.adaptive() / bursty.plain(),
                        bursty.adaptive() / Math.max(bursty.best(), bursty.heuristic()));
                assertTrue(adaptive > plain, "adaptive must beat plain decoding on the real pair");
                // Issue 15's bar, at fixed prices so that machine noise cannot decide it.
                assertTrue(adaptive >= 0.97 * Math.max(heuristic, best), String.format(Locale.ROOT,
                        "draft step x%.1f: adaptive %.3f against heuristic %.3f and best fixed k=%d %.3f", draftScale,
                        adaptive / plain, heuristic / plain, bestK, best / plain));
                // The README prompts one at a time, as generate --compare runs them: a fresh policy, a 32-token
                // warm-up generation of the same prompt, then the timed one (the first after load printed too).
                for (int i = traces.size() - 2; i < traces.size(); i++) {
                    for (int n : new int[]{64, 128}) {
                        Trace timed = traces.get(i).truncated(n);
                        double p = replay(() -> new FixedScheduler(0), List.of(timed), cc);
                        double h = replay(() -> Scheduling.heuristic().start(), List.of(timed), cc) / p;
                        double first = replay(() -> Scheduling.adaptive(cc).start(), List.of(timed), cc) / p;
                        Scheduling warm = Scheduling.adaptive(cc);
                        replay(warm::start, List.of(traces.get(i).truncated(32)), cc);
                        double warmed = replay(warm::start, List.of(timed), cc) / p;
                        // A fresh generate --compare as measured in its step traces: the load-time calibration
                        // 2.5x slow for the target and 4x for the draft, the warm-up generation's clock 1.6x and 3x.
                        Scheduling fresh = Scheduling.adaptive(coldCalibration(cc));
                        replay(fresh::start, List.of(traces.get(i).truncated(32)), cc, 3, 1.6);
                        double freshRun = replay(fresh::start, List.of(timed), cc) / p;
                        System.out.printf(Locale.ROOT, "  %s, %d tokens: heuristic %.3f, adaptive first generation"
                                        + " %.3f (%.3f of the heuristic), after a warm-up %.3f (%.3f), fresh process"
                                        + " with cold costs %.3f (%.3f)%n",
                                prompts.get(i).replace("\n", "\\n"), n, h, first, first / h, warmed, warmed / h,
                                freshRun, freshRun / h);
                    }
                }
            }
        }
    }
}
