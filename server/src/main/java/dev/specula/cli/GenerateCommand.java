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

    @Option(names = "--compare", description = "Also run plain decoding of the same target; print the speedup and"
            + " whether the outputs are identical.")
    boolean compare;

    @Option(names = "--warm-up", negatable = true, description = "First run a short speculative and a short plain"
            + " generation, untimed (JIT, first native calls), so that a comparison is fair. Default: on with"
            + " --compare, off otherwise.")
    Boolean warmUp;

    @Option(names = "--json", description = "Print one JSON object instead of streaming text.")
    boolean json;

    @Option(names = "--show-draft", description = "Color the text that came from accepted draft tokens (on a terminal).")
    boolean showDraft;

    @Option(names = "--trace-steps", description = "Print one line per decoding step of the timed speculative run to"
            + " stderr: planned draft length, drafted, accepted, draft/verify/scheduler/other milliseconds.")
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
            // The baseline decodes its text too (not printed), so both runs pay for detokenization.
            Completion baseline = compare
                    ? specula.generate(GenerationRequest.builder(text).params(params).speculative(false)
                    .listener(json ? TextListener.NONE : (piece, fromDraft) -> { }).build())
                    : null;
            if (json) {
                out.println(toJson(specula, c, baseline, params));
            } else {
                printSummary(specula, c, baseline, speculative);
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

    private static void warmUp(Specula specula, Prompt text, SamplingParams params) {
        SamplingParams shortRun = params.toBuilder().maxNewTokens(Math.min(32, params.maxNewTokens())).build();
        specula.generate(GenerationRequest.builder(text).params(shortRun).speculative(true).build());
        specula.generate(GenerationRequest.builder(text).params(shortRun).speculative(false).build());
    }

    private void printSummary(Specula specula, Completion c, Completion baseline, boolean speculative) {
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
        if (baseline != null) {
            GenerationMetrics b = baseline.metrics();
            err.printf("--- plain decoding of the same target ---%n%d tokens in %.3f s: %.1f tokens/s%n",
                    b.generatedTokens(), b.totalNanos() / 1e9, b.tokensPerSecond());
            err.printf("speedup: %.2fx, outputs identical: %s%n", m.tokensPerSecond() / b.tokensPerSecond(),
                    Arrays.equals(c.tokenIds(), baseline.tokenIds()) ? "yes" : "NO");
        }
    }

    private String toJson(Specula specula, Completion c, Completion baseline, SamplingParams params) throws IOException {
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
        if (baseline != null) {
            root.set("baseline_metrics", Json.metrics(mapper, baseline.metrics()));
            root.put("speedup", c.metrics().tokensPerSecond() / baseline.metrics().tokensPerSecond());
            root.put("identical", Arrays.equals(c.tokenIds(), baseline.tokenIds()));
        }
        return mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root);
    }
}
