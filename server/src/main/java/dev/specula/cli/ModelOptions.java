package dev.specula.cli;

import dev.specula.Specula;
import dev.specula.core.schedule.FixedScheduler;
import dev.specula.core.schedule.Scheduling;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.OnnxModelOptions;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;

/** Which models to load and how to draft: shared by every command. */
final class ModelOptions {
    /** The model name {@code serve} answers to for the embedded pair. */
    static final String EMBEDDED_MODEL_NAME = "specula-python-code";

    @Option(names = {"-m", "--target"}, paramLabel = "DIR",
            description = "Target model directory (Optimum export). Default: the embedded Python-code pair.")
    Path target;

    @Option(names = "--draft", paramLabel = "DIR|model|lookup|lookup-model|ngram|composite|none",
            defaultValue = "model",
            description = "How to draft: a draft model directory; 'model' (the --draft-model, or the embedded"
                    + " draft with the embedded target); 'lookup' (prompt lookup only: nothing carried between"
                    + " requests); 'lookup-model' (prompt lookup, else the model: nothing carried between requests);"
                    + " 'ngram' (prompt lookup, then a cross-request n-gram cache); 'composite' (ngram, else the"
                    + " model); 'none' (plain decoding). Default: ${DEFAULT-VALUE}.")
    String draft;

    @Option(names = {"-md", "--draft-model"}, paramLabel = "DIR",
            description = "Draft model directory for 'model', 'lookup-model' and 'composite'. Default: the embedded"
                    + " draft with the embedded target, else none.")
    Path draftModel;

    @Option(names = "--draft-length", paramLabel = "auto|heuristic|N", defaultValue = "auto",
            description = "Draft length: 'auto' (adaptive, maximizes measured tokens/s), 'heuristic' (Hugging Face's),"
                    + " or a fixed N in [0, " + FixedScheduler.MAX_DRAFT_LENGTH + "]. Default: ${DEFAULT-VALUE}.")
    String draftLength;

    @Option(names = {"-t", "--threads"}, paramLabel = "N",
            description = "Intra-op threads of the target. Default: all cores, up to 8.")
    Integer threads;

    @Option(names = "--draft-threads", paramLabel = "N",
            description = "Intra-op threads of the draft model. Default: as the target (they run one after the other).")
    Integer draftThreads;

    @Option(names = "--spinning", paramLabel = "auto|on|off", defaultValue = "auto", description = "Whether intra-op"
            + " threads spin while a forward call runs: 'auto' decides at load (on where other processes leave the"
            + " cores idle: faster on a dedicated machine, slower on a busy one), 'on' or 'off'."
            + " Default: ${DEFAULT-VALUE}.")
    String spinning;

    @Option(names = "--fused-attention", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Rewrite the models' attention into ONNX Runtime's fused GroupQueryAttention at load, where"
            + " the graph matches and a parity probe finds the same logits (--verbose says which). Default: on.")
    boolean fusedAttention = true;

    @Option(names = "--optimized-model-cache", paramLabel = "DIR", description = "Keep the graphs as ONNX Runtime"
            + " optimized them for this machine (fused attention and pre-packed weights included) under DIR, so that"
            + " the next load of the same model skips the rewrite, its probe and the optimization. Default: off.")
    Path optimizedModelCache;

    @Option(names = "--variant", paramLabel = "NAME", description = "The graph variant of a transformers.js export"
            + " (onnx/model_NAME.onnx, e.g. fp16, quantized, q4) for target and draft. Default: the plain model.")
    String variant;

    Scheduling scheduling() {
        switch (draftLength) {
            case "auto":
            case "adaptive":
                return Scheduling.adaptive();
            case "heuristic":
                return Scheduling.heuristic();
            default:
                int k;
                try {
                    k = Integer.parseInt(draftLength);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--draft-length must be auto, heuristic or an integer in [0, "
                            + FixedScheduler.MAX_DRAFT_LENGTH + "], got '" + draftLength + "'");
                }
                if (k < 0 || k > FixedScheduler.MAX_DRAFT_LENGTH) {
                    throw new IllegalArgumentException("--draft-length must be in [0, " + FixedScheduler.MAX_DRAFT_LENGTH
                            + "], got " + k);
                }
                return Scheduling.fixed(k);
        }
    }

