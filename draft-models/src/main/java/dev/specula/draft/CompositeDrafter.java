package dev.specula.draft;

import dev.specula.core.StepOutcome;
import dev.specula.core.draft.BatchProposals;
import dev.specula.core.draft.BatchProposer;
import dev.specula.core.draft.DraftContext;
import dev.specula.core.draft.DraftProposer;
import dev.specula.core.draft.Drafter;
import dev.specula.core.draft.Proposal;
import dev.specula.core.draft.TokenHistory;
import dev.specula.core.schedule.DraftPlan;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
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

    /**
     * The batched form: each drafter's own batch proposer (a draft model's batches its calls over the rows; lookups
     * stay per row), asked in order for the rows that still have no proposal.
     */
    @Override
    public BatchProposer startBatch(int capacity) {
        List<BatchProposer> proposers = new ArrayList<>();
        try {
            for (Drafter d : drafters) {
                proposers.add(d.startBatch(capacity));
            }
        } catch (RuntimeException e) {
            proposers.forEach(BatchProposer::close);
            throw e;
        }
        return new BatchedComposite(proposers);
    }

    private final class BatchedComposite implements BatchProposer {
        private final List<BatchProposer> proposers;
        private final Map<Integer, int[]> rows = new HashMap<>(); // handle -> each proposer's handle
        private int nextHandle;
        private boolean open = true;

        BatchedComposite(List<BatchProposer> proposers) {
            this.proposers = proposers;
        }

        @Override
        public int join(DraftContext context) {
            int[] handles = new int[proposers.size()];
            int joined = 0;
            try {
                for (; joined < handles.length; joined++) {
                    handles[joined] = proposers.get(joined).join(context);
                }
            } catch (RuntimeException e) {
                for (int i = 0; i < joined; i++) {
                    proposers.get(i).leave(handles[i]);
                }
                throw e;
            }
            int handle = nextHandle++;
            rows.put(handle, handles);
            return handle;
        }

        @Override
        public BatchProposals propose(int[] rowIds, TokenHistory[] histories, DraftPlan[] plans) {
            int n = rowIds.length;
            Proposal[] out = new Proposal[n];
            RuntimeException[] failures = new RuntimeException[n];
            for (int d = 0; d < proposers.size(); d++) {
                String source = drafters.get(d).name();
                List<Integer> ask = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    if (failures[i] == null && (out[i] == null || out[i].isEmpty())
                            && plans[i].forSource(source).maxDraftTokens() > 0) {
                        ask.add(i);
                    }
                }
                if (ask.isEmpty()) {
                    continue;
                }
                int[] sub = new int[ask.size()];
                TokenHistory[] subHistories = new TokenHistory[ask.size()];
                DraftPlan[] subPlans = new DraftPlan[ask.size()];
                for (int j = 0; j < sub.length; j++) {
                    int i = ask.get(j);
                    sub[j] = handles(rowIds[i])[d];
                    subHistories[j] = histories[i];
                    subPlans[j] = plans[i].forSource(source);
                }
                BatchProposals got = proposers.get(d).propose(sub, subHistories, subPlans);
                for (int j = 0; j < sub.length; j++) {
                    int i = ask.get(j);
                    out[i] = got.proposals()[j];
                    failures[i] = got.failures()[j];
                }
            }
            for (int i = 0; i < n; i++) {
                if (out[i] == null && failures[i] == null) {
                    out[i] = Proposal.empty();
                }
            }
            return new BatchProposals(out, failures);
        }

        @Override
        public void feedback(int row, StepOutcome outcome) {
            int[] h = handles(row);
            for (int i = 0; i < h.length; i++) {
                proposers.get(i).feedback(h[i], outcome);
            }
        }

        @Override
        public void finish(int row, TokenHistory output) {
            int[] h = handles(row);
            for (int i = 0; i < h.length; i++) {
                proposers.get(i).finish(h[i], output);
            }
        }

        @Override
        public void leave(int row) {
            int[] h = handles(row);
            rows.remove(row);
            RuntimeException failure = null;
            for (int i = 0; i < h.length; i++) {
                try {
                    proposers.get(i).leave(h[i]);
                } catch (RuntimeException e) {
                    failure = failure == null ? e : failure;
                }
            }
            if (failure != null) {
                throw failure;
            }
        }

        @Override
        public void close() {
            if (!open) {
                return;
            }
            open = false;
            rows.clear();
            RuntimeException failure = null;
            for (BatchProposer p : proposers) {
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

        private int[] handles(int row) {
            if (!open) {
                throw new IllegalStateException("batched " + name() + " is closed");
            }
            int[] h = rows.get(row);
            if (h == null) {
                throw new IllegalArgumentException("no draft row " + row + "; rows held: " + rows.keySet());
            }
            return h;
        }
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
