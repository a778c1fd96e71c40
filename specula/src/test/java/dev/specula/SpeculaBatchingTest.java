package dev.specula;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.specula.core.decode.FinishReason;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.OnnxModelOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Concurrent generate calls batched on the embedded pair: every generation gets exactly its unbatched output (greedy
 * on all bench prompts, and seeded sampling), streams per token, can be cancelled or fail alone, and nothing is left
 * open after 64 concurrent streams.
 */
class SpeculaBatchingTest {
    private static final Path WORKLOADS = Path.of("../server/src/main/resources/dev/specula/cli/bench/workloads.json");
    static Specula specula;

    @BeforeAll
    static void load() {
        specula = Specula.builder().target(EmbeddedModels.target()).draftModel(EmbeddedModels.draft()).promptLookup()
                .targetOptions(OnnxModelOptions.cpu(2)).maxBatchSize(16).build();
    }

    @AfterAll
    static void close() {
        specula.close();
    }

    /** Every prompt of the bench workloads (code, edit, sampled). */
    static List<String> benchPrompts() throws IOException {
        JsonNode root = new ObjectMapper().readTree(WORKLOADS.toFile());
        List<String> out = new ArrayList<>();
        for (String name : List.of("code", "edit", "sampled")) {
            root.get(name).forEach(p -> out.add(p.asText()));
        }
        return out;
    }

