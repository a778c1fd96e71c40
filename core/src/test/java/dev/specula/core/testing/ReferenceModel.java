package dev.specula.core.testing;

import dev.specula.core.model.CausalLanguageModel;
import dev.specula.core.model.Logits;
import dev.specula.core.model.ModelSequence;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A pure-Java causal LM for tests: a small vocabulary and deterministic logits that depend only on the last
 * {@code order} tokens of the context. A draft whose greedy agreement with a target can be dialed from 0 to 1
 * is made with {@link #draftOf}. Optionally charges a simulated clock per call, so schedulers can be tested on
 * known costs. Thread-safe; sequences are not.
 */
public final class ReferenceModel implements CausalLanguageModel {
    private final String name;
    private final int vocab;
    private final long seed;
    private final int order;
    private final double scale;
    private final int maxLength;
    private final ReferenceModel agreeWith;
    private final double agreement;
    private final FakeClock clock;
    private final long nanosPerCall;
    private final long nanosPerToken;
    private final AtomicInteger openSequences = new AtomicInteger();
    private final AtomicLong calls = new AtomicLong();
    private volatile int nanAfterCalls = -1;
    private volatile boolean closed;

    private ReferenceModel(Builder b) {
        this.name = b.name;
        this.vocab = b.vocab;
        this.seed = b.seed;
        this.order = b.order;
        this.scale = b.scale;
        this.maxLength = b.maxLength;
        this.agreeWith = b.agreeWith;
        this.agreement = b.agreement;
        this.clock = b.clock;
        this.nanosPerCall = b.nanosPerCall;
        this.nanosPerToken = b.nanosPerToken;
    }

    public static Builder builder(int vocab, long seed) {
        return new Builder(vocab, seed);
    }

    /** A draft whose logits equal the target's in a fraction {@code agreement} of contexts (chosen by hash). */
    public static Builder draftOf(ReferenceModel target, double agreement, long seed) {
        Builder b = new Builder(target.vocab, seed);
        b.order = target.order;
        b.scale = target.scale;
        b.maxLength = target.maxLength;
        b.agreeWith = target;
        b.agreement = agreement;
        b.name = "draft-" + agreement;
        return b;
    }

    /** Logits of the token following {@code context[0, length)}. */
    public void logits(int[] context, int length, float[] out, int offset) {
        long h = seed * 0x9E3779B97F4A7C15L;
        for (int i = Math.max(0, length - order); i < length; i++) {
            h = (h ^ context[i]) * 0xBF58476D1CE4E5B9L; // position-free: depends on the tokens only
            h ^= h >>> 31;
        }
        if (agreeWith != null) {
            double u = new SplittableRandom(h ^ 0x5DEECE66DL).nextDouble();
            if (u < agreement) {
                agreeWith.logits(context, length, out, offset);
                return;
            }
        }
        SplittableRandom r = new SplittableRandom(h);
        for (int t = 0; t < vocab; t++) {
            out[offset + t] = (float) (r.nextGaussian() * scale);
        }
    }

    /** Makes every call after the given number return NaN logits (a broken model). */
    public void failWithNaNAfter(int callsFromNow) {
        nanAfterCalls = (int) calls.get() + callsFromNow;
    }

    public int openSequences() {
        return openSequences.get();
    }

    public long calls() {
        return calls.get();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    @Override
    public int maxSequenceLength() {
        return maxLength;
    }

    @Override
    public ModelSequence newSequence() {
        if (closed) {
            throw new IllegalStateException("model " + name + " is closed");
        }
        openSequences.incrementAndGet();
        return new Sequence();
    }

    @Override
    public void close() {
        closed = true;
    }

    private final class Sequence implements ModelSequence {
        private int[] tokens = new int[64];
        private int length;
        private float[] buffer = new float[vocab * 4];
        private boolean open = true;

        @Override
        public Logits append(int[] newTokens, int offset, int count) {
            ensureOpen();
            if (count < 1) {
                throw new IllegalArgumentException("count must be >= 1, got " + count);
            }
            if (length + count > maxLength) {
                throw new IllegalArgumentException("sequence would hold " + (length + count) + " tokens, max " + maxLength);
            }
            long call = calls.incrementAndGet();
            if (clock != null) {
                clock.advance(nanosPerCall + nanosPerToken * count);
            }
            if (tokens.length < length + count) {
                tokens = Arrays.copyOf(tokens, Math.max(tokens.length * 2, length + count));
            }
            if (buffer.length < count * vocab) {
                buffer = new float[count * vocab];
            }
            for (int i = 0; i < count; i++) {
                int t = newTokens[offset + i];
                if (t < 0 || t >= vocab) {
                    throw new IllegalArgumentException("token " + t + " outside [0, " + vocab + ")");
                }
                tokens[length++] = t;
                logits(tokens, length, buffer, i * vocab);
            }
            if (nanAfterCalls >= 0 && call > nanAfterCalls) {
                Arrays.fill(buffer, 0, count * vocab, Float.NaN);
            }
            return new Logits(FloatBuffer.wrap(buffer, 0, count * vocab).slice(), count, vocab);
        }

        @Override
        public void rollback(int newLength) {
            ensureOpen();
            if (newLength < 0 || newLength > length) {
                throw new IllegalArgumentException("cannot roll back to " + newLength + ", length is " + length);
            }
            length = newLength;
        }

        @Override
        public int length() {
            ensureOpen();
            return length;
        }

        @Override
        public int vocabSize() {
            return vocab;
        }

        private void ensureOpen() {
            if (!open) {
                throw new IllegalStateException("sequence of " + name + " is closed");
            }
        }

        @Override
        public void close() {
            if (open) {
                open = false;
                openSequences.decrementAndGet();
            }
        }
    }

    public static final class Builder {
        private final int vocab;
        private final long seed;
        private String name = "reference";
        private int order = 2;
        private double scale = 2.0;
        private int maxLength = 4096;
        private ReferenceModel agreeWith;
        private double agreement;
        private FakeClock clock;
        private long nanosPerCall;
        private long nanosPerToken;

        private Builder(int vocab, long seed) {
            this.vocab = vocab;
            this.seed = seed;
        }

        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /** How many trailing tokens the logits depend on. */
        public Builder order(int order) {
            this.order = order;
            return this;
        }

        /** Standard deviation of the logits: larger means peakier distributions. */
        public Builder scale(double scale) {
            this.scale = scale;
            return this;
        }

        public Builder maxLength(int maxLength) {
            this.maxLength = maxLength;
            return this;
        }

        /** Charges {@code perCall + perToken * tokens} simulated nanoseconds to {@code clock} per call. */
        public Builder cost(FakeClock clock, long perCall, long perToken) {
            this.clock = clock;
            this.nanosPerCall = perCall;
            this.nanosPerToken = perToken;
            return this;
        }

        public ReferenceModel build() {
            return new ReferenceModel(this);
        }
    }
}
