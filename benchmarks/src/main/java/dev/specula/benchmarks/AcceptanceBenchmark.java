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
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One acceptance decision over k draft tokens: the target's k+1 logits rows (a direct buffer, as ONNX Runtime
 * fills it) turned into p lazily, then the rule (greedy match, speculative sampling with the draft's q, or
 * one-hot). The worst case is measured: every draft token is kept, so all k+1 rows are transformed and a bonus
 * token is drawn. Sampling uses temperature 1 with q equal to p (acceptance ratio 1); one-hot drafts the token
 * the target all but certainly picks (logit 40 in a Gaussian row of standard deviation 3). Every k from 1 to 8
 * at 32,000 and 151,936 entries by default; {@code -p k=4 -p vocab=151936} picks one case.
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

    @Param({"1", "2", "3", "4", "5", "6", "7", "8"})
    public int k;

    @Param({"32000", "151936"})
    public int vocab;

    private Logits target;
    private TargetScores scores;
    private SamplingParams params;
    private Proposal proposal;
    private KeyedNoise noise;

    @Setup(Level.Trial)
    public void setup() {
        SplittableRandom r = new SplittableRandom(2);
        int[] tokens = new int[k];
        FloatBuffer data = ByteBuffer.allocateDirect((k + 1) * vocab * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        for (int i = 0; i <= k; i++) {
            for (int t = 0; t < vocab; t++) {
                data.put(i * vocab + t, (float) (r.nextGaussian() * 3));
            }
            if (i < k) {
                tokens[i] = r.nextInt(vocab);
                data.put(i * vocab + tokens[i], 40f);
            }
        }
        target = new Logits(data, k + 1, vocab);
        params = rule.equals("greedy") ? SamplingParams.greedy(16) : SamplingParams.builder().temperature(1)
                .mode(rule.equals("coupled") ? SamplingMode.COUPLED : SamplingMode.REJECTION).build();
        SamplingTransform transform = new SamplingTransform(params, vocab);
        scores = new TargetScores(transform);
        Distribution[] q = new Distribution[k];
        for (int i = 0; i < k; i++) {
            q[i] = transform.apply(target, i, new Distribution(vocab));
        }
        proposal = rule.equals("sampling") || rule.equals("coupled") ? new Proposal(tokens, q, null, k)
                : Proposal.oneHot(tokens);
        noise = new KeyedNoise(3);
        Verdict check = AcceptanceRule.select(params, proposal).decide(proposal, scores.reset(target, 100), noise);
        if (check.accepted() != k) {
            throw new IllegalStateException("benchmark setup must keep every draft token, kept " + check.accepted()
                    + " of " + k);
        }
    }

    @Benchmark
    public Verdict decide() {
        return AcceptanceRule.select(params, proposal).decide(proposal, scores.reset(target, 100), noise);
    }
}
