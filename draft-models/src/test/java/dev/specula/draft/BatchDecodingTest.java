package dev.specula.draft;

import dev.specula.core.StepOutcome;
import dev.specula.core.decode.BatchDecoder;
import dev.specula.core.decode.BatchEngine;
import dev.specula.core.decode.BatchStepper;
import dev.specula.core.decode.FinishReason;
import dev.specula.core.decode.GenerationResult;
import dev.specula.core.decode.SpeculativeDecoder;
import dev.specula.core.decode.TokenListener;
import dev.specula.core.draft.Drafter;
import dev.specula.core.model.NonFiniteLogitsException;
import dev.specula.core.sampling.SamplingMode;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.BatchScheduler;
import dev.specula.core.schedule.BatchScheduling;
import dev.specula.core.schedule.BatchStepCosts;
import dev.specula.core.schedule.DraftPlan;
import dev.specula.core.schedule.Scheduling;
import dev.specula.core.testing.ReferenceModel;
import dev.specula.verifier.ParallelVerifier;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Batched decoding gives every generation exactly what it gets alone (greedy, and seeded coupled sampling), with one
 * batched target call per step for all rows; rows join, finish, get cancelled and fail without disturbing the others;
 * a newcomer's prefill is chunked; nothing is left open.
 */
class BatchDecodingTest {
    static final int VOCAB = 24;
    final ReferenceModel targetModel = ReferenceModel.builder(VOCAB, 5).order(3).build();
    final RecordingModel target = new RecordingModel(targetModel);
    final ReferenceModel draftModel = ReferenceModel.draftOf(targetModel, 0.7, 6).build();
    final RecordingModel draft = new RecordingModel(draftModel);
    final List<int[]> prompts = prompts();

