package dev.specula.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.specula.Completion;
import dev.specula.GenerationRequest;
import dev.specula.Prompt;
import dev.specula.onnx.text.ChatMessage;
import dev.specula.Specula;
import dev.specula.TextListener;
import dev.specula.core.decode.GenerationMetrics;
import dev.specula.core.sampling.SamplingParams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Arrays;
import java.util.IntSummaryStatistics;
import java.util.concurrent.Callable;

/** {@code specula generate}: streams a completion, then prints what it measured. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate a completion with speculative decoding (defaults: the embedded pair, a code prompt).")
final class GenerateCommand implements Callable<Integer> {
    static final String DEFAULT_PROMPT = "import os\n\n\ndef read_lines(path):";

    @Mixin
    ModelOptions models;

    @Mixin
    SamplingOptions sampling;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT",
            description = "The prompt. Default: a Python code prompt.")
    String prompt;

    @Option(names = {"-f", "--prompt-file"}, paramLabel = "FILE", description = "Read the prompt from a UTF-8 file.")
    Path promptFile;

    @Option(names = "--chat", description = "Send the prompt as a user message through the model's chat template.")
    boolean chat;

    @Option(names = "--no-special-tokens", description = "Encode the prompt exactly as written: no BOS or other"
            + " special tokens added by the tokenizer (default: added as transformers adds them).")
    boolean noSpecialTokens;

    @Option(names = "--compare", description = "Also run plain decoding of the same target, in --pairs interleaved"
            + " pairs with the speculative run; print the median speedup and whether the outputs are identical.")
    boolean compare;

    @Option(names = "--pairs", paramLabel = "N", defaultValue = "3", description = "With --compare: timed pairs of a"
            + " speculative and a plain run, interleaved (the order alternates per pair); the speedup is the median of"
            + " the pairs' ratios, so one disturbed run on a busy machine does not decide it. Default: ${DEFAULT-VALUE}.")
    int pairs;

    @Option(names = "--warm-up", negatable = true, description = "First run short speculative and plain generations"
            + " in turn for about a second, untimed (the JIT compiler, first native calls), so that a comparison"
            + " measures the steady state. Default: on with --compare, off otherwise.")
    Boolean warmUp;

    @Option(names = "--json", description = "Print one JSON object instead of streaming text.")
    boolean json;

    @Option(names = "--show-draft", description = "Color the text that came from accepted draft tokens (on a terminal).")
    boolean showDraft;

    @Option(names = "--trace-steps", description = "Print one line per decoding step of every speculative generation"
            + " (numbered; the warm-up's and the pairs' too) to stderr: planned draft length, drafted, accepted,"
            + " draft/verify/scheduler/other milliseconds.")
    boolean traceSteps;

    @Option(names = "--verbose", description = "Print what was loaded (graph, rollback mode and why), and stack traces of errors.")
    boolean verbose;

    private final PrintStream out = System.out;
    private final PrintStream err = System.err;

    @Override
    public Integer call() throws IOException {
        String promptText = promptText();
        Prompt text = chat ? Prompt.chat(List.of(ChatMessage.user(promptText)))
                : Prompt.text(promptText, !noSpecialTokens);
        SamplingParams params = sampling.params();
        models.scheduling(); // validate before loading models
        try (Specula specula = models.open(s -> traceSteps ? new StepTrace(s, err, System::nanoTime, s.name()) : s)) {
            if (verbose) {
                err.println("target: " + specula.target().description());
                specula.draftModel().ifPresent(d -> err.println("draft: " + d.description()));
            }
            boolean speculative = specula.drafter().isPresent();
            // The first calls of a fresh process are slow (JIT, ONNX Runtime's first runs): a comparison warms
            // both decoders first, so that neither run pays for it alone.
            if (warmUp != null ? warmUp : compare) {
                warmUp(specula, text, params);
            }
            boolean terminal = System.console() != null && !json;
            LiveStatus status = new LiveStatus(out, terminal, showDraft && terminal);
            Completion c = specula.generate(GenerationRequest.builder(text).params(params).speculative(speculative)
                    .listener(json ? TextListener.NONE : status).build());
            status.finish();
            Comparison comparison = compare ? compare(specula, text, params, speculative, c) : null;
            if (json) {
                out.println(toJson(specula, c, comparison, params));
            } else {
                printSummary(specula, c, comparison, speculative);
            }
        }
        return 0;
    }

    private String promptText() throws IOException {
        if (prompt != null && promptFile != null) {
            throw new IllegalArgumentException("give --prompt or --prompt-file, not both");
        }
        if (promptFile == null) {
            return prompt != null ? prompt : DEFAULT_PROMPT;
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(promptFile);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("prompt file " + promptFile + " does not exist");
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("prompt file " + promptFile + " is not valid UTF-8 (" + e.getMessage() + ")");
        }
    }

    /**
     * The timed pairs of a comparison: {@code first} (the speculative run already shown) and a plain run, then
     * {@code pairs - 1} more pairs with the order alternating (plain first, then speculative first, ...), so that
     * neither decoder always runs right after the other. Every plain run decodes its text too (not printed), so both
     * pay for detokenization. A sampled generation without a seed draws a fresh one per run; the pairs reuse the first
     * run's seed, so that every run makes the same tokens.
     */
    private Comparison compare(Specula specula, Prompt text, SamplingParams params, boolean speculative,
                               Completion first) {
        if (pairs < 1) {
            throw new IllegalArgumentException("--pairs must be >= 1, got " + pairs);
        }
        SamplingParams same = params.toBuilder().seed(first.metrics().seed()).build();
        List<Completion> plain = new java.util.ArrayList<>();
        List<Completion> spec = new java.util.ArrayList<>(List.of(first));
        plain.add(run(specula, text, same, false));
        for (int i = 1; i < pairs; i++) {
            boolean plainFirst = i % 2 == 1;
            if (plainFirst) {
                plain.add(run(specula, text, same, false));
            }
            spec.add(run(specula, text, same, speculative));
            if (!plainFirst) {
                plain.add(run(specula, text, same, false));
            }
        }
        double[] speedups = new double[pairs];
        for (int i = 0; i < pairs; i++) {
            speedups[i] = spec.get(i).metrics().tokensPerSecond() / plain.get(i).metrics().tokensPerSecond();
        }
        boolean identical = true;
        for (int i = 0; i < pairs; i++) {
            identical &= Arrays.equals(spec.get(i).tokenIds(), first.tokenIds())
                    && Arrays.equals(plain.get(i).tokenIds(), first.tokenIds());
        }
        return new Comparison(plain.get(0), speedups, identical);
    }

    private static Completion run(Specula specula, Prompt text, SamplingParams params, boolean speculative) {
        return specula.generate(GenerationRequest.builder(text).params(params).speculative(speculative)
                .listener((piece, fromDraft) -> { }).build());
    }

    /**
     * @param baseline  the first plain run
     * @param speedups  per timed pair, speculative over plain tokens per second
     * @param identical whether every run's tokens equal the first speculative run's
     */
    private record Comparison(Completion baseline, double[] speedups, boolean identical) {
        double median() {
            double[] s = speedups.clone();
            Arrays.sort(s);
            return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        }

        String list() {
            StringBuilder b = new StringBuilder();
            for (double v : speedups) {
                b.append(b.length() == 0 ? "" : " ").append(String.format(java.util.Locale.ROOT, "%.2f", v));
            }
            return b.toString();
        }
    }

    /**
     * How long a comparison warms up: in a fresh process the JIT compiler keeps compiling for about a second of
     * decoding, on the cores the models' threads use, and generations get 2x faster over it (measured on 2 cores).
     */
    private static final long WARM_UP_NANOS = 1_000_000_000L;

    private static void warmUp(Specula specula, Prompt text, SamplingParams params) {
        SamplingParams shortRun = params.toBuilder().maxNewTokens(Math.min(32, params.maxNewTokens())).build();
        long start = System.nanoTime();
        for (int round = 0; round < 2 || System.nanoTime() - start < WARM_UP_NANOS; round++) {
            specula.generate(GenerationRequest.builder(text).params(shortRun).speculative(true).build());
            specula.generate(GenerationRequest.builder(text).params(shortRun).speculative(false).build());
        }
    }

    private void printSummary(Specula specula, Completion c, Comparison comparison, boolean speculative) {
        GenerationMetrics m = c.metrics();
        out.println();
        err.println();
        err.println("--- " + (speculative ? "speculative decoding (" + models.describe() + ")" : "plain decoding")
                + " ---");
        err.printf("%d tokens in %.3f s: %.1f tokens/s (prompt %d tokens, finish: %s, seed %d)%n", m.generatedTokens(),
                m.totalNanos() / 1e9, m.tokensPerSecond(), c.promptTokens(), c.finishReason(), m.seed());
        if (speculative) {
            IntSummaryStatistics ks = Arrays.stream(m.draftLengths()).summaryStatistics();
            err.printf("acceptance %.3f (%d of %d drafted), %.2f tokens per target call, %d target calls,"
                            + " %d draft calls%n", m.acceptanceRate(), m.acceptedTokens(), m.draftedTokens(),
                    m.meanTokensPerTargetCall(), m.targetCalls(), m.draftCalls());
            err.printf("draft lengths chosen: mean %.2f, min %d, max %d; time: draft %.1f ms, verify %.1f ms,"
                            + " prefill %.1f ms, other %.1f ms%n", ks.getAverage(), ks.getMin(), ks.getMax(),
                    m.draftNanos() / 1e6, m.verifyNanos() / 1e6, m.prefillNanos() / 1e6, m.otherNanos() / 1e6);
        }
        if (comparison != null) {
            GenerationMetrics b = comparison.baseline().metrics();
            err.printf("--- plain decoding of the same target ---%n%d tokens in %.3f s: %.1f tokens/s%n",
                    b.generatedTokens(), b.totalNanos() / 1e9, b.tokensPerSecond());
            err.printf("speedup: %.2fx (median of %d interleaved pairs: %s), outputs identical: %s%n",
                    comparison.median(), comparison.speedups().length, comparison.list(),
                    comparison.identical() ? "yes"
                            : "NO" + specula.losslessCaveat().map(r -> " (" + r + ")").orElse(""));
        }
    }

    private String toJson(Specula specula, Completion c, Comparison comparison, SamplingParams params) throws IOException {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("text", c.text());
        root.put("prompt_tokens", c.promptTokens());
        ArrayNode ids = root.putArray("token_ids");
        for (int id : c.tokenIds()) {
            ids.add(id);
        }
        root.put("finish_reason", c.finishReason().name().toLowerCase(java.util.Locale.ROOT));
        root.put("target", models.targetDir().toString());
        root.put("drafter", specula.drafter().map(d -> d.name()).orElse("none"));
        root.put("draft_length", models.draftLength);
        ObjectNode sampling = root.putObject("sampling"); // the parameters' record components, the seed as used
        sampling.put("temperature", params.temperature());
        sampling.put("topK", params.topK());
        sampling.put("topP", params.topP());
        sampling.put("minP", params.minP());
        sampling.put("seed", c.metrics().seed());
        sampling.put("mode", params.mode().name());
        sampling.put("maxNewTokens", params.maxNewTokens());
        sampling.set("stopTokenIds", mapper.valueToTree(params.stopTokenIds()));
        root.set("metrics", Json.metrics(mapper, c.metrics()));
        if (comparison != null) {
            root.set("baseline_metrics", Json.metrics(mapper, comparison.baseline().metrics()));
            root.put("speedup", comparison.median());
            ArrayNode pairSpeedups = root.putArray("pair_speedups");
            for (double v : comparison.speedups()) {
                pairSpeedups.add(v);
            }
            root.put("identical", comparison.identical());
            specula.losslessCaveat().ifPresent(r -> root.put("identical_caveat", r)); // why they may differ
        }
        return mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root);
    }
}
