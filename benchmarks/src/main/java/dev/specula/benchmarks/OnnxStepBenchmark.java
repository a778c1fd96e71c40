package dev.specula.benchmarks;

import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.OnnxCausalLM;
import dev.specula.onnx.OnnxModelOptions;
import dev.specula.onnx.OnnxModelOptions.RollbackMode;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Per-step costs of a model through the ONNX runner (by default the embedded pair; {@code -p model=DIR} for any
 * model directory, {@code -p variant=q4} for a transformers.js variant): a one-token decode step, and a verify call
 * over k+1 tokens followed by the rollback of the k draft tokens (what every rejected step pays), with the O(1)
 * masked rollback and with {@link RollbackMode#COMPACT} (the cache copied without the dropped slots: what a
 * copy-on-rollback design pays every step), at a given context length.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class OnnxStepBenchmark {
    /** "target" or "draft" for the embedded pair, else a model directory (any layout {@code ModelFiles} finds). */
    @Param({"target", "draft"})
    public String model;

    /** The graph variant of a directory ("" for model.onnx). */
    @Param({""})
    public String variant;

    @Param({"128", "512"})
    public int context;

    @Param({"0", "1", "2", "4", "8"})
    public int k;

    /** MASKED (O(1), compacted now and then) or COMPACT (the cache copied at every rollback). */
    @Param({"MASKED", "COMPACT"})
    public RollbackMode rollback;

    /** Intra-op threads of the model (the draft included: draft and target run one after the other). */
    @Param({"2"})
    public int threads;

    /** Whether intra-op threads spin while a call runs ({@code -p spinning=false,true} to compare). */
    @Param({"false"})
    public boolean spinning;

    /** Whether the present KV goes into the sequence's own buffers ({@code -p pinnedKv=true,false} to compare). */
    @Param({"true"})
    public boolean pinnedKv;

    private OnnxCausalLM lm;
    private ModelSequence seq;
    private int[] step;

    @Setup(Level.Trial)
    public void setup() {
        Path dir = switch (model) {
            case "target" -> EmbeddedModels.target();
            case "draft" -> EmbeddedModels.draft();
            default -> Path.of(model);
        };
        lm = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(threads).withSpinning(spinning).withPinnedKv(pinnedKv).withVariant(variant)
                .withRollback(rollback));
        seq = lm.newSequence();
        SplittableRandom r = new SplittableRandom(5);
        int vocab = lm.vocabSize();
        seq.prefill(r.ints(context, 0, vocab).toArray(), 0, context);
        step = r.ints(k + 1, 0, vocab).toArray();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        seq.close();
        lm.close();
    }

    /** One call over k+1 tokens, then the rollback of k of them: the cost of a fully rejected step. */
    @Benchmark
    public Logits verifyAndRollback() {
        Logits l = seq.append(step);
        seq.rollback(context);
        return l;
    }
}
