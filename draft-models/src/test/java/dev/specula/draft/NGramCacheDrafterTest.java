package dev.specula.draft;

import dev.specula.core.decode.GenerationResult;
import dev.specula.core.draft.Drafter;
import dev.specula.core.draft.TokenBuffer;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.Scheduling;
import dev.specula.core.testing.ReferenceModel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NGramCacheDrafterTest extends DrafterContract {
    @Override
    Drafter drafter(ReferenceModel target, ReferenceModel draft) {
        return new NGramCacheDrafter(2, 10_000, 1);
    }

    @Test
    void learnsFromFinishedGenerationsAndDraftsRepeatedRequestsForFree() {
        ReferenceModel target = ReferenceModel.builder(VOCAB, 11).build();
        NGramCacheDrafter cache = new NGramCacheDrafter(3, 10_000, 1);
        int[] prompt = prompt(4, 12);
        var decoder = decoder(target, cache, Scheduling.fixed(6));
        GenerationResult first = decoder.generate(prompt, SamplingParams.greedy(60));
        GenerationResult second = decoder.generate(prompt, SamplingParams.greedy(60));
        assertArrayEquals(first.tokens(), second.tokens());
        assertTrue(cache.learnedTransitions() > 0);
        assertTrue(second.metrics().acceptanceRate() > 0.9, "second run " + second.metrics());
        assertTrue(second.metrics().steps() < first.metrics().steps() / 3,
                first.metrics().steps() + " steps, then " + second.metrics().steps());
    }

    @Test
    void memoryIsBoundedByEvictingLeastRecentlyUsedContexts() {
        NGramCacheDrafter cache = new NGramCacheDrafter(2, 160, 1);
        int[] tokens = new int[5000];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (i * 7919) % 1000;
        }
        cache.learn(new TokenBuffer(tokens));
        assertTrue(cache.size() <= 160, "size " + cache.size());
        // The most recent transitions survive eviction.
        TokenBuffer recent = new TokenBuffer(new int[]{tokens[4990], tokens[4991]});
        assertArrayEquals(new int[]{tokens[4992], tokens[4993]}, cache.draft(recent, 2));
    }

    @Test
    void majorityVoteKeepsTheFrequentContinuation() {
        NGramCacheDrafter cache = new NGramCacheDrafter(1, 1000, 2);
        cache.learn(new TokenBuffer(new int[]{1, 2, 1, 2, 1, 3, 1, 2}));
        assertArrayEquals(new int[]{2}, cache.draft(new TokenBuffer(new int[]{1}), 1));
        assertArrayEquals(new int[0], cache.draft(new TokenBuffer(new int[]{3}), 1), "seen once, minCount 2");
    }

    @Test
    void isThreadSafeUnderConcurrentLearningAndDrafting() throws Exception {
        NGramCacheDrafter cache = new NGramCacheDrafter(2, 5000, 1);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int seed = t;
                futures.add(pool.submit(() -> {
                    for (int i = 0; i < 200; i++) {
                        int[] toks = prompt(seed * 1000L + i, 50);
                        cache.learn(new TokenBuffer(toks));
                        cache.draft(new TokenBuffer(toks), 8);
                    }
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(8L * 200 * 48, cache.learnedTransitions());
        assertTrue(cache.size() <= 5000);
    }
}
