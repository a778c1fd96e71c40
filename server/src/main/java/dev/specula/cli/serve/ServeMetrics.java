package dev.specula.cli.serve;

import dev.specula.Completion;
import dev.specula.core.decode.GenerationMetrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The server's Micrometer meters, scraped in Prometheus' text format at {@code GET /metrics}. Names follow vLLM's
 * (e.g. {@code vllm:spec_decode_num_draft_tokens_total}) with the prefix {@code specula_}:
 * <ul>
 *   <li>{@code specula_requests_total{endpoint, status}}: every HTTP request answered</li>
 *   <li>{@code specula_request_success_total{finished_reason}}: generations that finished (stop, length, abort)</li>
 *   <li>{@code specula_prompt_tokens_total}, {@code specula_generation_tokens_total}</li>
 *   <li>{@code specula_spec_decode_num_drafts_total} (steps that drafted),
 *       {@code specula_spec_decode_num_draft_tokens_total}, {@code specula_spec_decode_num_accepted_tokens_total}</li>
 *   <li>{@code specula_spec_decode_draft_acceptance_rate}: accepted over drafted tokens, since start</li>
 *   <li>{@code specula_spec_decode_mean_acceptance_length}: 1 + accepted tokens per drafting step, since start
 *       (vLLM's "mean acceptance length": the tokens a drafting step yields)</li>
 *   <li>{@code specula_spec_decode_draft_length}: histogram of the draft length chosen at each step (bucket
 *       {@code le="0.5"}: steps that did not draft)</li>
 *   <li>{@code specula_step_latency_seconds}: histogram of decoding steps (one target call each)</li>
 *   <li>{@code specula_e2e_request_latency_seconds}, {@code specula_time_to_first_token_seconds},
 *       {@code specula_request_queue_time_seconds}: histograms per generation</li>
 *   <li>{@code specula_num_requests_running}, {@code specula_num_requests_waiting}: gauges</li>
 * </ul>
 */
final class ServeMetrics {
    /** Upper bounds of the draft-length buckets; 0.5 counts the steps that did not draft (bounds must be > 0). */
    private static final double[] DRAFT_LENGTH_BUCKETS = {0.5, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 24, 32, 48, 64};
    private static final Duration[] STEP_BUCKETS = millis(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000);
    private static final Duration[] REQUEST_BUCKETS = millis(10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000,
            30_000, 60_000, 120_000, 300_000);

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter promptTokens;
    private final Counter generationTokens;
    private final Counter drafts;
    private final Counter draftTokens;
    private final Counter acceptedTokens;
    private final DistributionSummary draftLength;
    private final Timer stepLatency;
    private final Timer requestLatency;
    private final Timer timeToFirstToken;
    private final Timer queueTime;
    // Exact totals for the ratio gauges (Counter.count() is a double).
    private final AtomicLong draftsTotal = new AtomicLong();
    private final AtomicLong draftTokensTotal = new AtomicLong();
    private final AtomicLong acceptedTotal = new AtomicLong();

    ServeMetrics(Admission admission) {
        promptTokens = Counter.builder("specula.prompt.tokens").description("Prompt tokens of finished generations")
                .register(registry);
        generationTokens = Counter.builder("specula.generation.tokens").description("Generated tokens")
                .register(registry);
        drafts = Counter.builder("specula.spec_decode.num_drafts").description("Decoding steps that drafted")
                .register(registry);
        draftTokens = Counter.builder("specula.spec_decode.num_draft_tokens")
                .description("Draft tokens proposed and verified").register(registry);
        acceptedTokens = Counter.builder("specula.spec_decode.num_accepted_tokens")
                .description("Draft tokens accepted").register(registry);
        Gauge.builder("specula.spec_decode.draft_acceptance_rate", this, ServeMetrics::acceptanceRate)
                .description("Accepted over drafted tokens since start (0 before any draft)").register(registry);
        Gauge.builder("specula.spec_decode.mean_acceptance_length", this, ServeMetrics::meanAcceptanceLength)
                .description("1 + accepted tokens per drafting step since start (0 before any draft)")
                .register(registry);
        draftLength = DistributionSummary.builder("specula.spec_decode.draft_length")
                .description("Draft length chosen at each decoding step").serviceLevelObjectives(DRAFT_LENGTH_BUCKETS)
                .register(registry);
        stepLatency = Timer.builder("specula.step.latency").description("Wall time of one decoding step")
                .serviceLevelObjectives(STEP_BUCKETS).register(registry);
        requestLatency = Timer.builder("specula.e2e_request_latency")
                .description("Arrival to last token of each generation").serviceLevelObjectives(REQUEST_BUCKETS)
                .register(registry);
        timeToFirstToken = Timer.builder("specula.time_to_first_token")
                .description("Arrival to the first text of each generation").serviceLevelObjectives(REQUEST_BUCKETS)
                .register(registry);
        queueTime = Timer.builder("specula.request.queue_time")
                .description("Time each generation waited for a slot").serviceLevelObjectives(REQUEST_BUCKETS)
                .register(registry);
        Gauge.builder("specula.num_requests_running", admission, Admission::running)
                .description("Generations running").register(registry);
        Gauge.builder("specula.num_requests_waiting", admission, Admission::waiting)
                .description("Requests waiting for a generation slot").register(registry);
    }

    private static Duration[] millis(long... values) {
        Duration[] d = new Duration[values.length];
        for (int i = 0; i < values.length; i++) {
            d[i] = Duration.ofMillis(values[i]);
        }
        return d;
    }

    MeterRegistry registry() {
        return registry;
    }

    /** The Prometheus text exposition of every meter. */
    String scrape() {
        return registry.scrape();
    }

    /** One answered HTTP request. */
    void request(String endpoint, int status) {
        Counter.builder("specula.requests").description("HTTP requests answered, by endpoint and status")
                .tag("endpoint", endpoint).tag("status", Integer.toString(status)).register(registry).increment();
    }

    /** One decoding step of {@code nanos}. */
    void step(long nanos) {
        stepLatency.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** The time a generation waited for its slot. */
    void queued(long nanos) {
        queueTime.record(nanos, TimeUnit.NANOSECONDS);
    }

    /**
     * A generation that ran: its tokens, drafts and latencies.
     *
     * @param finishReason   OpenAI's finish reason, or {@code abort} when the client left or the server stopped
     * @param firstTextNanos arrival to the first text, or a negative value when no text came
     */
    void finished(Completion c, String finishReason, long latencyNanos, long firstTextNanos) {
        GenerationMetrics m = c.metrics();
        Counter.builder("specula.request.success").description("Generations finished, by OpenAI finish reason")
                .tag("finished_reason", finishReason).register(registry).increment();
        promptTokens.increment(c.promptTokens());
        generationTokens.increment(c.tokenIds().length);
        draftTokens.increment(m.draftedTokens());
        acceptedTokens.increment(m.acceptedTokens());
        draftTokensTotal.addAndGet(m.draftedTokens());
        acceptedTotal.addAndGet(m.acceptedTokens());
        int drafting = 0;
        for (int k : m.draftLengths()) {
            draftLength.record(k);
            if (k > 0) {
                drafting++;
            }
        }
        drafts.increment(drafting);
        draftsTotal.addAndGet(drafting);
        requestLatency.record(latencyNanos, TimeUnit.NANOSECONDS);
        if (firstTextNanos >= 0) {
            timeToFirstToken.record(firstTextNanos, TimeUnit.NANOSECONDS);
        }
    }

    private double acceptanceRate() {
        long drafted = draftTokensTotal.get();
        return drafted == 0 ? 0 : (double) acceptedTotal.get() / drafted;
    }

    private double meanAcceptanceLength() {
        long n = draftsTotal.get();
        return n == 0 ? 0 : 1 + (double) acceptedTotal.get() / n;
    }
}
