package dev.specula.onnx;

import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.time.Duration;
import java.util.Locale;

/**
 * How busy the machine's cores were with other processes' work over a short sample: what {@link
 * OnnxModelOptions.Spinning#AUTO} decides from. The whole system's CPU use minus this process's own, so a JVM that
 * is busy loading or compiling does not count against itself. In a container with a CPU quota the JVM may report
 * the system's load relative to the quota and this process's relative to the host's cores, so the difference is
 * then approximate; {@code Spinning.ON} / {@code OFF} decide without it.
 *
 * @param otherCores cores' worth of CPU time other processes used during the sample; NaN where the JVM does not
 *                   report CPU load (not a HotSpot-family {@code OperatingSystemMXBean}, or a platform without it)
 * @param cores      the cores this JVM may use
 */
record CpuContention(double otherCores, int cores) {

    /** The sample {@link OnnxModelOptions.Spinning#AUTO} takes once per model load. */
    static final Duration SAMPLE = Duration.ofMillis(100);

    /** Samples for {@code window}; the calling thread sleeps meanwhile. */
    static CpuContention sample(Duration window) {
        int cores = Runtime.getRuntime().availableProcessors();
        OperatingSystemMXBean bean = ManagementFactory.getOperatingSystemMXBean();
        if (!(bean instanceof com.sun.management.OperatingSystemMXBean)) {
            return new CpuContention(Double.NaN, cores);
        }
        com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean) bean;
        // Each reading covers the time since the previous one: the first pair starts the window.
        os.getCpuLoad();
        os.getProcessCpuLoad();
        try {
            Thread.sleep(window.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new CpuContention(Double.NaN, cores);
        }
        double system = os.getCpuLoad();
        double own = os.getProcessCpuLoad();
        if (!(system >= 0) || !(own >= 0)) {
            return new CpuContention(Double.NaN, cores);
        }
        return new CpuContention(Math.max(0, system - own) * cores, cores);
    }

    /**
     * Whether {@code threads} spinning threads would have cores of their own: other processes left at least
     * {@code threads - 0.5} cores idle (a tick-granular sample of a mostly idle machine reads a few hundredths of a
     * core busy). Unknown contention, or one thread (the calling thread, with no pool to spin), says no.
     */
    boolean spinningPays(int threads) {
        return threads > 1 && !Double.isNaN(otherCores) && cores - otherCores >= threads - 0.5;
    }

    /** For model descriptions, e.g. "other processes busy on 0.05 of 2 cores". */
    String describe() {
        return Double.isNaN(otherCores) ? "other processes' CPU use unknown"
                : String.format(Locale.ROOT, "other processes busy on %.2f of %d cores", otherCores, cores);
    }
}
