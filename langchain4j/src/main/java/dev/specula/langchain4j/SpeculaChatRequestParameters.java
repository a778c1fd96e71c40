package dev.specula.langchain4j;

import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;

import java.util.Objects;

/**
 * LangChain4j's common chat parameters plus Specula's own: the sampling {@code seed} and whether to decode
 * {@code speculative}ly. Pass it as a request's parameters (or as an {@code AiServices} method argument) to set
 * them per request; {@link SpeculaChatModel.Builder#seed(long)} sets the model's default.
 *
 * <pre>{@code
 * ChatRequest request = ChatRequest.builder()
 *         .messages(UserMessage.from("Write a haiku"))
 *         .parameters(SpeculaChatRequestParameters.builder().temperature(0.8).seed(42L).build())
 *         .build();
 * }</pre>
 *
 * <p>Merging follows LangChain4j: a value set here overrides the model's default; one left {@code null} keeps it.
 */
public class SpeculaChatRequestParameters extends DefaultChatRequestParameters {
    private final Long seed;
    private final Boolean speculative;

    protected SpeculaChatRequestParameters(Builder builder) {
        super(builder);
        this.seed = builder.seed;
        this.speculative = builder.speculative;
    }

    /** Seed of the generation's random source (sampling and acceptance draws); null for Specula's default. */
    public Long seed() {
        return seed;
    }

    /** False decodes plainly (no drafts), true speculatively; null for the model's default (speculative). */
    public Boolean speculative() {
        return speculative;
    }

    @Override
    public SpeculaChatRequestParameters overrideWith(ChatRequestParameters that) {
        return builder().overrideWith(this).overrideWith(that).build();
    }

    @Override
    public SpeculaChatRequestParameters defaultedBy(ChatRequestParameters that) {
        return builder().overrideWith(that).overrideWith(this).build();
    }

    @Override
    public boolean equals(Object o) {
        return super.equals(o) && o instanceof SpeculaChatRequestParameters that && Objects.equals(seed, that.seed)
                && Objects.equals(speculative, that.speculative);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), seed, speculative);
    }

    @Override
    public String toString() {
        return "SpeculaChatRequestParameters{" + super.toString() + ", seed=" + seed + ", speculative=" + speculative
                + '}';
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builder of {@link SpeculaChatRequestParameters}; every value is optional. */
    public static class Builder extends DefaultChatRequestParameters.Builder<Builder> {
        private Long seed;
        private Boolean speculative;

        /** Copies every value {@code parameters} sets, Specula's own included when it is a Specula instance. */
        @Override
        public Builder overrideWith(ChatRequestParameters parameters) {
            super.overrideWith(parameters);
            if (parameters instanceof SpeculaChatRequestParameters specula) {
                if (specula.seed() != null) {
                    seed = specula.seed();
                }
                if (specula.speculative() != null) {
                    speculative = specula.speculative();
                }
            }
            return this;
        }

        public Builder seed(Long seed) {
            this.seed = seed;
            return this;
        }

        public Builder speculative(Boolean speculative) {
            this.speculative = speculative;
            return this;
        }

        @Override
        public SpeculaChatRequestParameters build() {
            return new SpeculaChatRequestParameters(this);
        }
    }
}
