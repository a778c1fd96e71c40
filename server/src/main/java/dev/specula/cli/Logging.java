package dev.specula.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.slf4j.LoggerFactory;

/**
 * The command line's logging setup: Logback, configured by {@code logback.xml} on the classpath (replace it with
 * {@code -Dlogback.configurationFile=FILE}); {@code --verbose} lowers Specula's loggers to DEBUG.
 */
final class Logging {
    private Logging() {
    }

    /** Specula's loggers at DEBUG. */
    static void verbose() {
        if (LoggerFactory.getLogger("dev.specula") instanceof Logger logger) {
            logger.setLevel(Level.DEBUG);
        }
    }
}
