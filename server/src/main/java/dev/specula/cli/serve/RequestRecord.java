package dev.specula.cli.serve;

import dev.specula.Completion;
import dev.specula.core.decode.GenerationMetrics;

import java.util.Locale;

/**
 * What the access log says about one request: its id, when it arrived, and for a generation its tokens,
 * acceptance and finish reason. Written by the request's thread only.
 */
final class RequestRecord {
    private final String id;
    private final long arrivalNanos;
    private Completion completion;
    private String finishReason;

    RequestRecord(String id, long arrivalNanos) {
        this.id = id;
        this.arrivalNanos = arrivalNanos;
    }

    String id() {
        return id;
    }

    long arrivalNanos() {
        return arrivalNanos;
    }

    /** The generation this request ran, with OpenAI's finish reason (or {@code abort}). */
    void generated(Completion c, String finishReason) {
        this.completion = c;
        this.finishReason = finishReason;
    }

    /**
     * {@code <id> <method> <path> <status> prompt=<n> completion=<n> acceptance=<rate> (<accepted>/<drafted>)
     * finish=<reason> <ms> ms}; the token fields are {@code -} for a request that generated nothing.
     */
    String line(String method, String path, int status) {
        long ms = (System.nanoTime() - arrivalNanos) / 1_000_000;
        if (completion == null) {
            return String.format(Locale.ROOT, "%s %s %s %d prompt=- completion=- acceptance=- %d ms", id, method, path,
                    status, ms);
        }
        GenerationMetrics m = completion.metrics();
        return String.format(Locale.ROOT, "%s %s %s %d prompt=%d completion=%d acceptance=%.3f (%d/%d) finish=%s %d ms",
                id, method, path, status, completion.promptTokens(), completion.tokenIds().length, m.acceptanceRate(),
                m.acceptedTokens(), m.draftedTokens(), finishReason, ms);
    }
}
