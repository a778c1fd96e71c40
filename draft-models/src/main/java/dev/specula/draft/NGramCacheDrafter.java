package dev.specula.draft;

import dev.specula.core.draft.DraftContext;
import dev.specula.core.draft.DraftProposer;
import dev.specula.core.draft.Drafter;
import dev.specula.core.draft.Proposal;
import dev.specula.core.draft.TokenHistory;
import dev.specula.core.schedule.DraftPlan;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A cross-request n-gram cache: learns, from every finished generation (prompt and output), which token
 * followed each context of {@code order} tokens, and drafts by chaining those predictions. Requests that
 * resemble earlier ones (the same boilerplate, the same API, the same answer) then draft for free: the
 * "caching" lever of inference economics.
 *
 * <p>Bounded memory: at most {@code maxEntries} contexts, evicted least-recently-used, in 16 independently
 * locked segments. Thread-safe: one instance serves all concurrent generations. Each context keeps one
 * candidate by majority vote (a count that a different continuation decrements, and replaces at zero), and
 * drafts only from candidates seen at least {@code minCount} times.
 */
public final class NGramCacheDrafter implements Drafter {
    private static final int SEGMENTS = 16;

    private final int order;
    private final int minCount;
    private final Segment[] segments = new Segment[SEGMENTS];
    private final AtomicLong learned = new AtomicLong();

    /** Contexts of 3 tokens, up to one million of them, any candidate seen once. */
    public NGramCacheDrafter() {
        this(3, 1_000_000, 1);
    }

    public NGramCacheDrafter(int order, int maxEntries, int minCount) {
        if (order < 1 || order > 8) {
            throw new IllegalArgumentException("order must be in [1, 8], got " + order);
        }
        if (maxEntries < SEGMENTS) {
            throw new IllegalArgumentException("maxEntries must be >= " + SEGMENTS + ", got " + maxEntries);
        }
        if (minCount < 1) {
            throw new IllegalArgumentException("minCount must be >= 1, got " + minCount);
        }
        this.order = order;
        this.minCount = minCount;
        for (int i = 0; i < SEGMENTS; i++) {
            segments[i] = new Segment(maxEntries / SEGMENTS);
        }
    }

    /** Contexts held now. */
    public int size() {
        int n = 0;
        for (Segment s : segments) {
            n += s.size();
        }
        return n;
    }

    /** Token transitions learned since creation. */
    public long learnedTransitions() {
        return learned.get();
    }

    /** Learns every transition of a token sequence (called for each finished generation). */
    public void learn(TokenHistory tokens) {
        int size = tokens.size();
        for (int end = order; end < size; end++) {
            long key = key(tokens, end - order, end);
            segment(key).observe(key, tokens.get(end));
            learned.incrementAndGet();
        }
    }

    @Override
    public DraftProposer start(DraftContext context) {
        return new DraftProposer() {
            @Override
            public Proposal propose(TokenHistory history, DraftPlan plan) {
                return Proposal.oneHot(draft(history, plan.maxDraftTokens()), name());
            }

            @Override
            public void finish(TokenHistory output) {
                learn(output);
            }
        };
    }

    int[] draft(TokenHistory history, int k) {
        if (history.size() < order || k <= 0) {
            return new int[0];
        }
        int[] window = new int[order + k];
        for (int i = 0; i < order; i++) {
            window[i] = history.get(history.size() - order + i);
        }
        int n = 0;
        while (n < k) {
            long key = key(window, n, n + order);
            int next = segment(key).predict(key, minCount);
            if (next < 0) {
                break;
            }
            window[order + n] = next;
            n++;
        }
        int[] out = new int[n];
        System.arraycopy(window, order, out, 0, n);
        return out;
    }

    private Segment segment(long key) {
        return segments[(int) ((key ^ (key >>> 32)) & (SEGMENTS - 1))];
    }

    private static long key(TokenHistory h, int from, int to) {
        long k = 0xcbf29ce484222325L;
        for (int i = from; i < to; i++) {
            k = mix(k, h.get(i));
        }
        return k;
    }

    private static long key(int[] a, int from, int to) {
        long k = 0xcbf29ce484222325L;
        for (int i = from; i < to; i++) {
            k = mix(k, a[i]);
        }
        return k;
    }

    private static long mix(long k, int token) {
        k = (k ^ token) * 0x100000001b3L;
        return k ^ (k >>> 29);
    }

    @Override
    public String name() {
        return "ngram-cache";
    }

    /** One lock-protected LRU map from context hash to its candidate: token in the high 32 bits, count low. */
    private static final class Segment {
        private final ReentrantLock lock = new ReentrantLock();
        private final LinkedHashMap<Long, Long> map;

        Segment(int capacity) {
            this.map = new LinkedHashMap<>(16, 0.75f, true) {
                private static final long serialVersionUID = 1L;

                @Override
                protected boolean removeEldestEntry(Map.Entry<Long, Long> eldest) {
                    return size() > capacity;
                }
            };
        }

        void observe(long key, int token) {
            lock.lock();
            try {
                Long v = map.get(key);
                if (v == null) {
                    map.put(key, pack(token, 1));
                } else if (unpackToken(v) == token) {
                    map.put(key, pack(token, Math.min(unpackCount(v) + 1, 1 << 20)));
                } else {
                    int c = unpackCount(v) - 1;
                    map.put(key, c <= 0 ? pack(token, 1) : pack(unpackToken(v), c));
                }
            } finally {
                lock.unlock();
            }
        }

        int predict(long key, int minCount) {
            lock.lock();
            try {
                Long v = map.get(key);
                return v != null && unpackCount(v) >= minCount ? unpackToken(v) : -1;
            } finally {
                lock.unlock();
            }
        }

        int size() {
            lock.lock();
            try {
                return map.size();
            } finally {
                lock.unlock();
            }
        }

        private static long pack(int token, int count) {
            return ((long) token << 32) | (count & 0xffffffffL);
        }

        private static int unpackToken(long v) {
            return (int) (v >>> 32);
        }

        private static int unpackCount(long v) {
            return (int) v;
        }
    }
}
