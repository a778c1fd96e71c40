package dev.specula.cli;

import dev.specula.TextListener;

import java.io.PrintStream;

/**
 * Streams generated text to a terminal with a live status line under it (tokens so far, tokens/s, share of
 * text from the draft), drawn with ANSI escapes; on anything else it just streams the text.
 */
final class LiveStatus implements TextListener {
    private static final String GREEN = "\033[32m";
    private static final String RESET = "\033[0m";

    private final PrintStream out;
    private final boolean terminal;
    private final boolean color;
    private final int width;
    private final long start = System.nanoTime();
    private int column;
    private int pieces;
    private int fromDraft;
    private boolean statusShown;
    private long lastDraw;

    LiveStatus(PrintStream out, boolean terminal, boolean color) {
        this.out = out;
        this.terminal = terminal && !"dumb".equals(System.getenv("TERM"));
        this.color = color && this.terminal;
        int cols = 80;
        try {
            cols = Integer.parseInt(System.getenv().getOrDefault("COLUMNS", "80"));
        } catch (NumberFormatException ignored) {
            // keep 80
        }
        this.width = cols;
    }

    @Override
    public void onText(String text, boolean draft) {
        pieces++;
        if (draft) {
            fromDraft++;
        }
        clearStatus();
        out.print(color && draft ? GREEN + text + RESET : text);
        int nl = text.lastIndexOf('\n');
        column = nl >= 0 ? text.length() - nl - 1 : column + text.length();
        long now = System.nanoTime();
        if (terminal && column < width - 1 && now - lastDraw > 50_000_000L) {
            drawStatus(now);
        }
        out.flush();
    }

    /** Below the text: the status line, reached with a newline and left by moving back up to the text's end. */
    private void drawStatus(long now) {
        double seconds = (now - start) / 1e9;
        String status = String.format("[%d pieces, %.0f/s, %.0f%% from the draft]", pieces, pieces / seconds,
                100.0 * fromDraft / pieces);
        out.print("\n\033[2K\033[2m" + status + "\033[0m\033[1A\033[" + (column + 1) + "G");
        statusShown = true;
        lastDraw = now;
    }

    private void clearStatus() {
        if (statusShown) {
            out.print("\033[1B\033[2K\033[1A\033[" + (column + 1) + "G");
            statusShown = false;
        }
    }

    void finish() {
        clearStatus();
        out.flush();
    }
}
