package dev.specula.core.draft;

import dev.specula.core.StepOutcome;
import dev.specula.core.schedule.DraftPlan;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A {@link BatchProposer} over any {@link Drafter}: each row gets the drafter's own {@link DraftProposer} and proposes
 * on its own. The right form for lookup drafters (CPU work per row, nothing to batch); a draft model batches
 * natively instead. A row whose proposer throws fails alone.
 */
public final class PerRowBatchProposer implements BatchProposer {
    private final Drafter drafter;
    private final Map<Integer, DraftProposer> rows = new LinkedHashMap<>();
    private int nextHandle;
    private boolean open = true;

    public PerRowBatchProposer(Drafter drafter) {
        this.drafter = Objects.requireNonNull(drafter, "drafter");
    }

    @Override
    public int join(DraftContext context) {
        ensureOpen();
        int handle = nextHandle++;
        rows.put(handle, drafter.start(context));
        return handle;
    }

    @Override
    public BatchProposals propose(int[] rowIds, TokenHistory[] histories, DraftPlan[] plans) {
        ensureOpen();
        Proposal[] out = new Proposal[rowIds.length];
        RuntimeException[] failures = new RuntimeException[rowIds.length];
        for (int i = 0; i < rowIds.length; i++) {
            DraftProposer p = proposer(rowIds[i]);
            try {
                out[i] = Objects.requireNonNull(p.propose(histories[i], plans[i]),
                        () -> "drafter " + drafter.name() + " returned a null proposal; expected an empty one");
            } catch (RuntimeException e) {
                failures[i] = e;
            }
        }
        return new BatchProposals(out, failures);
    }

    @Override
    public void feedback(int row, StepOutcome outcome) {
        proposer(row).feedback(outcome);
    }

    @Override
    public void finish(int row, TokenHistory output) {
        proposer(row).finish(output);
    }

    @Override
    public void leave(int row) {
        ensureOpen();
        proposer(row);
        rows.remove(row).close();
    }

    @Override
    public void close() {
        if (!open) {
            return;
        }
        open = false;
        List<DraftProposer> held = new ArrayList<>(rows.values());
        rows.clear();
        closeAll(held);
    }

    /** Closes every proposer, rethrowing the first failure with the others suppressed. */
    static void closeAll(List<? extends AutoCloseable> held) {
        RuntimeException first = null;
        for (AutoCloseable p : held) {
            try {
                p.close();
            } catch (Exception e) {
                RuntimeException r = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                if (first == null) {
                    first = r;
                } else {
                    first.addSuppressed(r);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private DraftProposer proposer(int row) {
        DraftProposer p = rows.get(row);
        if (p == null) {
            throw new IllegalArgumentException("no draft row " + row + "; rows held: " + rows.keySet());
        }
        return p;
    }

    private void ensureOpen() {
        if (!open) {
            throw new IllegalStateException("batch proposer of " + drafter.name() + " is closed");
        }
    }
}