    /** Runs the calls concurrently, one thread each, and returns their results in order. */
    static <T> List<T> concurrently(List<Callable<T>> calls) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(calls.size());
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (Callable<T> c : calls) {
                futures.add(pool.submit(c));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) {
                out.add(f.get(10, TimeUnit.MINUTES));
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    static Completion unbatchedPlain(String prompt, SamplingParams params) {
        return specula.generate(GenerationRequest.builder(prompt).params(params).speculative(false).batched(false)
                .build());
    }

    @Test
    void greedyOutputOfEveryConcurrentGenerationEqualsItsUnbatchedPlainGreedyOutputOnAllBenchPrompts()
            throws Exception {
        List<String> prompts = benchPrompts();
        assertEquals(22, prompts.size());
        SamplingParams params = SamplingParams.greedy(32);
        List<Completion> expected = new ArrayList<>();
        for (String p : prompts) {
            expected.add(unbatchedPlain(p, params));
        }
        for (boolean speculative : new boolean[]{false, true}) {
            List<Callable<Completion>> calls = new ArrayList<>();
            for (String p : prompts) {
                calls.add(() -> specula.generate(GenerationRequest.builder(p).params(params).speculative(speculative)
                        .build()));
            }
            List<Completion> got = concurrently(calls);
            for (int i = 0; i < prompts.size(); i++) {
                assertArrayEquals(expected.get(i).tokenIds(), got.get(i).tokenIds(), (speculative ? "speculative"
                        : "plain") + " batched, prompt " + i);
                assertEquals(expected.get(i).text(), got.get(i).text());
            }
        }
        assertTrue(specula.peakBatchSize() > 1, "generations were stepped together: peak " + specula.peakBatchSize());
        assertEquals(0, specula.target().openSequences());
    }

    @Test
    void seededSamplingGivesTheSameTokensBatchedAndNot() throws Exception {
        List<String> prompts = benchPrompts().subList(14, 22); // the sampled workload
        List<SamplingParams> params = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            params.add(SamplingParams.builder().temperature(0.8).seed(40 + i).maxNewTokens(32).build());
        }
        List<Callable<Completion>> calls = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            String p = prompts.get(i);
            SamplingParams sp = params.get(i);
            calls.add(() -> specula.generate(GenerationRequest.builder(p).params(sp).build()));
        }
        List<Completion> got = concurrently(calls);
        for (int i = 0; i < prompts.size(); i++) {
            assertArrayEquals(unbatchedPlain(prompts.get(i), params.get(i)).tokenIds(), got.get(i).tokenIds(),
                    "seed " + (40 + i));
            assertEquals(40 + i, got.get(i).metrics().seed());
        }
    }

    @Test
    void sixtyFourConcurrentStreamsSomeCancelledOneFailingLeakNothing() throws Exception {
        Specula own = Specula.builder().target(EmbeddedModels.target()).draftModel(EmbeddedModels.draft())
                .targetOptions(OnnxModelOptions.cpu(2)).maxBatchSize(16).build();
        Thread engine = own.engineThread();
        assertNotNull(engine);
        List<String> prompts = Prompts.CODE;
        SamplingParams params = SamplingParams.greedy(16);
        IllegalStateException broken = new IllegalStateException("client 5's listener broke");
        List<Callable<Object>> calls = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            int client = i;
            String prompt = prompts.get(i % prompts.size());
            calls.add(() -> {
                StringBuilder streamed = new StringBuilder();
                AtomicInteger pieces = new AtomicInteger();
                AtomicBoolean disconnect = new AtomicBoolean();
                GenerationRequest request = GenerationRequest.builder(prompt).params(params)
                        .listener((text, fromDraft) -> {
                            if (client == 5) {
                                throw broken;
                            }
                            streamed.append(text);
                            if (client % 8 == 3 && pieces.incrementAndGet() == 2) {
                                disconnect.set(true); // the client goes away mid-stream
                            }
                        })
                        .cancelled(disconnect::get).build();
                try {
                    Completion c = own.generate(request);
                    return new Object[]{c, streamed.toString()};
                } catch (IllegalStateException e) {
                    return e;
                }
            });
        }
        List<Object> results = concurrently(calls);
        for (int i = 0; i < 64; i++) {
            if (i == 5) {
                assertSame(broken, results.get(i), "the failing listener's error reaches its caller alone");
                continue;
            }
            Object[] r = (Object[]) results.get(i);
            Completion c = (Completion) r[0];
            assertEquals(c.text(), r[1], "client " + i + " streamed its whole text");
            Completion alone = unbatchedPlain(prompts.get(i % prompts.size()), params);
            if (i % 8 == 3) {
                assertEquals(FinishReason.CANCELLED, c.finishReason(), "client " + i);
                assertTrue(alone.text().startsWith(c.text()), "client " + i + " got a prefix of its output");
            } else {
                assertArrayEquals(alone.tokenIds(), c.tokenIds(), "client " + i);
            }
        }
        assertTrue(own.peakBatchSize() > 4, "peak batch " + own.peakBatchSize());
        own.close();
        assertFalse(engine.isAlive(), "close() joined the engine thread");
        assertEquals(0, own.target().openSequences());
        assertEquals(0, own.draftModel().orElseThrow().openSequences());
        own.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> own.generate("def f():", SamplingParams.greedy(2)));
    }

    @Test
    void anInterruptedCallerGetsWhatWasGeneratedAndKeepsItsInterrupt() throws ExecutionException, InterruptedException {
        Thread.currentThread().interrupt();
        try {
            Completion c = specula.generate(Prompts.CODE.get(0), SamplingParams.greedy(64));
            assertEquals(FinishReason.CANCELLED, c.finishReason());
            assertTrue(Thread.currentThread().isInterrupted(), "the interrupt flag is kept for the caller");
        } finally {
            Thread.interrupted();
        }
        Completion opted = specula.generate(GenerationRequest.builder(Prompts.CODE.get(0))
                .params(SamplingParams.greedy(8)).batched(false).build());
        assertArrayEquals(unbatchedPlain(Prompts.CODE.get(0), SamplingParams.greedy(8)).tokenIds(), opted.tokenIds());
    }

    @Test
    void aRequestArrivingWhileNothingRunsGoesAloneOnItsCallingThreadWithTheSameTokens() {
        Thread caller = Thread.currentThread();
        List<Thread> listenedOn = new java.util.concurrent.CopyOnWriteArrayList<>();
        Completion c = specula.generate(GenerationRequest.builder(Prompts.CODE.get(1)).params(SamplingParams.greedy(16))
                .listener((text, fromDraft) -> listenedOn.add(Thread.currentThread())).build());
        assertFalse(listenedOn.isEmpty());
        assertTrue(listenedOn.stream().allMatch(t -> t == caller), "a lone request runs on its caller's thread");
        assertArrayEquals(unbatchedPlain(Prompts.CODE.get(1), SamplingParams.greedy(16)).tokenIds(), c.tokenIds());
    }
}
