package dev.specula.benchmarks;

import dev.specula.core.draft.DraftContext;
import dev.specula.core.draft.DraftProposer;
import dev.specula.core.draft.Proposal;
import dev.specula.core.draft.TokenBuffer;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.DraftPlan;
import dev.specula.draft.PromptLookupDrafter;
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
 * Prompt-lookup search over a 4k-token context: "hit" ends with a 4-gram that occurs early in the context,
 * "miss" with one that occurs nowhere (the whole context is scanned for every n).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PromptLookupBenchmark {
    @Param({"hit", "miss"})
    public String kind;

    @Param({"4096"})
    public int context;

    private TokenBuffer history;
    private DraftProposer proposer;
    private final DraftPlan plan = DraftPlan.of(8);

    @Setup
    public void setup() {
        SplittableRandom r = new SplittableRandom(4);
        int[] tokens = new int[context];
        for (int i = 0; i < context; i++) {
            tokens[i] = r.nextInt(30000);
        }
        if (kind.equals("hit")) {
            System.arraycopy(tokens, 100, tokens, context - 4, 4);
        } else {
            for (int i = 0; i < 4; i++) {
                tokens[context - 4 + i] = 31000 + i;
            }
        }
        history = new TokenBuffer(tokens);
        proposer = new PromptLookupDrafter(2, 4).start(new DraftContext(SamplingParams.greedy(1), new KeyedNoise(1), 32000, history));
    }

    @Benchmark
    public Proposal lookup() {
        return proposer.propose(history, plan);
    }
}
