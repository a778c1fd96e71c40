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
 * One acceptance step over k draft tokens (default 4) with a vocabulary of {@code vocab} entries (default 32,000;
 * {@code -p vocab=151936} for Qwen's): target rows turned into p lazily, then the rule (greedy match, rejection
 * sampling with q, rejection sampling of one-hot drafts, or coupled Gumbel-max).
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

    @Param({"32000"})
    public int vocab;

    @Param({"4"})
    public int k;

    private Logits target;
    private TargetScores scores;
    private SamplingParams params;
    private Proposal proposal;
    private KeyedNoise noise;

    @Setup
    public void setup() {
        SplittableRandom r = new SplittableRandom(2);
        float[][] rows = new float[k + 1][vocab];
        float[][] draftRows = new float[k][vocab];
        for (int i = 0; i <= k; i++) {
            for (int t = 0; t < vocab; t++) {
                rows[i][t] = (float) (r.nextGaussian() * 3);
                if (i < k) {
                    draftRows[i][t] = rows[i][t] + (float) r.nextGaussian();
                }
            }
        }
        target = Logits.of(rows);
        params = rule.equals("greedy") ? SamplingParams.greedy(16) : SamplingParams.builder().temperature(1)
                .mode(rule.equals("coupled") ? SamplingMode.COUPLED : SamplingMode.REJECTION).build();
        SamplingTransform transform = new SamplingTransform(params, vocab);
        scores = new TargetScores(transform);
        Distribution[] q = new Distribution[k];
        int[] tokens = new int[k];
        Logits draft = Logits.of(draftRows);
        for (int i = 0; i < k; i++) {
            q[i] = transform.apply(draft, i, new Distribution(vocab));
            tokens[i] = q[i].argmax();
        }
        proposal = rule.equals("sampling") || rule.equals("coupled") ? new Proposal(tokens, q, null, k)
                : Proposal.oneHot(tokens);
        noise = new KeyedNoise(3);
    }

    @Benchmark
    public Verdict decide() {
        return AcceptanceRule.select(params, proposal).decide(proposal, scores.reset(target, 100), noise);
    }
}
