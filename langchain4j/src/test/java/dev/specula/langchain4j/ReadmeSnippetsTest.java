package dev.specula.langchain4j;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every {@code ```java} block of the repository's README.md compiles, as written, against this module's test
 * classpath (Specula, the embedded models and LangChain4j: the one module where every snippet's dependencies meet).
 *
 * <p>A snippet is its imports followed by the body of a method (statements, local interfaces). The snippet's own
 * imports are used as they stand, so a missing import fails the test; a snippet with no imports is a method body
 * and gets {@link #FIXED_IMPORTS}. Only compiled, never run.
 */
class ReadmeSnippetsTest {
    private static final Path README = Path.of("..", "README.md");

    /** Imports given to a snippet that states none (a bare method body). */
    static final List<String> FIXED_IMPORTS = List.of("dev.specula.*", "dev.specula.core.sampling.SamplingParams",
            "dev.specula.models.EmbeddedModels", "java.nio.file.Path", "java.util.List");

    /** A fenced java block: where it starts in README (1-based line of its first code line) and under which heading. */
    record Snippet(int firstLine, String heading, List<String> lines) {
        String name() {
            return "README.md snippet at line " + firstLine + " (section \"" + heading + "\")";
        }
    }

    @Test
    void everyJavaSnippetInReadmeCompiles(@TempDir Path out) throws IOException {
        assertTrue(Files.isRegularFile(README), "expected the repository's README at " + README.toAbsolutePath());
        List<Snippet> snippets = extract(Files.readAllLines(README));
        // README shows the library and the LangChain4j use; finding fewer means the extraction broke
        assertTrue(snippets.size() >= 2, "expected at least 2 ```java blocks in README.md, found " + snippets.size());
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < snippets.size(); i++) {
            Snippet s = snippets.get(i);
            compile("ReadmeSnippet" + i, s, out).ifPresent(message -> failures.add(s.name() + ":\n" + message));
        }
        if (!failures.isEmpty()) {
            fail(failures.size() + " README snippet(s) do not compile:\n" + String.join("\n", failures));
        }
    }

    @Test
    void extractsFencedJavaBlocksWithTheirHeadingAndLine() {
        List<String> readme = List.of("# T", "## Use", "```xml", "<x/>", "```", "```java", "int a = 1;", "```",
                "### Other", "```java", "import java.util.List;", "List<String> b = List.of();", "```");
        List<Snippet> snippets = extract(readme);
        assertEquals(List.of(new Snippet(7, "Use", List.of("int a = 1;")),
                new Snippet(11, "Other", List.of("import java.util.List;", "List<String> b = List.of();"))), snippets);
    }

    /** The check can fail: a snippet missing an import is reported with its name, README line and javac's message. */
    @Test
    void reportsTheSnippetAndTheCompilersMessage(@TempDir Path out) {
        Snippet missingImport = new Snippet(40, "Use it as a library",
                List.of("import dev.specula.Specula;", "", "Path p = Path.of(\"x\");"));
        Optional<String> message = compile("Broken", missingImport, out);
        assertTrue(message.isPresent(), "a snippet using Path without importing it must not compile");
        assertTrue(message.get().contains("README.md line 42"), message.get());
        assertTrue(message.get().contains("Path"), message.get());

        Optional<String> bare = compile("Bare", new Snippet(1, "s", List.of("Path p = Path.of(\"x\");")), out);
        assertFalse(bare.isPresent(), () -> "a bare method body gets the fixed imports: " + bare.get());
    }

    static List<Snippet> extract(List<String> readme) {
        List<Snippet> snippets = new ArrayList<>();
        String heading = "(top)";
        List<String> block = null;
        int first = 0;
        boolean inOtherFence = false;
        for (int i = 0; i < readme.size(); i++) {
            String line = readme.get(i);
            String trimmed = line.strip();
            if (block != null) {
                if (trimmed.equals("```")) {
                    snippets.add(new Snippet(first, heading, List.copyOf(block)));
                    block = null;
                } else {
                    block.add(line);
                }
            } else if (inOtherFence) {
                inOtherFence = !trimmed.equals("```");
            } else if (trimmed.equals("```java")) {
                block = new ArrayList<>();
                first = i + 2;
            } else if (trimmed.startsWith("```")) {
                inOtherFence = true;
            } else if (trimmed.startsWith("#")) {
                heading = trimmed.replaceFirst("^#+\\s*", "");
            }
        }
        if (block != null) {
            throw new IllegalArgumentException("README.md: ```java block opened at line " + (first - 1)
                    + " is never closed (expected a line ```)");
        }
        return snippets;
    }

    /**
     * The snippet as one compilation unit, line for line: its leading imports (and blank or comment lines) stay
     * where they are, the class and method open on the first line of the body, and close on its last line, so
     * javac's line numbers are the snippet's.
     */
    static String source(String className, Snippet s) {
        List<String> lines = new ArrayList<>(s.lines());
        int body = 0;
        boolean ownImports = false;
        while (body < lines.size() && isPreamble(lines.get(body))) {
            ownImports |= lines.get(body).strip().startsWith("import ");
            body++;
        }
        if (body == lines.size()) {
            throw new IllegalArgumentException(s.name() + " has imports but no code");
        }
        String open = "class " + className + " { void snippet() throws Exception { ";
        lines.set(body, open + lines.get(body));
        lines.set(lines.size() - 1, lines.get(lines.size() - 1) + " } }");
        if (!ownImports) {
            StringBuilder imports = new StringBuilder();
            FIXED_IMPORTS.forEach(i -> imports.append("import ").append(i).append("; "));
            lines.set(0, imports + lines.get(0));
        }
        return String.join("\n", lines) + "\n";
    }

    private static boolean isPreamble(String line) {
        String t = line.strip();
        return t.isEmpty() || t.startsWith("import ") || t.startsWith("//");
    }

    /** Compiles one snippet against the test classpath; empty when it compiles, else javac's errors. */
    static Optional<String> compile(String className, Snippet s, Path out) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac == null) {
            throw new IllegalStateException("no system Java compiler: run the tests on a JDK, not a JRE (java.home="
                    + System.getProperty("java.home") + ")");
        }
        String code = source(className, s);
        JavaFileObject file = new SimpleJavaFileObject(URI.create("string:///" + className + ".java"),
                JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                return code;
            }
        };
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        // javac follows Class-Path entries of jar manifests, so surefire's manifest-only booter jar works too
        List<String> options = List.of("-classpath", System.getProperty("java.class.path"), "-d", out.toString(),
                "-proc:none", "--release", "17");
        boolean ok = javac.getTask(null, null, diagnostics, options, null, List.of(file)).call();
        StringBuilder errors = new StringBuilder();
        for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
            if (d.getKind() == Diagnostic.Kind.ERROR) {
                long readmeLine = s.firstLine() + d.getLineNumber() - 1;
                errors.append("  README.md line ").append(readmeLine).append(": ")
                        .append(d.getMessage(Locale.ROOT)).append('\n');
            }
        }
        if (ok) {
            return Optional.empty();
        }
        return Optional.of(errors.length() > 0 ? errors.toString() : "  javac failed without an error diagnostic");
    }
}
