package dev.specula.core.schedule;

import dev.specula.core.model.CausalLanguageModel;
import dev.specula.core.model.ModelSequence;
import dev.specula.core.model.SequenceBatch;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongSupplier;

/**
 * Measures the costs of batched calls when the models load (as {@link Calibrator} does for one sequence): the target's
 * batch at a few row counts and widths, and the draft's batch at the same row counts, a few repeats each, the median
 * kept. Seeds a {@link BatchCostModel}, which then keeps measuring online (and reads unmeasured sizes off its fit).
 */
public final class BatchCalibrator {
    private static final int CONTEXT = 32;
    private static final int REPEATS = 2;
    private static final int[] WIDTHS = {1, 3, 6};

    private BatchCalibrator() {
    }

    /**
     * The row counts a quick calibration measures: 1 and 4 (capped by the capacity); larger batches are read off the
     * fit until measured online. (Measuring 16 rows took 2-3 s on the embedded pair with sequential batches, against
     * 0.3 s for the single-sequence calibration.)
     */
    static int[] rowCounts(int capacity) {
        return Arrays.stream(new int[]{1, 4, capacity}).filter(r -> r <= Math.min(capacity, 4)).distinct()
                .sorted().toArray();
    }

    /**
     * Measures and returns a cost model seeded with the measurements; {@code draft} may be null.
     *
     * @throws IllegalArgumentException if the models cannot hold a calibration's calls
     */
    public static BatchCostModel calibrate(CausalLanguageModel target, CausalLanguageModel draft, int capacity,
                                           LongSupplier clock) {
        int room = Math.min(target.maxSequenceLength(), draft == null ? Integer.MAX_VALUE : draft.maxSequenceLength());
        int widest = WIDTHS[WIDTHS.length - 1];
        if (room < CONTEXT + widest + 1) {
            throw new IllegalArgumentException("models hold " + room + " tokens; a batched calibration needs "
                    + (CONTEXT + widest + 1));
        }
        BatchCostModel model = BatchCostModel.defaults();
        int vocab = Math.min(target.vocabSize(), draft == null ? Integer.MAX_VALUE : draft.vocabSize());
        SplittableRandom random = new SplittableRandom(0xBA7CL);
        for (int rows : rowCounts(capacity)) {
            int[] context = random.ints(CONTEXT + widest, 0, vocab).toArray();
            int[] handles = new int[rows];
            int[] draftHandles = new int[rows];
            try (SequenceBatch t = filled(target, context, handles);
                 SequenceBatch d = draft == null ? null : filled(draft, context, draftHandles)) {
                time(t, handles, context, 1, clock); // warm-up, not recorded
                for (int r = 0; r < REPEATS; r++) {
                    for (int width : WIDTHS) {
                        model.addVerify(rows, width, time(t, handles, context, width, clock));
                    }
                    if (d != null) {
                        model.addDraft(rows, time(d, draftHandles, context, 1, clock));
                    }
                }
            }
        }
        return model;
    }

    /** A batch of {@code handles.length} rows, each prefilled with the context; their handles go to {@code handles}. */
    private static SequenceBatch filled(CausalLanguageModel model, int[] context, int[] handles) {
        SequenceBatch batch = model.newBatch(handles.length);
        try {
            for (int i = 0; i < handles.length; i++) {
                ModelSequence s = model.newSequence();
                try {
                    s.prefill(context, 0, CONTEXT);
                } catch (RuntimeException e) {
                    s.close();
                    throw e;
                }
                handles[i] = batch.adopt(s);
            }
            return batch;
        } catch (RuntimeException e) {
            batch.close();
            throw e;
        }
    }

    private static double time(SequenceBatch batch, int[] handles, int[] context, int width, LongSupplier clock) {
        List<int[]> tokens = new ArrayList<>(handles.length);
        for (int i = 0; i < handles.length; i++) {
            tokens.add(Arrays.copyOfRange(context, CONTEXT, CONTEXT + width));
        }
        long t0 = clock.getAsLong();
        batch.append(handles, tokens);
        long elapsed = clock.getAsLong() - t0;
        for (int h : handles) {
            batch.rollback(h, CONTEXT);
        }
        return Math.max(1, elapsed);
    }
}
