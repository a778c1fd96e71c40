package dev.specula.langchain4j;

import dev.langchain4j.model.chat.response.ChatResponseMetadata;
import dev.specula.core.decode.GenerationMetrics;

import java.util.Objects;

/**
 * LangChain4j's response metadata plus what the speculative generation measured.
 *
 * <pre>{@code
 * ChatResponse response = model.chat(request);
 * SpeculaChatResponseMetadata m = (SpeculaChatResponseMetadata) response.metadata();
 * System.out.printf("acceptance %.2f, %.2f tokens per target call%n", m.acceptanceRate(), m.meanTokensPerTargetCall());
 * }</pre>
 */
public class SpeculaChatResponseMetadata extends ChatResponseMetadata {
    private final GenerationMetrics metrics;
    private final boolean speculative;

    protected SpeculaChatResponseMetadata(Builder builder) {
        super(builder);
        this.metrics = Objects.requireNonNull(builder.metrics, "metrics");
        this.speculative = builder.speculative;
    }

    /** Everything the generation measured: drafted and accepted tokens, target calls, draft lengths, timings. */
    public GenerationMetrics metrics() {
        return metrics;
    }

    /** Whether the generation drafted (false: plain decoding, the baseline). */
    public boolean speculative() {
        return speculative;
    }

    /** Accepted over drafted tokens; 0 when nothing was drafted. */
    public double acceptanceRate() {
        return metrics.acceptanceRate();
    }

    /** Generated tokens per decoding step (one target call each); 1 for plain decoding. */
    public double meanTokensPerTargetCall() {
        return metrics.meanTokensPerTargetCall();
    }

    /** Mean draft length the scheduler chose per step. */
    public double meanDraftLength() {
        return metrics.meanDraftLength();
    }

    @Override
    public Builder toBuilder() {
        return ((Builder) toBuilder(builder())).metrics(metrics).speculative(speculative);
    }

    @Override
    public boolean equals(Object o) {
        return super.equals(o) && o instanceof SpeculaChatResponseMetadata that && metrics.equals(that.metrics)
                && speculative == that.speculative;
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), metrics, speculative);
    }

    @Override
    public String toString() {
        return "SpeculaChatResponseMetadata{" + super.toString() + ", speculative=" + speculative + ", metrics="
                + metrics + '}';
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builder: {@code metrics} is required. */
    public static class Builder extends ChatResponseMetadata.Builder<Builder> {
        private GenerationMetrics metrics;
        private boolean speculative = true;

        public Builder metrics(GenerationMetrics metrics) {
            this.metrics = metrics;
            return this;
        }

        public Builder speculative(boolean speculative) {
            this.speculative = speculative;
            return this;
        }

        @Override
        public SpeculaChatResponseMetadata build() {
            return new SpeculaChatResponseMetadata(this);
        }
    }
}
