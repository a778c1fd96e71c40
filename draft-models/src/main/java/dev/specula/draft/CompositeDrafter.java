package dev.specula.draft;

import dev.specula.core.StepOutcome;
import dev.specula.core.draft.DraftContext;
import dev.specula.core.draft.DraftProposer;
import dev.specula.core.draft.Drafter;
import dev.specula.core.draft.Proposal;
import dev.specula.core.draft.TokenHistory;
import dev.specula.core.schedule.DraftPlan;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.stream.Collectors;

/**
 * Asks its drafters in order and takes the first non-empty proposal: e.g. prompt lookup or the n-gram cache
 * when they have a match (free, and long when the output copies its input), else the draft model. Each drafter
 * gets the plan the scheduler made for its source ({@link DraftPlan#forSource}), so an adaptive scheduler can
 * let a lookup draft long and the model short. Every drafter receives every feedback and the finished output.
 *
 * <pre>{@code
 * Drafter drafter = new CompositeDrafter(List.of(new PromptLookupDrafter(3, 4), new ModelDrafter(draftModel)));
 * }</pre>
 */
public final class CompositeDrafter implements Drafter {
    private final List<Drafter> drafters;

    public CompositeDrafter(List<Drafter> drafters) {
        if (drafters.isEmpty()) {
            throw new IllegalArgumentException("a composite drafter needs at least one drafter");
        }
        this.drafters = List.copyOf(drafters);
        OptionalInt vocab = OptionalInt.empty();
        for (Drafter d : this.drafters) {
            OptionalInt v = d.vocabSize();
            if (v.isPresent() && vocab.isPresent() && v.getAsInt() != vocab.getAsInt()) {
                throw new IllegalArgumentException("drafters disagree on the vocabulary size: " + vocab.getAsInt()
                        + " vs " + v.getAsInt());
            }
            if (v.isPresent()) {
                vocab = v;
            }
        }
    }

    public List<Drafter> drafters() {
        return drafters;
    }

    @Override
    public DraftProposer start(DraftContext context) {
        List<DraftProposer> proposers = new ArrayList<>();
        try {
            for (Drafter d : drafters) {
                proposers.add(d.start(context));
            }
        } catch (RuntimeException e) {
            proposers.forEach(DraftProposer::close);
            throw e;
        }
        return new DraftProposer() {
            @Override
            public Proposal propose(TokenHistory history, DraftPlan plan) {
                for (int i = 0; i < proposers.size(); i++) {
                    DraftPlan own = plan.forSource(drafters.get(i).name());
                    if (own.maxDraftTokens() == 0) {
                        continue; // the scheduler found this source not worth drafting from now
                    }
                    Proposal proposal = proposers.get(i).propose(history, own);
                    if (!proposal.isEmpty()) {
                        return proposal;
                    }
                }
                return Proposal.empty();
            }

            @Override
            public void prefill(TokenHistory history) {
                proposers.forEach(p -> p.prefill(history));
            }

            @Override
            public void feedback(StepOutcome outcome) {
                proposers.forEach(p -> p.feedback(outcome));
            }

            @Override
            public void finish(TokenHistory output) {
                proposers.forEach(p -> p.finish(output));
            }

            @Override
            public void close() {
                RuntimeException failure = null;
                for (DraftProposer p : proposers) {
                    try {
                        p.close();
                    } catch (RuntimeException e) {
                        failure = failure == null ? e : failure;
                    }
                }
                if (failure != null) {
                    throw failure;
                }
            }
        };
    }

    @Override
    public OptionalInt vocabSize() {
        return drafters.stream().map(Drafter::vocabSize).filter(OptionalInt::isPresent).findFirst()
                .orElse(OptionalInt.empty());
    }

    @Override
    public String name() {
        return drafters.stream().map(Drafter::name).collect(Collectors.joining("+", "composite(", ")"));
    }
}
