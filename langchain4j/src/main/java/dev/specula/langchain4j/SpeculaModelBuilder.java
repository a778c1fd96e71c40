package dev.specula.langchain4j;

import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.specula.Specula;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The options {@link SpeculaChatModel.Builder} and {@link SpeculaStreamingChatModel.Builder} share. The model runs
 * either on a {@link Specula} instance the caller gives ({@link #specula(Specula)}: the caller owns it and closes
 * it after the model) or on one the model loads from model directories ({@link #target(Path)}, optionally
 * {@link #draftModel(Path)}: the model owns it and closes it in its {@code close()}).
 *
 * <p>Default parameters follow LangChain4j: a request's own parameters override them. Without any, a reply is
 * greedy, speculative, and may run until the model ends its turn or the context is full.
 *
 * @param <B> the concrete builder
 */
public abstract class SpeculaModelBuilder<B extends SpeculaModelBuilder<B>> {
    private Specula specula;
    private Path target;
    private Path draftModel;
    private String modelName;
    private final SpeculaChatRequestParameters.Builder defaults = SpeculaChatRequestParameters.builder();
    private final List<ChatModelListener> listeners = new ArrayList<>();

    SpeculaModelBuilder() {
    }

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }

    /** Runs on {@code specula}; the caller keeps owning it and closes it (after the model). */
    public B specula(Specula specula) {
        this.specula = Objects.requireNonNull(specula, "specula");
        return self();
    }

    /**
     * Loads the target model from {@code dir} (an Optimum export: model.onnx, config.json, tokenizer.json) when the
     * model is built, with prompt lookup drafting; the model owns what it loads and closes it in {@code close()}.
     */
    public B target(Path dir) {
        this.target = Objects.requireNonNull(dir, "dir");
        return self();
    }

    /** A draft model directory sharing the target's tokenizer, loaded with {@link #target(Path)}. */
    public B draftModel(Path dir) {
        this.draftModel = Objects.requireNonNull(dir, "dir");
        return self();
    }

    /** The name responses report and requests may name (default: the target directory's name). */
    public B modelName(String modelName) {
        this.modelName = Objects.requireNonNull(modelName, "modelName");
        return self();
    }

    /** Default parameters, merged over those already set (a {@link SpeculaChatRequestParameters} may add a seed). */
    public B defaultRequestParameters(ChatRequestParameters parameters) {
        defaults.overrideWith(Objects.requireNonNull(parameters, "parameters"));
        return self();
    }

    /** Default temperature: 0 (the default) is greedy. */
    public B temperature(double temperature) {
        defaults.temperature(temperature);
        return self();
    }

    /** Default nucleus sampling mass, in (0, 1]; 1 (the default) disables it. */
    public B topP(double topP) {
        defaults.topP(topP);
        return self();
    }

    /** Default top-k; 0 (the default) disables it. */
    public B topK(int topK) {
        defaults.topK(topK);
        return self();
    }

    /** Default limit of generated tokens (default: up to the end of the context). */
    public B maxOutputTokens(int maxOutputTokens) {
        defaults.maxOutputTokens(maxOutputTokens);
        return self();
    }

    /** Default stop sequences (excluded from the reply). */
    public B stopSequences(List<String> stopSequences) {
        defaults.stopSequences(List.copyOf(stopSequences));
        return self();
    }

    /** Default seed of sampling and acceptance draws (default: none, a fresh seed per request). */
    public B seed(long seed) {
        defaults.seed(seed);
        return self();
    }

    /** False decodes plainly by default (the baseline); true (the default) speculatively. */
    public B speculative(boolean speculative) {
        defaults.speculative(speculative);
        return self();
    }

    /** Listeners LangChain4j calls around each request. */
    public B listeners(List<ChatModelListener> listeners) {
        this.listeners.addAll(listeners);
        return self();
    }

    /** The engine over the given or loaded {@link Specula}; {@code ownerName} names the model in errors. */
    SpeculaChatEngine engine(String ownerName) {
        if (specula != null && (target != null || draftModel != null)) {
            throw new IllegalStateException("set either specula(...) (an instance you own) or target(...)"
                    + " and draftModel(...) (directories the model loads and owns), not both");
        }
        if (specula == null && target == null) {
            throw new IllegalStateException("a " + ownerName + " needs specula(...) or target(...); neither was set");
        }
        boolean owned = specula == null;
        Specula s = specula;
        if (owned) {
            Specula.Builder b = Specula.builder().target(target).promptLookup();
            if (draftModel != null) {
                b.draftModel(draftModel);
            }
            s = b.build();
        }
        try {
            String name = modelName != null ? modelName : s.target().name();
            SpeculaChatRequestParameters merged = SpeculaChatRequestParameters.builder().modelName(name)
                    .overrideWith(defaults.build()).build();
            return new SpeculaChatEngine(s, owned, name, merged, listeners, ownerName);
        } catch (RuntimeException e) {
            if (owned) {
                s.close();
            }
            throw e;
        }
    }
}
