package dev.specula.core.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A {@link SequenceBatch} that holds each row as its own {@link ModelSequence} and makes one forward call per
 * listed row: the contract without the batching, for models that cannot batch natively (and a reference for the
 * batched implementations' tests).
 */
public final class SequentialBatch implements SequenceBatch {
    private final CausalLanguageModel model;
    private final int capacity;
    private final Map<Integer, ModelSequence> rows = new LinkedHashMap<>();
    private int nextHandle;
    private boolean open = true;

    public SequentialBatch(CausalLanguageModel model, int capacity) {
        this.model = Objects.requireNonNull(model, "model");
        if (capacity < 1) {
            throw new IllegalArgumentException("batch capacity must be >= 1, got " + capacity);
        }
        this.capacity = capacity;
    }

    @Override
    public int adopt(ModelSequence sequence) {
        ensureOpen();
        Objects.requireNonNull(sequence, "sequence");
        if (sequence.vocabSize() != model.vocabSize()) {
            throw new IllegalArgumentException("sequence vocabulary " + sequence.vocabSize() + " differs from model "
                    + model.name() + "'s " + model.vocabSize() + "; a batch holds sequences of one model");
        }
        if (rows.size() >= capacity) {
            throw new IllegalArgumentException("batch is full: " + capacity + " rows");
        }
        int handle = nextHandle++;
        rows.put(handle, sequence);
        return handle;
    }

    @Override
    public void remove(int row) {
        ensureOpen();
        sequence(row);
        rows.remove(row).close();
    }

    @Override
    public List<Logits> append(int[] rowIds, List<int[]> tokens) {
        ensureOpen();
        if (rowIds.length != tokens.size()) {
            throw new IllegalArgumentException(rowIds.length + " rows but " + tokens.size() + " token lists");
        }
        if (Arrays.stream(rowIds).distinct().count() != rowIds.length) {
            throw new IllegalArgumentException("a row is listed twice: " + Arrays.toString(rowIds));
        }
        List<Logits> out = new ArrayList<>(rowIds.length);
        for (int i = 0; i < rowIds.length; i++) {
            int[] t = tokens.get(i);
            if (t == null || t.length == 0) {
                throw new IllegalArgumentException("row " + rowIds[i] + " gets no tokens; expected at least one");
            }
            // Each row's logits are copied: the next row's call would invalidate a view of the previous row's.
            Logits logits = sequence(rowIds[i]).append(t, 0, t.length);
            float[][] copy = new float[logits.rows()][];
            for (int r = 0; r < copy.length; r++) {
                copy[r] = new float[logits.vocabSize()];
                logits.copyRow(r, copy[r]);
            }
            out.add(Logits.of(copy));
        }
        return out;
    }

    @Override
    public void rollback(int row, int length) {
        ensureOpen();
        sequence(row).rollback(length);
    }

    @Override
    public int length(int row) {
        ensureOpen();
        return sequence(row).length();
    }

    @Override
    public int size() {
        return rows.size();
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public int vocabSize() {
        return model.vocabSize();
    }

    @Override
    public void close() {
        if (!open) {
            return;
        }
        open = false;
        RuntimeException first = null;
        for (ModelSequence s : rows.values()) {
            try {
                s.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        rows.clear();
        if (first != null) {
            throw first;
        }
    }

    private ModelSequence sequence(int row) {
        ModelSequence s = rows.get(row);
        if (s == null) {
            throw new IllegalArgumentException("no row " + row + " in this batch; rows held: " + rows.keySet());
        }
        return s;
    }

    private void ensureOpen() {
        if (!open) {
            throw new IllegalStateException("batch is closed");
        }
    }
}
