package dev.specula.cli.serve;

import java.io.PrintStream;

/** The server's log on stderr: failures always (with stack traces when verbose), requests only when verbose. */
final class ServerLog {
    private final PrintStream err;
    private final boolean verbose;

    ServerLog(PrintStream err, boolean verbose) {
        this.err = err;
        this.verbose = verbose;
    }

    /** A line shown with {@code --verbose} only. */
    void info(String line) {
        if (verbose) {
            err.println("specula serve: " + line);
        }
    }

    /** A line always shown: something the operator should know about the setup. */
    void warn(String line) {
        err.println("specula serve: warning: " + line);
    }

    /** A failure: always one line; the stack trace too with {@code --verbose}. */
    void error(String what, Throwable e) {
        synchronized (err) {
            err.println("specula serve: error: " + what + ": " + e);
            if (verbose) {
                e.printStackTrace(err);
            }
        }
    }
}
