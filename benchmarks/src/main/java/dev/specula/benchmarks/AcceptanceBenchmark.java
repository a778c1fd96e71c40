package dev.specula.benchmarks;

import dev.specula.core.acceptance.AcceptanceRule;
import dev.specula.core.acceptance.TargetScores;
import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.Proposal;
import dev.specula.core.model.Logits;
import dev.specula.core.sampling.Distribution;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingMode;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.sampling.SamplingTransform;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One acceptance step over k = 4 draft tokens with a 32k vocabulary: target rows turned into p lazily, then the
 * rule (greedy match, rejection sampling with q, rejection sampling of one-hot drafts, or coupled Gumbel-max).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class AcceptanceBenchmark {
    @Param({"greedy", "sampling", "one-hot", "coupled"})
    public String rule;

    private static final int VOCAB = 32000;
    private static final int K = 4;
    private Logits target;
    private TargetScores scores;
    private SamplingParams params;
    private Proposal proposal;
    private KeyedNoise noise;

    @Setup
    public void setup() {
        SplittableRandom r = new SplittableRandom(2);
        float[][] rows = new float[K + 1][VOCAB];
        float[][] draftRows = new float[K][VOCAB];
        for (int i = 0; i <= K; i++) {
            for (int t = 0; t < VOCAB; t++) {
                rows[i][t] = (float) (r.nextGaussian() * 3);
                if (i < K) {
                    draftRows[i][t] = rows[i][t] + (float) r.nextGaussian();
                }
            }
        }
        target = Logits.of(rows);
        params = rule.equals("greedy") ? SamplingParams.greedy(16) : SamplingParams.builder().temperature(1)
                .mode(rule.equals("coupled") ? SamplingMode.COUPLED : SamplingMode.REJECTION).build();
        SamplingTransform transform = new SamplingTransform(params, VOCAB);
        scores = new TargetScores(transform);
        Distribution[] q = new Distribution[K];
        int[] tokens = new int[K];
        Logits draft = Logits.of(draftRows);
        for (int i = 0; i < K; i++) {
            q[i] = transform.apply(draft, i, new Distribution(VOCAB));
            tokens[i] = q[i].argmax();
        }
        proposal = rule.equals("sampling") || rule.equals("coupled") ? new Proposal(tokens, q, null, K)
                : Proposal.oneHot(tokens);
        noise = new KeyedNoise(3);
    }

    @Benchmark
    public Verdict decide() {
        return AcceptanceRule.select(params, proposal).decide(proposal, scores.reset(target, 100), noise);
    }
}
