package dev.specula.cli.serve;

import dev.specula.Completion;
import dev.specula.GenerationRequest;
import dev.specula.Prompt;
import dev.specula.core.decode.FinishReason;
import dev.specula.core.decode.GenerationMetrics;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for Specula behind the server: each step polls the cancellation flag (as the decoder does), emits the
 * text {@code "t<i> "} and "drafts" {@value #DRAFT} tokens of which {@value #ACCEPTED} are accepted. A prompt
 * containing {@code "gate"} makes every step wait for a permit of {@link #gate}; {@code "slow"} sleeps
 * {@value #SLOW_STEP_MS} ms per step; {@code "prefill"} first waits for a permit of {@link #gate} without polling the
 * flag (as a long prefill does); {@code "bug"} throws; {@code "reject"} throws IllegalArgumentException.
 */
final class FakeEngine implements CompletionEngine {
    static final int DRAFT = 4;
    static final int ACCEPTED = 2;
    static final int PROMPT_TOKENS = 5;
    static final long SLOW_STEP_MS = 5;

    final Semaphore gate = new Semaphore(0);
    final AtomicInteger running = new AtomicInteger();
    final List<Completion> finished = new CopyOnWriteArrayList<>();
    final List<GenerationRequest> requests = new CopyOnWriteArrayList<>();

    @Override
    public Completion generate(GenerationRequest request) {
        requests.add(request);
        String prompt = promptText(request.prompt());
        if (prompt.contains("bug")) {
            throw new IllegalStateException("a bug in the engine");
        }
        if (prompt.contains("reject")) {
            throw new IllegalArgumentException("prompt has 9999 tokens but the context holds 2048");
        }
        running.incrementAndGet();
        try {
            if (prompt.contains("prefill")) {
                gate.acquireUninterruptibly();
            }
            int max = request.params().maxNewTokens();
            int steps = 0;
            FinishReason reason = FinishReason.MAX_TOKENS;
            while (steps < max) {
                if (request.cancelled().getAsBoolean()) {
                    reason = FinishReason.CANCELLED;
                    break;
                }
                if (prompt.contains("gate")) {
                    try {
                        while (!gate.tryAcquire(10, TimeUnit.MILLISECONDS)) {
                            if (request.cancelled().getAsBoolean()) {
                                throw new InterruptedException("cancelled while gated");
                            }
                        }
                    } catch (InterruptedException e) {
                        reason = FinishReason.CANCELLED;
                        break;
                    }
                }
                if (prompt.contains("slow")) {
                    sleep(SLOW_STEP_MS);
                }
                request.listener().onText("t" + steps + " ", false);
                steps++;
            }
            int[] tokens = new int[steps];
            Arrays.fill(tokens, 7);
            int[] draftLengths = new int[steps];
            Arrays.fill(draftLengths, DRAFT);
            GenerationMetrics m = new GenerationMetrics(PROMPT_TOKENS, steps, DRAFT * steps, ACCEPTED * steps, steps,
                    steps + 1, DRAFT * steps, 1_000, 2_000, 3_000, 10_000, draftLengths, 42);
            StringBuilder text = new StringBuilder();
            for (int i = 0; i < steps; i++) {
                text.append("t").append(i).append(' ');
            }
            Completion c = new Completion(text.toString(), tokens, PROMPT_TOKENS, reason, m);
            finished.add(c);
            return c;
        } finally {
            running.decrementAndGet();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String promptText(Prompt p) {
        if (p instanceof Prompt.Text t) {
            return t.text();
        }
        if (p instanceof Prompt.Chat c) {
            return c.messages().toString();
        }
        return "";
    }
}
