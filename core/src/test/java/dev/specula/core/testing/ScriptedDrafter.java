package dev.specula.core.testing;

import dev.specula.core.draft.DraftContext;
import dev.specula.core.draft.DraftProposer;
import dev.specula.core.draft.Drafter;
import dev.specula.core.draft.Proposal;
import dev.specula.core.draft.TokenHistory;
import dev.specula.core.schedule.DraftPlan;

import java.util.function.BiFunction;

/** A one-hot drafter whose proposals a test computes from the history and the asked length. */
public final class ScriptedDrafter implements Drafter {
    private final BiFunction<TokenHistory, Integer, int[]> script;

    public ScriptedDrafter(BiFunction<TokenHistory, Integer, int[]> script) {
        this.script = script;
    }

    @Override
    public DraftProposer start(DraftContext context) {
        return new DraftProposer() {
            @Override
            public Proposal propose(TokenHistory history, DraftPlan plan) {
                return Proposal.oneHot(script.apply(history, plan.maxDraftTokens()));
            }
        };
    }

    @Override
    public String name() {
        return "scripted";
    }
}
