package dev.specula.draft;

import dev.specula.core.model.CausalLanguageModel;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.model.SequenceBatch;
import dev.specula.core.model.SequentialBatch;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A model whose batches record every batched forward call (the rows and their token counts), over
 * {@link SequentialBatch}: for tests that count calls. Also counts open batches, so leaks show.
 */
final class RecordingModel implements CausalLanguageModel {
    /** One batched forward call: the token count of each row appended to. */
    record Call(int[] tokensPerRow) {
        int rows() {
            return tokensPerRow.length;
        }
    }

    private final CausalLanguageModel model;
    final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
    private int openBatches;

    RecordingModel(CausalLanguageModel model) {
        this.model = model;
    }

    synchronized int openBatches() {
        return openBatches;
    }

    @Override
    public String name() {
        return model.name();
    }

    @Override
    public int vocabSize() {
        return model.vocabSize();
    }

    @Override
    public int maxSequenceLength() {
        return model.maxSequenceLength();
    }

    @Override
    public ModelSequence newSequence() {
        return model.newSequence();
    }

    @Override
    public synchronized SequenceBatch newBatch(int capacity) {
        openBatches++;
        SequenceBatch inner = new SequentialBatch(model, capacity);
        return new SequenceBatch() {
            private boolean open = true;

            @Override
            public int adopt(ModelSequence sequence) {
                return inner.adopt(sequence);
            }

            @Override
            public void remove(int row) {
                inner.remove(row);
            }

            @Override
            public List<Logits> append(int[] rows, List<int[]> tokens) {
                calls.add(new Call(tokens.stream().mapToInt(t -> t.length).toArray()));
                return inner.append(rows, tokens);
            }

            @Override
            public void rollback(int row, int length) {
                inner.rollback(row, length);
            }

            @Override
            public int length(int row) {
                return inner.length(row);
            }

            @Override
            public int size() {
                return inner.size();
            }

            @Override
            public int capacity() {
                return inner.capacity();
            }

            @Override
            public int vocabSize() {
                return inner.vocabSize();
            }

            @Override
            public void close() {
                if (open) {
                    open = false;
                    synchronized (RecordingModel.this) {
                        openBatches--;
                    }
                    inner.close();
                }
            }
        };
    }

    @Override
    public void close() {
        model.close();
    }
}
