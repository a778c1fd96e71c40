package dev.specula.onnx;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.specula.core.SpeculaException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.stream.Stream;

/**
 * Keeps the graph as ONNX Runtime optimized it for this machine, pre-packed weights included, so that a second
 * load skips the optimization (for fp32 models most of the load time is pre-packing the MatMul weights).
 *
 * <p>One folder per model under the cache folder, named by a fingerprint of the weight files (absolute path, size,
 * modification time), the ONNX Runtime version and the execution provider: editing or replacing a model makes a
 * new entry. The first load writes the optimized graph into a temporary folder and moves it into place when the
 * session is ready, so concurrent loads never read a half-written entry.
 */
final class OptimizedModelCache {
    static final String GRAPH = "model.onnx";
    static final String DATA = "model.onnx.data";

    private OptimizedModelCache() {
    }

    static Plan plan(Path cache, ModelFiles files, OnnxModelOptions options) {
        return new Plan(cache, cache.resolve(key(files, options)));
    }

    /** What one load does with the cache: read the entry if complete, else write it. */
    static final class Plan {
        private final Path cache;
        private final Path entry;
        private Path staging;

        Plan(Path cache, Path entry) {
            this.cache = cache;
            this.entry = entry;
        }

        /** Configures the session options and returns the graph file to create the session from. */
        Path prepare(OrtSession.SessionOptions so) throws OrtException {
            if (Files.isRegularFile(entry.resolve(GRAPH))) {
                // Already optimized for this machine: running the optimizers again would only cost time.
                so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
                return entry.resolve(GRAPH);
            }
            try {
                Files.createDirectories(cache);
                staging = Files.createTempDirectory(cache, ".writing-");
            } catch (IOException e) {
                throw new SpeculaException("cannot create the optimized-model cache folder " + cache + ": "
                        + e.getMessage(), e);
            }
            so.setOptimizedModelFilePath(staging.resolve(GRAPH).toString());
            so.addConfigEntry("session.optimized_model_external_initializers_file_name", DATA);
            so.addConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024");
            so.addConfigEntry("session.save_external_prepacked_constant_initializers", "1");
            return null;
        }

        /** After the session was created: publishes a written entry; returns what the session was loaded from. */
        String finish() {
            if (staging == null) {
                return "loaded the optimized graph " + entry.resolve(GRAPH);
            }
            try {
                Files.move(staging, entry, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException | AtomicMoveNotSupportedException e) {
                deleteQuietly(staging); // another load published the same entry first
            } catch (IOException e) {
                deleteQuietly(staging);
                throw new SpeculaException("cannot store the optimized model in " + entry + ": " + e.getMessage(), e);
            }
            return "optimized graph written to " + entry;
        }

        Path entry() {
            return entry;
        }
    }

    private static String key(ModelFiles files, OnnxModelOptions options) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            StringBuilder id = new StringBuilder(ai.onnxruntime.OrtEnvironment.getEnvironment().getVersion())
                    .append('|').append(options.provider()).append('|').append(options.cudaDeviceId())
                    .append(options.fuseAttention() ? "|fused-attention" : "");
            for (Path f : files.weightFiles()) {
                id.append('|').append(f.toAbsolutePath().normalize()).append('|').append(Files.size(f)).append('|')
                        .append(Files.getLastModifiedTime(f).toMillis());
            }
            digest.update(id.toString().getBytes(StandardCharsets.UTF_8));
            String name = files.graph().getFileName().toString().replace(".onnx", "");
            return name + "-" + HexFormat.of().formatHex(digest.digest()).substring(0, 16);
        } catch (IOException | NoSuchAlgorithmException e) {
            throw new SpeculaException("cannot fingerprint " + files.graph() + " for the optimized-model cache: "
                    + e.getMessage(), e);
        }
    }

    private static void deleteQuietly(Path dir) {
        try (Stream<Path> all = Files.walk(dir)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a leftover temporary folder is harmless; the next load writes its own
        }
    }
}
