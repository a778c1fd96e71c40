package dev.specula.models;

import dev.specula.core.SpeculaCache;
import dev.specula.core.SpeculaException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The draft/target pair shipped inside this jar: a ~11M-parameter target and a ~0.9M-parameter draft trained on
 * Python source code, in the layout of a Hugging Face Optimum export ({@code model.onnx}, {@code config.json},
 * {@code generation_config.json}, {@code tokenizer.json}). See this module's README for how they were made.
 *
 * <p>ONNX Runtime and the tokenizer load models by path, so the first call extracts the pair into
 * {@code <cache>/models/<content hash>/} (see {@link SpeculaCache}); later calls and other processes reuse it.
 *
 * <pre>{@code
 * Path target = EmbeddedModels.target();
 * Path draft = EmbeddedModels.draft();
 * }</pre>
 */
public final class EmbeddedModels {
    private static final String ROOT = "/dev/specula/models/python-code/";
    private static final List<String> MODEL_FILES = List.of("model.onnx", "config.json", "generation_config.json",
            "tokenizer.json");
    private static final List<String> PAIR_FILES = List.of("metrics.json", "corpus.json", "tokenizer-check.json");
    private static Path extracted;

    private EmbeddedModels() {
    }

    /** Directory of the target model. */
    public static Path target() {
        return pair().resolve("target");
    }

    /** Directory of the draft model. */
    public static Path draft() {
        return pair().resolve("draft");
    }

    /** Directory holding {@code target/}, {@code draft/}, {@code metrics.json} and {@code corpus.json}. */
    public static synchronized Path pair() {
        if (extracted == null) {
            extracted = extract();
        }
        return extracted;
    }

    private static Path extract() {
        byte[] metrics = read("metrics.json");
        String key;
        try {
            key = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(metrics)).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        Path dir = SpeculaCache.directory().resolve("models").resolve("python-code-" + key);
        if (Files.isRegularFile(dir.resolve(".complete"))) {
            return dir;
        }
        try {
            Files.createDirectories(dir.getParent());
            Path tmp = Files.createTempDirectory(dir.getParent(), "extract-");
            for (String side : List.of("target", "draft")) {
                Files.createDirectories(tmp.resolve(side));
                for (String f : MODEL_FILES) {
                    copy(side + "/" + f, tmp.resolve(side).resolve(f));
                }
            }
            for (String f : PAIR_FILES) {
                copy(f, tmp.resolve(f));
            }
            Files.createFile(tmp.resolve(".complete"));
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
                deleteTree(tmp); // another process extracted it first
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, dir);
            }
            return dir;
        } catch (IOException e) {
            throw new SpeculaException("cannot extract the embedded models into " + dir + ": " + e.getMessage()
                    + " (set -Dspecula.cache.dir or SPECULA_CACHE_DIR to a writable directory)", e);
        }
    }

    private static byte[] read(String name) {
        try (InputStream in = EmbeddedModels.class.getResourceAsStream(ROOT + name)) {
            if (in == null) {
                throw new SpeculaException("embedded model resource " + ROOT + name + " is missing from the classpath");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new SpeculaException("cannot read embedded resource " + name + ": " + e.getMessage(), e);
        }
    }

    private static void copy(String name, Path to) throws IOException {
        try (InputStream in = EmbeddedModels.class.getResourceAsStream(ROOT + name)) {
            if (in == null) {
                throw new SpeculaException("embedded model resource " + ROOT + name + " is missing from the classpath");
            }
            Files.copy(in, to);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
