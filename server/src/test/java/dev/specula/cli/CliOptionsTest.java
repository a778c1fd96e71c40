package dev.specula.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line's options as a user meets them: short flags, defaults in --help, errors naming flags. */
class CliOptionsTest {

    @Test
    void everyOptionWithADefaultShowsItInHelp() {
        CommandLine cli = SpeculaCli.commandLine();
        List<String> missing = new ArrayList<>();
        for (CommandLine sub : cli.getSubcommands().values()) {
            for (OptionSpec option : sub.getCommandSpec().options()) {
                if (option.usageHelp() || option.versionHelp() || option.defaultValue() == null) {
                    continue;
                }
                String help = String.join(" ", option.description());
                if (!help.contains("Default: ")) {
                    missing.add(sub.getCommandName() + " " + option.longestName());
                } else if (help.contains("${DEFAULT-VALUE}")) {
                    String rendered = sub.getUsageMessage();
                    assertTrue(rendered.contains("Default: " + option.defaultValue()), sub.getCommandName() + " "
                            + option.longestName() + " renders its default " + option.defaultValue());
                }
            }
        }
        assertEquals(List.of(), missing, "options whose default --help does not show");
    }

    @Test
    void llamaCppShortFlagsParse() {
        CommandLine cli = SpeculaCli.commandLine();
        CommandLine.ParseResult r = cli.parseArgs("generate", "-m", "models/x", "-p", "def f():", "-n", "7",
                "--temp", "0.5", "-s", "3", "-t", "2");
        GenerateCommand g = r.subcommand().commandSpec().commandLine().getCommand();
        assertEquals(Path.of("models/x"), g.models.target);
        assertEquals("def f():", g.prompt);
        assertEquals(7, g.sampling.maxNewTokens);
        assertEquals(0.5, g.sampling.temperature);
        assertEquals(3L, g.sampling.seed);
        assertEquals(2, g.models.threads);
        ServeCommand s = SpeculaCli.commandLine().parseArgs("serve", "-m", "models/qwen-1.5b", "--max-waiting", "3")
                .subcommand().commandSpec().commandLine().getCommand();
        assertEquals("qwen-1.5b", s.models.modelName(), "the served name defaults to the directory's name");
        assertEquals(3, s.maxWaiting);
        ServeCommand embedded = SpeculaCli.commandLine().parseArgs("serve").subcommand().commandSpec().commandLine()
                .getCommand();
        assertEquals(ModelOptions.EMBEDDED_MODEL_NAME, embedded.models.modelName());
        assertEquals(300, embedded.requestTimeoutSeconds);
    }

    @Test
    void aBadSamplingValueIsReportedUnderItsFlag() {
        CommandLine cli = SpeculaCli.commandLine();
        StringWriter err = new StringWriter();
        cli.setErr(new PrintWriter(err));
        int code = cli.execute("generate", "--top-p", "1.5");
        assertEquals(SpeculaCli.EXIT_USAGE, code, err.toString());
        assertTrue(err.toString().startsWith("error: --top-p must be"), err.toString());
        assertFalse(err.toString().contains("topP"), err.toString());
        assertEquals("--max-new-tokens must be >= 1, got 0", SamplingOptions.withFlagName("maxNewTokens must be >= 1, got 0"));
        assertEquals("something else", SamplingOptions.withFlagName("something else"));
    }
}
