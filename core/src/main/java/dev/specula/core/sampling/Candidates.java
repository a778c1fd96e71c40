package dev.specula.core.sampling;

import java.util.Arrays;

/**
 * The tokens of one row that survive a cut, in token order, each with one float (a scaled logit or a weight):
 * the selection buffers of {@link SamplingTransform}. The selections make one pass over the row in which most
 * tokens cost a multiply and a compare against a threshold that only rises; the few that pass are kept here.
 * Buffers grow on demand up to the row's size, so a peaked row needs kilobytes, not a copy of the row.
 *
 * <p>Mutable scratch owned by one transform; not thread-safe.
 */
final class Candidates {
    private static final int MIN_LIMIT = 256;

    int[] tokens = new int[MIN_LIMIT];
    float[] values = new float[MIN_LIMIT];
    int size;
    private float[] scratch = new float[MIN_LIMIT];
    private long[] keys = new long[MIN_LIMIT];

    /**
     * Keeps every token whose value {@code x[t] * scale} is at least the {@code m}-th largest such value of
     * {@code x[0, n)} (ties at the m-th value all kept), with those values. Tokens enter while they reach a
     * threshold; each time the buffer fills, the threshold rises to the m-th largest value held (a lower bound of
     * the row's m-th largest, so no token that belongs is ever dropped) and the rest is discarded.
     *
     * @return -1, or the index of the first NaN met (the selection is then incomplete)
     */
    int selectTop(float[] x, int n, float scale, int m) {
        int limit = Math.min(n, Math.max(MIN_LIMIT, 4 * m));
        ensure(limit);
        int[] tok = tokens;
        float[] val = values;
        float threshold = Float.NEGATIVE_INFINITY;
        int c = 0;
        int t = 0;
        while (true) {
            // A search loop on its own: C2 compiles it to a few instructions per token (with the insertion in
            // the same loop body it was five times slower).
            while (t < n && x[t] * scale < threshold) {
                t++;
            }
            if (t == n) {
                break;
            }
            float s = x[t] * scale;
            if (s != s) {
                return t;
            }
            tok[c] = t++;
            val[c] = s;
            if (++c == limit) {
                threshold = kthLargest(c, m);
                c = keepAtLeast(c, threshold);
                if (2 * c > limit && limit < n) { // many ties at the threshold: give them room
                    limit = Math.min(n, Math.max(2 * limit, 2 * c));
                    ensure(limit);
                    tok = tokens;
                    val = values;
                }
            }
        }
        if (c > m) {
            c = keepAtLeast(c, kthLargest(c, m));
        }
        size = c;
        return -1;
    }

    /**
     * Keeps every token whose value {@code x[t]} is at least {@code floor}, with those values, unless there are
     * more than {@code cap} of them.
     *
     * @return the sum of the values kept (in token order), or -1 if more than {@code cap} tokens qualify (the
     *         selection is then incomplete)
     */
    double selectAtLeast(float[] x, int n, float floor, int cap) {
        ensure(Math.min(n, cap));
        int[] tok = tokens;
        float[] val = values;
        double mass = 0;
        int c = 0;
        int t = 0;
        while (true) {
            while (t < n && x[t] < floor) {
                t++;
            }
            if (t == n) {
                break;
            }
            if (c == cap) {
                size = 0;
                return -1;
            }
            float v = x[t];
            tok[c] = t++;
            val[c++] = v;
            mass += v;
        }
        size = c;
        return mass;
    }

