package dev.specula.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/**
 * The {@code specula} command: {@code generate}, {@code serve}, {@code bench}. Errors print one line
 * ({@code error: ...}) on stderr and exit with 2 for bad arguments, 1 for failures; {@code --verbose} adds the
 * stack trace.
 */
@Command(name = "specula", mixinStandardHelpOptions = true, versionProvider = SpeculaCli.Version.class,
        description = "Speculative decoding for Hugging Face ONNX models: same output, fewer target calls.",
        subcommands = {GenerateCommand.class, ServeCommand.class, BenchCommand.class, SoakCommand.class,
                CommandLine.HelpCommand.class})
public final class SpeculaCli {
    static final int EXIT_FAILURE = 1;
    static final int EXIT_USAGE = 2;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (for tests). */
    public static int run(String... args) {
        CommandLine cli = commandLine();
        return cli.execute(args);
    }

    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new SpeculaCli());
        cli.setParameterExceptionHandler((ex, args) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("error: " + ex.getMessage());
            err.println("Try 'specula " + commandPath(ex.getCommandLine()) + "--help' for usage.");
            err.flush();
            return EXIT_USAGE;
        });
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            boolean usage = ex instanceof IllegalArgumentException || ex instanceof CommandLine.ParameterException;
            err.println("error: " + oneLine(ex));
            if (commandLine.getParseResult() != null && commandLine.getParseResult().hasMatchedOption("--verbose")) {
                ex.printStackTrace(err);
            }
            err.flush();
            return usage ? EXIT_USAGE : EXIT_FAILURE;
        });
        return cli;
    }

    private static String commandPath(CommandLine c) {
        String name = c.getCommandName();
        return "specula".equals(name) ? "" : name + " ";
    }

    static String oneLine(Throwable ex) {
        String msg = ex.getMessage() == null ? ex.getClass().getSimpleName() : ex.getMessage();
        return msg.replace('\n', ' ');
    }

    /** The library version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = SpeculaCli.class.getPackage().getImplementationVersion();
            return new String[]{"specula " + (v == null ? "(development build)" : v)};
        }
    }
}
