package dev.specula.core.testing;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/** A simulated nanosecond clock that advances only when a simulated model charges it. */
public final class FakeClock implements LongSupplier {
    private final AtomicLong now = new AtomicLong();

    public void advance(long nanos) {
        now.addAndGet(nanos);
    }

    @Override
    public long getAsLong() {
        return now.get();
    }
}
