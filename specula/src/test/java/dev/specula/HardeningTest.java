package dev.specula;

import dev.specula.core.SpeculaException;
import dev.specula.core.decode.FinishReason;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.AdaptiveScheduler;
import dev.specula.core.schedule.Scheduling;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.OnnxModelOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad inputs at the library's entry point (the rest of the catalogue is in docs/hardening.md): each fails with a
 * message naming the problem, and nothing stays open.
 */
class HardeningTest {
    static Specula specula;

    @BeforeAll
    static void load() {
        specula = Specula.builder().target(EmbeddedModels.target()).draftModel(EmbeddedModels.draft())
                .targetOptions(OnnxModelOptions.cpu(2)).build();
    }

    @AfterAll
    static void close() {
        specula.close();
    }

    private static String message(Class<? extends Throwable> type, org.junit.jupiter.api.function.Executable e) {
        return assertThrows(type, e).getMessage();
    }

    @Test
    void aPromptLongerThanTheContextIsRejected() {
        String huge = "x = 1\n".repeat(2000);
        String msg = message(IllegalArgumentException.class, () -> specula.generate(huge, SamplingParams.greedy(4)));
        assertTrue(msg.contains("context") && msg.contains(String.valueOf(specula.target().maxSequenceLength())), msg);
        assertEquals(0, specula.target().openSequences());
    }

    @Test
    void generationsStopAtTheEndOfTheContext() {
        String longPrompt = "x = 1\n".repeat(150);
        int promptTokens = specula.tokenizer().encode(longPrompt).length;
        Completion c = specula.generate(longPrompt, SamplingParams.greedy(5000));
        assertEquals(FinishReason.CONTEXT_FULL, c.finishReason());
        assertEquals(specula.target().maxSequenceLength() - promptTokens, c.tokenIds().length);
    }

    @Test
    void badTargetPathsFailClearly(@TempDir Path tmp) throws IOException {
        Path file = Files.writeString(tmp.resolve("a-file"), "not a directory");
        assertTrue(message(SpeculaException.class, () -> Specula.builder().target(file).build())
                .contains("not a directory"));
        assertTrue(message(SpeculaException.class, () -> Specula.builder().target(tmp.resolve("missing")).build())
                .contains("does not exist"));
        Path noModel = Files.createDirectories(tmp.resolve("tokenizer-only"));
        Files.copy(EmbeddedModels.target().resolve("tokenizer.json"), noModel.resolve("tokenizer.json"));
        assertTrue(message(SpeculaException.class, () -> Specula.builder().target(noModel).build())
                .contains("no model.onnx"));
        assertTrue(message(SpeculaException.class, () -> Specula.builder().target(EmbeddedModels.target())
                .draftModel(tmp.resolve("missing-draft")).build()).contains("does not exist"));
        assertThrows(NullPointerException.class, () -> Specula.builder().build());
    }

    @Test
    void outOfRangeDraftLengthsAndOptionsAreRejected() {
        assertTrue(message(IllegalArgumentException.class, () -> Scheduling.fixed(-1)).contains("[0, 64]"));
        assertTrue(message(IllegalArgumentException.class, () -> Scheduling.fixed(65)).contains("[0, 64]"));
        assertTrue(message(IllegalArgumentException.class, () -> Scheduling.heuristic(0, 4)).contains("initial"));
        assertTrue(message(IllegalArgumentException.class, () -> AdaptiveScheduler.Options.defaults()
                .withMaxDraftLength(0)).contains("maxDraftLength"));
        assertTrue(message(IllegalArgumentException.class, () -> OnnxModelOptions.cpu(0)).contains("intraOpThreads"));
        assertTrue(message(IllegalArgumentException.class, () -> GenerationRequest.builder("x")
                .stopSequences(java.util.List.of("")).build()).contains("stop sequences"));
    }

    @Test
    void aListenerThatThrowsEndsTheGenerationAndLeavesNothingOpen() {
        AtomicInteger calls = new AtomicInteger();
        RuntimeException e = assertThrows(RuntimeException.class, () -> specula.generate("def f(x):\n",
                SamplingParams.greedy(40), (t, d) -> {
                    if (calls.incrementAndGet() == 3) {
                        throw new IllegalStateException("listener failed");
                    }
                }));
        assertEquals("listener failed", e.getMessage());
        assertEquals(0, specula.target().openSequences());
        assertEquals(0, specula.draftModel().orElseThrow().openSequences());
        assertTrue(specula.generate("def f(x):\n", SamplingParams.greedy(4)).tokenIds().length > 0, "still serves");
    }

    @Test
    void interruptedAndCancelledGenerationsReturnWhatTheyHave() {
        Thread.currentThread().interrupt();
        try {
            Completion c = specula.generate("def f(x):\n", SamplingParams.greedy(40));
            assertEquals(FinishReason.CANCELLED, c.finishReason());
            assertTrue(Thread.interrupted(), "the interrupt stays visible to the caller");
        } finally {
            Thread.interrupted();
        }
        AtomicInteger seen = new AtomicInteger();
        Completion c = specula.generate(GenerationRequest.builder("def f(x):\n").params(SamplingParams.greedy(40))
                .listener((t, d) -> seen.incrementAndGet()).cancelled(() -> seen.get() >= 2).build());
        assertEquals(FinishReason.CANCELLED, c.finishReason());
        assertTrue(c.tokenIds().length < 40);
        assertEquals(0, specula.target().openSequences());
    }
}