    /** Prompts of 1 to 40 tokens; some repeat themselves, so prompt lookup finds matches. */
    static List<int[]> prompts() {
        SplittableRandom r = new SplittableRandom(11);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            int n = i == 0 ? 1 : 1 + r.nextInt(40);
            int[] p = r.ints(n, 0, VOCAB).toArray();
            if (i % 3 == 1 && n > 8) {
                System.arraycopy(p, 0, p, n / 2, n - n / 2); // second half repeats the first
            }
            out.add(p);
        }
        return out;
    }

    SpeculativeDecoder.Builder single() {
        return SpeculativeDecoder.builder().target(targetModel).verifier(new ParallelVerifier());
    }

    BatchDecoder.Builder batched(Drafter drafter, BatchScheduling scheduling, int maxBatch) {
        return BatchDecoder.builder().target(target).drafter(drafter).verifier(new ParallelVerifier())
                .scheduling(scheduling).maxBatchSize(maxBatch).prefillChunk(5);
    }

    int[] plain(int[] prompt, SamplingParams params) {
        return single().build().generate(prompt, params).tokens();
    }

    static SamplingParams greedy(int i) {
        return SamplingParams.greedy(12 + 7 * i);
    }

    /** Runs every request through one stepper until all end; returns the results in order. */
    static List<GenerationResult> runAll(BatchDecoder decoder, List<int[]> prompts, List<SamplingParams> params) {
        List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
        try (BatchStepper stepper = decoder.stepper()) {
            for (int i = 0; i < prompts.size(); i++) {
                futures.add(stepper.add(prompts.get(i), params.get(i), TokenListener.NONE, () -> false));
            }
            while (stepper.step()) {
                assertTrue(stepper.running() <= decoder.maxBatchSize());
            }
        }
        return futures.stream().map(CompletableFuture::join).toList();
    }

    Map<String, Drafter> drafters() {
        Map<String, Drafter> d = new LinkedHashMap<>();
        d.put("model", new ModelDrafter(draft));
        d.put("prompt-lookup", new PromptLookupDrafter(1, 4));
        d.put("composite", new CompositeDrafter(List.of(new PromptLookupDrafter(2, 4), new ModelDrafter(draft))));
        return d;
    }

    @Test
    void greedyOutputOfEveryRowEqualsItsPlainGreedyOutputWithOneTargetCallPerStep() {
        List<SamplingParams> params = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            params.add(greedy(i));
        }
        List<int[]> expected = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            expected.add(plain(prompts.get(i), params.get(i)));
        }
        // Plain batched decoding: every step is one call for every running row.
        List<GenerationResult> plainBatch = runAll(batched(null, BatchScheduling.perRow(Scheduling.fixed(0)), 4)
                .build(), prompts, params);
        for (int i = 0; i < prompts.size(); i++) {
            assertArrayEquals(expected.get(i), plainBatch.get(i).tokens(), "plain batched, prompt " + i);
        }
        assertStepsAreBatched(plainBatch, 4);
        for (Map.Entry<String, Drafter> d : drafters().entrySet()) {
            for (Scheduling s : List.of(Scheduling.fixed(3), Scheduling.heuristic(), Scheduling.adaptive())) {
                target.calls.clear();
                draft.calls.clear();
                List<GenerationResult> results = runAll(batched(d.getValue(), BatchScheduling.perRow(s), 4).build(),
                        prompts, params);
                long accepted = 0;
                for (int i = 0; i < prompts.size(); i++) {
                    assertArrayEquals(expected.get(i), results.get(i).tokens(), d.getKey() + " / " + s.name()
                            + ", prompt " + i);
                    assertEquals(FinishReason.MAX_TOKENS, results.get(i).finishReason());
                    accepted += results.get(i).metrics().acceptedTokens();
                }
                // (adaptive may find drafting not worth it at this pure-Java model's costs)
                assertTrue(accepted > 0 || s.name().equals("adaptive"), d.getKey() + " / " + s.name()
                        + " accepted no draft token");
                if (d.getKey().equals("model") && s.name().equals("fixed-3")) {
                    // One draft-model call per draft position for all drafting rows: at most 3 per target call.
                    assertTrue(draft.calls.size() <= 3 * target.calls.size(), draft.calls.size() + " draft calls for "
                            + target.calls.size() + " steps");
                    assertTrue(draft.calls.stream().anyMatch(c -> c.rows() > 1), "draft calls are batched");
                }
                assertStepsAreBatched(results, 4);
            }
        }
        // Goodput scheduling (alone: the row's own scheduler) keeps the outputs too.
        for (BatchScheduling s : List.of(BatchScheduling.goodput(), BatchScheduling.goodputOr(Scheduling.fixed(4)))) {
            List<GenerationResult> results = runAll(batched(new CompositeDrafter(List.of(new PromptLookupDrafter(2, 4),
                    new ModelDrafter(draft))), s, 4).build(), prompts, params);
            for (int i = 0; i < prompts.size(); i++) {
                assertArrayEquals(expected.get(i), results.get(i).tokens(), s.name() + ", prompt " + i);
            }
            assertStepsAreBatched(results, 4);
        }
        assertEquals(0, targetModel.openSequences());
        assertEquals(0, draftModel.openSequences());
        assertEquals(0, target.openBatches());
        assertEquals(0, draft.openBatches());
    }

    /** Plans k = 0 for the first {@code plainSteps} steps, then {@code k} for every row. */
    static BatchScheduling draftingAfter(int plainSteps, int k) {
        return new BatchScheduling() {
            @Override
            public BatchScheduler start(int capacity) {
                return new BatchScheduler() {
                    int steps;

                    @Override
                    public void join(int row) {
                    }

                    @Override
                    public DraftPlan[] plan(int[] rows) {
                        DraftPlan[] plans = new DraftPlan[rows.length];
                        Arrays.fill(plans, DraftPlan.of(++steps > plainSteps ? k : 0));
                        return plans;
                    }

                    @Override
                    public void feedback(int[] rows, StepOutcome[] outcomes, BatchStepCosts costs) {
                    }

                    @Override
                    public void leave(int row, boolean completed) {
                    }
                };
            }

            @Override
            public String name() {
                return "drafting-after-" + plainSteps;
            }
        };
    }

    @Test
    void rowsThatDidNotDraftForManyStepsAreBroughtUpToDateWhenTheyFirstDraftEachOnItsOwn() {
        List<int[]> short4 = List.of(new int[]{1, 2}, new int[]{3, 4}, new int[]{5, 6}, new int[]{7, 8});
        List<SamplingParams> params = List.of(greedy(3), greedy(3), greedy(3), greedy(3));
        draft.calls.clear();
        List<GenerationResult> results = runAll(batched(new ModelDrafter(draft), draftingAfter(16, 3), 4).build(),
                short4, params);
        for (int i = 0; i < short4.size(); i++) {
            assertArrayEquals(plain(short4.get(i), params.get(i)), results.get(i).tokens(), "prompt " + i);
        }
        // A row's draft model state is built when it first drafts (step 17 here), on a sequence of its own that holds
        // only its tokens, not when it joins: a batch that stays plain never pays for it, and no batched draft call
        // carries a long catch-up padded over every row.
        RecordingModel.Call first = draft.calls.get(0);
        assertEquals(4, first.rows(), Arrays.toString(first.tokensPerRow()));
        assertTrue(draft.calls.stream().noneMatch(c -> Arrays.stream(c.tokensPerRow()).anyMatch(n -> n > 8)),
                "no batched catch-up call");
        assertEquals(0, draftModel.openSequences());
        assertEquals(0, draft.openBatches());
    }

    /** Each row's steps were rows of batched target calls, no call held more than the batch, and many held several. */
    void assertStepsAreBatched(List<GenerationResult> results, int maxBatch) {
        int rowSteps = results.stream().mapToInt(r -> r.metrics().steps()).sum();
        int callRows = target.calls.stream().mapToInt(RecordingModel.Call::rows).sum();
        assertEquals(rowSteps, callRows, "every step of every row was a row of a batched target call");
        assertTrue(target.calls.stream().allMatch(c -> c.rows() <= maxBatch));
        // Newcomers join one prefill chunk at a time and rows end at different lengths, so not every call is full.
        assertTrue(callRows > 2 * target.calls.size(), callRows + " rows in " + target.calls.size() + " calls");
        assertTrue(target.calls.stream().anyMatch(c -> c.rows() == maxBatch), "some call held " + maxBatch + " rows");
        target.calls.clear();
    }

    @Test
    void seededCoupledSamplingGivesEveryRowItsUnbatchedTokens() {
        List<SamplingParams> params = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            params.add(SamplingParams.builder().temperature(i % 2 == 0 ? 0.8 : 1.2).topK(i % 3 == 0 ? 8 : 0)
                    .mode(SamplingMode.COUPLED).seed(100 + i).maxNewTokens(15 + 5 * i).build());
        }
        List<int[]> expected = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            expected.add(plain(prompts.get(i), params.get(i)));
        }
        for (Map.Entry<String, Drafter> d : drafters().entrySet()) {
            for (Scheduling s : List.of(Scheduling.fixed(1), Scheduling.fixed(4), Scheduling.heuristic())) {
                List<GenerationResult> results = runAll(batched(d.getValue(), BatchScheduling.perRow(s), 3).build(),
                        prompts, params);
                for (int i = 0; i < prompts.size(); i++) {
                    assertArrayEquals(expected.get(i), results.get(i).tokens(), d.getKey() + " / " + s.name()
                            + ", prompt " + i);
                    assertEquals(100 + i, results.get(i).metrics().seed());
                }
            }
        }
        // A row given no seed draws one from the source, reports it, and replays with it alone.
        AtomicInteger drawn = new AtomicInteger();
        SamplingParams unseeded = SamplingParams.builder().temperature(1).maxNewTokens(20).build();
        List<GenerationResult> results = runAll(batched(new ModelDrafter(draft), BatchScheduling.perRow(
                        Scheduling.fixed(2)), 4).seedSource(() -> 500 + drawn.getAndIncrement()).build(),
                prompts.subList(0, 4), List.of(unseeded, unseeded, unseeded, unseeded));
        for (int i = 0; i < 4; i++) {
            long seed = results.get(i).metrics().seed();
            assertEquals(500 + i, seed);
            assertArrayEquals(plain(prompts.get(i), unseeded.toBuilder().seed(seed).build()), results.get(i).tokens());
        }
    }

    @Test
    void rowsJoinFinishGetCancelledAndFailMidBatchWithoutDisturbingTheOthers() {
        BatchDecoder decoder = batched(new ModelDrafter(draft), BatchScheduling.perRow(Scheduling.fixed(3)), 8).build();
        int[] pa = prompts.get(3);
        int[] pb = prompts.get(4);
        int[] pc = prompts.get(5);
        int[] pd = prompts.get(6);
        int[] pe = prompts.get(7);
        int[] pf = prompts.get(8);
        AtomicBoolean cancelC = new AtomicBoolean();
        AtomicInteger seenC = new AtomicInteger();
        AtomicInteger seenD = new AtomicInteger();
        AtomicInteger polledF = new AtomicInteger();
        IllegalStateException listenerFault = new IllegalStateException("listener D broke");
        CompletableFuture<GenerationResult> a;
        CompletableFuture<GenerationResult> b;
        CompletableFuture<GenerationResult> c;
        CompletableFuture<GenerationResult> d;
        CompletableFuture<GenerationResult> e;
        CompletableFuture<GenerationResult> f;
        try (BatchStepper stepper = decoder.stepper()) {
            a = stepper.add(pa, SamplingParams.greedy(60), TokenListener.NONE, () -> false);
            b = stepper.add(pb, SamplingParams.greedy(5), TokenListener.NONE, () -> false);
            c = stepper.add(pc, SamplingParams.greedy(60), (t, fromDraft) -> {
                if (seenC.incrementAndGet() == 4) {
                    cancelC.set(true);
                }
            }, cancelC::get);
            d = stepper.add(pd, SamplingParams.greedy(60), (t, fromDraft) -> {
                if (seenD.incrementAndGet() == 6) {
                    throw listenerFault;
                }
            }, () -> false);
            f = stepper.add(pf, SamplingParams.greedy(60), TokenListener.NONE, () -> {
                if (polledF.incrementAndGet() == 7) {
                    throw new IllegalArgumentException("cancellation flag F broke");
                }
                return false;
            });
            for (int i = 0; i < 200 && !b.isDone(); i++) {
                stepper.step();
            }
            assertTrue(b.isDone() && !a.isDone(), "the 5-token generation ended while the others run");
            e = stepper.add(pe, SamplingParams.greedy(30), TokenListener.NONE, () -> false); // joins mid-batch
            while (stepper.step()) {
                assertTrue(stepper.running() <= 8);
            }
        }
        assertArrayEquals(plain(pa, SamplingParams.greedy(60)), a.join().tokens());
        assertArrayEquals(plain(pb, SamplingParams.greedy(5)), b.join().tokens());
        assertArrayEquals(plain(pe, SamplingParams.greedy(30)), e.join().tokens());
        GenerationResult cancelled = c.join();
        assertEquals(FinishReason.CANCELLED, cancelled.finishReason());
        assertTrue(cancelled.tokens().length >= 4 && cancelled.tokens().length < 60, cancelled.toString());
        assertArrayEquals(Arrays.copyOf(plain(pc, SamplingParams.greedy(60)), cancelled.tokens().length),
                cancelled.tokens());
        CompletionException failedD = assertThrows(CompletionException.class, d::join);
        assertSame(listenerFault, failedD.getCause());
        CompletionException failedF = assertThrows(CompletionException.class, f::join);
        assertTrue(failedF.getCause().getMessage().contains("flag F"), failedF.getCause().getMessage());
        assertEquals(0, targetModel.openSequences());
        assertEquals(0, draftModel.openSequences());
        assertEquals(0, target.openBatches());
        assertEquals(0, draft.openBatches());
    }

    @Test
    void aNewcomersPrefillIsChunkedSoRunningRowsAdvanceEveryStep() {
        int[] longPrompt = new SplittableRandom(3).ints(41, 0, VOCAB).toArray();
        BatchDecoder decoder = batched(new ModelDrafter(draft), BatchScheduling.perRow(Scheduling.fixed(2)), 4)
                .prefillChunk(8).build();
        AtomicInteger streamed = new AtomicInteger();
        CompletableFuture<GenerationResult> newcomer;
        CompletableFuture<GenerationResult> runner;
        try (BatchStepper stepper = decoder.stepper()) {
            runner = stepper.add(prompts.get(2), SamplingParams.greedy(200), (t, fromDraft) -> streamed.incrementAndGet(),
                    () -> false);
            while (stepper.running() == 0) {
                stepper.step(); // the runner's own prefill
            }
            stepper.step();
            newcomer = stepper.add(longPrompt, SamplingParams.greedy(20), TokenListener.NONE, () -> false);
            // 40 tokens before the last one, 8 per step: 5 steps of prefill, each also a step of the running row.
            for (int i = 1; i <= 5; i++) {
                int before = streamed.get();
                stepper.step();
                assertTrue(streamed.get() > before, "the running row advanced during prefill step " + i);
                assertEquals(i < 5 ? 1 : 0, stepper.waiting(), "after prefill step " + i);
                assertEquals(i < 5 ? 1 : 2, stepper.running(), "after prefill step " + i);
            }
            while (stepper.step()) {
                // run to the end
            }
        }
        assertArrayEquals(plain(longPrompt, SamplingParams.greedy(20)), newcomer.join().tokens());
        assertArrayEquals(plain(prompts.get(2), SamplingParams.greedy(200)), runner.join().tokens());
        assertEquals(5, newcomer.join().metrics().targetCalls() - newcomer.join().metrics().steps(),
                "five prefill chunks");
    }

    @Test
    void aBurstOfShortPromptsJoinsInOneStepWithinThePrefillBudget() {
        // Prefill budget 5 tokens a step: prompts of 3 tokens prefill 2 each, so two join per step (the third's first
        // token fits, the rest waits), and the outputs are each prompt's plain ones.
        List<int[]> burst = List.of(new int[]{1, 2, 3}, new int[]{4, 5, 6}, new int[]{7, 8, 9}, new int[]{10, 11, 12});
        BatchDecoder decoder = batched(new ModelDrafter(draft), BatchScheduling.perRow(Scheduling.fixed(2)), 4).build();
        List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
        try (BatchStepper stepper = decoder.stepper()) {
            for (int[] p : burst) {
                futures.add(stepper.add(p, greedy(1), TokenListener.NONE, () -> false));
            }
            stepper.step();
            assertEquals(2, stepper.running(), "after the first step");
            assertEquals(2, stepper.waiting(), "after the first step");
            stepper.step();
            assertEquals(4, stepper.running(), "after the second step: the third's last token, all of the fourth");
            while (stepper.step()) {
                // run to the end
            }
        }
        for (int i = 0; i < burst.size(); i++) {
            assertArrayEquals(plain(burst.get(i), greedy(1)), futures.get(i).join().tokens(), "prompt " + i);
        }
        assertEquals(2, futures.get(2).join().metrics().targetCalls() - futures.get(2).join().metrics().steps(),
                "the third prompt's prefill took two chunks");
        assertEquals(0, targetModel.openSequences());
    }

    @Test
    void nonFiniteLogitsFailTheirRowsAndLeaveNothingOpen() {
        ReferenceModel broken = ReferenceModel.builder(VOCAB, 5).build();
        ReferenceModel brokenDraft = ReferenceModel.draftOf(broken, 0.5, 1).build();
        BatchDecoder decoder = BatchDecoder.builder().target(broken).drafter(new ModelDrafter(brokenDraft))
                .verifier(new ParallelVerifier()).scheduling(BatchScheduling.perRow(Scheduling.fixed(2)))
                .maxBatchSize(4).build();
        broken.failWithNaNAfter(12);
        List<GenerationResult> ok = new ArrayList<>();
        List<Throwable> failed = new ArrayList<>();
        try (BatchStepper stepper = decoder.stepper()) {
            List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
            for (int i = 1; i < 5; i++) {
                futures.add(stepper.add(prompts.get(i), SamplingParams.greedy(50), TokenListener.NONE, () -> false));
            }
            while (stepper.step()) {
                // run to the end
            }
            for (CompletableFuture<GenerationResult> f : futures) {
                f.handle((r, e) -> e == null ? ok.add(r) : failed.add(e.getCause() != null ? e.getCause() : e)).join();
            }
        }
        assertEquals(4, failed.size(), "every row's logits turned NaN: " + ok);
        for (Throwable t : failed) {
            assertTrue(t instanceof NonFiniteLogitsException, t.toString());
        }
        assertEquals(0, broken.openSequences());
        assertEquals(0, brokenDraft.openSequences());
    }

    @Test
    void sixtyFourConcurrentStreamsThroughTheEngineThreadLeakNothing() throws Exception {
        BatchDecoder decoder = batched(new CompositeDrafter(List.of(new PromptLookupDrafter(2, 4),
                new ModelDrafter(draft))), BatchScheduling.perRow(Scheduling.fixed(3)), 16).build();
        ExecutorService clients = Executors.newFixedThreadPool(16);
        BatchEngine engine = decoder.start();
        try {
            List<Future<int[]>> outputs = new ArrayList<>();
            List<List<Integer>> streamed = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                int[] prompt = prompts.get(i % prompts.size());
                SamplingParams params = i % 2 == 0 ? greedy(i % 5)
                        : SamplingParams.builder().temperature(0.9).seed(i).maxNewTokens(25).build();
                List<Integer> tokens = java.util.Collections.synchronizedList(new ArrayList<>());
                streamed.add(tokens);
                outputs.add(clients.submit(() -> engine.submit(prompt, params, (t, fromDraft) -> tokens.add(t),
                        () -> false).get().tokens()));
            }
            for (int i = 0; i < 64; i++) {
                int[] prompt = prompts.get(i % prompts.size());
                SamplingParams params = i % 2 == 0 ? greedy(i % 5)
                        : SamplingParams.builder().temperature(0.9).seed(i).maxNewTokens(25).build();
                int[] got = outputs.get(i).get(60, TimeUnit.SECONDS);
                assertArrayEquals(plain(prompt, params), got, "stream " + i);
                assertArrayEquals(got, streamed.get(i).stream().mapToInt(Integer::intValue).toArray(),
                        "stream " + i + " streamed each token once, in order");
            }
        } finally {
            clients.shutdown();
            engine.close();
        }
        assertFalse(engine.thread().isAlive(), "close() joined the engine thread");
        assertEquals(0, targetModel.openSequences());
        assertEquals(0, draftModel.openSequences());
        assertEquals(0, target.openBatches());
        assertEquals(0, draft.openBatches());
        assertThrows(IllegalStateException.class, () -> engine.submit(prompts.get(1), SamplingParams.greedy(3),
                TokenListener.NONE, () -> false));
        engine.close(); // idempotent
    }

    @Test
    void closingTheEngineCancelsWhatIsRunningAndQueued() {
        ReferenceModel big = ReferenceModel.builder(VOCAB, 5).maxLength(100_000).build();
        BatchDecoder decoder = BatchDecoder.builder().target(big).verifier(new ParallelVerifier()).maxBatchSize(2)
                .build();
        BatchEngine engine = decoder.start();
        List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
        CompletableFuture<Void> started = new CompletableFuture<>();
        for (int i = 0; i < 4; i++) {
            futures.add(engine.submit(prompts.get(1), SamplingParams.greedy(90_000),
                    (t, fromDraft) -> started.complete(null), () -> false));
        }
        started.join();
        engine.close();
        for (CompletableFuture<GenerationResult> f : futures) {
            GenerationResult r = f.join();
            assertEquals(FinishReason.CANCELLED, r.finishReason());
            assertTrue(r.tokens().length < 90_000);
        }
        assertEquals(0, big.openSequences());
        assertFalse(engine.thread().isAlive());
    }

    @Test
    void invalidRequestsFailAtSubmission() {
        BatchDecoder decoder = batched(null, BatchScheduling.perRow(Scheduling.fixed(0)), 2).build();
        try (BatchStepper stepper = decoder.stepper(); BatchEngine engine = decoder.start()) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> stepper.add(new int[0],
                    SamplingParams.greedy(3), TokenListener.NONE, () -> false)).getMessage().contains("at least one"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> engine.submit(new int[]{1, VOCAB},
                    SamplingParams.greedy(3), TokenListener.NONE, () -> false)).getMessage().contains("[0, 24)"));
        }
        assertThrows(IllegalArgumentException.class, () -> BatchDecoder.builder().target(target)
                .verifier(new ParallelVerifier()).maxBatchSize(0).build());
        assertThrows(IllegalArgumentException.class, () -> BatchDecoder.builder().target(target)
                .verifier(new ParallelVerifier()).drafter(new ModelDrafter(ReferenceModel.builder(VOCAB + 1, 1)
                        .build())).build());
    }
}