    /**
     * Keeps every token whose value {@code s = x[t] * scale} lies within {@code below} of the row's largest,
     * that is {@code s - max >= below} in float arithmetic, with the values s. The largest is tracked as the pass
     * goes; tokens within {@code below} of the largest so far enter, and the buffer is re-cut when it fills.
     *
     * @param below a negative offset
     * @return the row's largest scaled value, or NaN if the row holds NaN (the selection is then incomplete)
     */
    float selectNear(float[] x, int n, float scale, float below) {
        int limit = Math.min(n, MIN_LIMIT);
        ensure(limit);
        int[] tok = tokens;
        float[] val = values;
        float max = Float.NEGATIVE_INFINITY;
        int c = 0;
        int t = 0;
        while (true) {
            while (t < n && x[t] * scale - max < below) {
                t++;
            }
            if (t == n) {
                break;
            }
            float s = x[t] * scale;
            if (s != s) {
                return Float.NaN;
            }
            if (s > max) {
                max = s;
            }
            tok[c] = t++;
            val[c] = s;
            if (++c == limit) {
                c = keepNear(c, max, below);
                if (2 * c > limit && limit < n) {
                    limit = Math.min(n, Math.max(2 * limit, 2 * c));
                    ensure(limit);
                    tok = tokens;
                    val = values;
                }
            }
        }
        size = keepNear(c, max, below);
        return max;
    }

    /**
     * Sorts the candidates whose value (a weight) is positive and at least {@code floor} by decreasing weight,
     * ties by decreasing token id, and returns the weight at which the running sum in that order first reaches
     * {@code target}; if it never does, minus the smallest such weight (0 if there is none).
     */
    float massBoundary(double target, float floor) {
        if (keys.length < size) {
            keys = new long[Math.max(size, 2 * keys.length)];
        }
        int n = 0;
        for (int i = 0; i < size; i++) {
            float w = values[i];
            if (w >= floor && w > 0) {
                keys[n++] = ((long) Float.floatToRawIntBits(w) << 32) | tokens[i]; // positive floats sort by bits
            }
        }
        Arrays.sort(keys, 0, n);
        double cum = 0;
        float w = 0f;
        for (int i = n - 1; i >= 0; i--) {
            w = Float.intBitsToFloat((int) (keys[i] >>> 32));
            cum += w;
            if (cum >= target) {
                return w;
            }
        }
        return -w;
    }

    /** Keeps the candidates whose value is at least {@code threshold} (in token order); returns their count. */
    int keepAtLeast(int count, float threshold) {
        int kept = 0;
        for (int i = 0; i < count; i++) {
            float v = values[i];
            if (v >= threshold) {
                tokens[kept] = tokens[i];
                values[kept++] = v;
            }
        }
        return kept;
    }

    private int keepNear(int count, float max, float below) {
        int kept = 0;
        for (int i = 0; i < count; i++) {
            float v = values[i];
            if (v - max >= below) {
                tokens[kept] = tokens[i];
                values[kept++] = v;
            }
        }
        return kept;
    }

    /** The m-th largest of {@code values[0, count)}, selected in a copy so that the token order stays. */
    private float kthLargest(int count, int m) {
        if (scratch.length < count) {
            scratch = new float[Math.max(count, 2 * scratch.length)];
        }
        System.arraycopy(values, 0, scratch, 0, count);
        return kthLargest(scratch, count, m);
    }

    private void ensure(int capacity) {
        if (tokens.length < capacity) {
            tokens = Arrays.copyOf(tokens, capacity);
            values = Arrays.copyOf(values, capacity);
        }
    }

    /** The k-th largest value (1-based) of {@code a[0, n)}, which is reordered. Quickselect, O(n) expected. */
    static float kthLargest(float[] a, int n, int k) {
        int target = k - 1; // index in descending order
        int lo = 0;
        int hi = n - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            float pivot = median(a[lo], a[mid], a[hi]);
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (a[i] > pivot) {
                    i++;
                }
                while (a[j] < pivot) {
                    j--;
                }
                if (i <= j) {
                    float tmp = a[i];
                    a[i] = a[j];
                    a[j] = tmp;
                    i++;
                    j--;
                }
            }
            if (target <= j) {
                hi = j;
            } else if (target >= i) {
                lo = i;
            } else {
                return a[target];
            }
        }
        return a[target];
    }

    private static float median(float a, float b, float c) {
        return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    }
}
