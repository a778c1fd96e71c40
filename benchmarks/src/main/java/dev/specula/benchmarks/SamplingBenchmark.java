package dev.specula.benchmarks;

import dev.specula.core.model.Logits;
import dev.specula.core.sampling.Distribution;
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

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The sampling transform over one logits row (direct buffer, as ONNX Runtime fills it) at Llama-2/Mistral
 * (32,000) and Qwen2.5 (151,936) vocabulary sizes, for each sampling mode. The row is Gaussian with standard
 * deviation 3, about the spread of a real model's logits.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SamplingBenchmark {
    @Param({"greedy", "t0.8", "t0.8-topk40", "t0.8-topp0.9", "t0.8-minp0.05", "t0.8-topk40-topp0.9-minp0.05"})
    public String setting;

    @Param({"32000", "151936"})
    public int vocab;

    private Logits logits;
    private SamplingTransform transform;
    private Distribution out;

    @Setup
    public void setup() {
        FloatBuffer data = ByteBuffer.allocateDirect(vocab * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < vocab; i++) {
            data.put(i, (float) (r.nextGaussian() * 3));
        }
        logits = new Logits(data, 1, vocab);
        SamplingParams.Builder b = SamplingParams.builder();
        switch (setting) {
            case "greedy" -> { }
            case "t0.8" -> b.temperature(0.8);
            case "t0.8-topk40" -> b.temperature(0.8).topK(40);
            case "t0.8-topp0.9" -> b.temperature(0.8).topP(0.9);
            case "t0.8-minp0.05" -> b.temperature(0.8).minP(0.05);
            case "t0.8-topk40-topp0.9-minp0.05" -> b.temperature(0.8).topK(40).topP(0.9).minP(0.05);
            default -> throw new IllegalArgumentException(setting);
        }
        transform = new SamplingTransform(b.build(), vocab);
        out = new Distribution(vocab);
    }

    @Benchmark
    public Distribution transform() {
        return transform.apply(logits, 0, out);
    }
}