    /** The value of a {@code --spinning} option. */
    static OnnxModelOptions.Spinning spinning(String value) {
        switch (value.toLowerCase(java.util.Locale.ROOT)) {
            case "auto":
                return OnnxModelOptions.Spinning.AUTO;
            case "on":
                return OnnxModelOptions.Spinning.ON;
            case "off":
                return OnnxModelOptions.Spinning.OFF;
            default:
                throw new IllegalArgumentException("--spinning must be auto, on or off, got '" + value + "'");
        }
    }

    /** The name of the target: its directory's, or {@value #EMBEDDED_MODEL_NAME} for the embedded pair. */
    String modelName() {
        if (target == null) {
            return EMBEDDED_MODEL_NAME;
        }
        Path name = target.toAbsolutePath().normalize().getFileName();
        return name == null ? target.toString() : name.toString();
    }

    Path targetDir() {
        return target != null ? target : EmbeddedModels.target();
    }

    /** A short description of the drafting setup for summaries. */
    String describe() {
        return "draft " + draft + ", draft length " + draftLength;
    }

    Specula open() {
        return open(java.util.function.UnaryOperator.identity());
    }

    /** Opens the models with the draft-length policy passed through {@code wrap} (e.g. a {@link StepTrace}). */
    Specula open(java.util.function.UnaryOperator<Scheduling> wrap) {
        if (threads != null && threads < 1) {
            throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
        }
        if (draftThreads != null && draftThreads < 1) {
            throw new IllegalArgumentException("--draft-threads must be >= 1, got " + draftThreads);
        }
        Scheduling scheduling = wrap.apply(scheduling());
        OnnxModelOptions.Spinning spin = spinning(spinning);
        OnnxModelOptions targetOptions = (threads != null ? OnnxModelOptions.cpu(threads) : OnnxModelOptions.defaults())
                .withSpinning(spin).withFusedAttention(fusedAttention);
        OnnxModelOptions draftOptions = (draftThreads != null ? OnnxModelOptions.cpu(draftThreads)
                : OnnxModelOptions.defaults()).withSpinning(spin).withFusedAttention(fusedAttention);
        if (variant != null) {
            targetOptions = targetOptions.withVariant(variant);
            draftOptions = draftOptions.withVariant(variant);
        }
        if (optimizedModelCache != null) {
            targetOptions = targetOptions.withOptimizedModelCache(optimizedModelCache);
            draftOptions = draftOptions.withOptimizedModelCache(optimizedModelCache);
        }
        Specula.Builder b = Specula.builder().target(targetDir()).scheduling(scheduling)
                .targetOptions(targetOptions).draftOptions(draftOptions);
        switch (draft) {
            case "none":
                break;
            case "model":
                b.draftModel(requireDraftModel());
                break;
            case "lookup":
                b.promptLookup();
                break;
            case "lookup-model":
                b.promptLookup().draftModel(requireDraftModel());
                break;
            case "ngram":
                b.promptLookup().ngramCache();
                break;
            case "composite":
                b.promptLookup().ngramCache().draftModel(requireDraftModel());
                break;
            default:
                Path dir = Path.of(draft);
                if (!Files.isDirectory(dir)) {
                    throw new IllegalArgumentException("--draft must be a model directory or one of model, lookup,"
                            + " lookup-model, ngram, composite, none; '" + draft + "' is neither");
                }
                b.draftModel(dir);
        }
        return b.build();
    }

    private Path requireDraftModel() {
        if (draftModel != null) {
            return draftModel;
        }
        if (target == null) {
            return EmbeddedModels.draft();
        }
        throw new IllegalArgumentException("--draft " + draft + " with your own --target needs --draft-model DIR"
                + " (a draft model sharing the target's tokenizer)");
    }
}
