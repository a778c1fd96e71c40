package dev.specula.onnx;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.specula.core.SpeculaCache;
import dev.specula.core.SpeculaException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A Hugging Face {@code tokenizer.json}, run by DJL's binding of the Rust tokenizers library, loaded by path
 * and fully offline (its native library ships inside the DJL jar). DJL's defaults that would silently change
 * text are turned off: no truncation, no padding, no special tokens added to prompts.
 *
 * <p>Thread-safe. Owns a native tokenizer: close it (idempotent) when done.
 *
 * <pre>{@code
 * try (HfTokenizer tok = HfTokenizer.load(Path.of("models/target"))) {
 *     int[] ids = tok.encode("def f(x):");
 *     String text = tok.decode(ids);
 * }
 * }</pre>
 */
public final class HfTokenizer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final AtomicReference<HuggingFaceTokenizer> handle;
    /** Calls hold the read side; close takes the write side, so no call outlives the native tokenizer. */
    private final java.util.concurrent.locks.ReentrantReadWriteLock lifecycle =
            new java.util.concurrent.locks.ReentrantReadWriteLock();
    private final Path file;
    private final int vocabSize;

    private HfTokenizer(HuggingFaceTokenizer tokenizer, Path file, int vocabSize) {
        this.handle = new AtomicReference<>(tokenizer);
        this.file = file;
        this.vocabSize = vocabSize;
    }

    /**
     * Loads {@code tokenizer.json}, given as the file or the model directory holding it.
     *
     * @throws SpeculaException if the file is missing or not a valid tokenizer
     */
    public static HfTokenizer load(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        if (!Files.isRegularFile(file)) {
            throw new SpeculaException("no tokenizer.json at " + file + " (expected the Hugging Face tokenizer file"
                    + " next to model.onnx)");
        }
        configureDjl();
        int vocab;
        try {
            JsonNode root = JSON.readTree(Files.readAllBytes(file));
            vocab = vocabularySize(root, file);
        } catch (IOException e) {
            throw new SpeculaException("cannot read tokenizer " + file + ": " + e.getMessage(), e);
        }
        try {
            HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.builder()
                    .optTokenizerPath(file)
                    .optAddSpecialTokens(false)
                    .optTruncation(false)
                    .optPadding(false)
                    .build();
            return new HfTokenizer(tokenizer, file, vocab);
        } catch (IOException | RuntimeException e) {
            throw new SpeculaException("cannot load tokenizer " + file + ": " + e.getMessage(), e);
        }
    }

    /** Points DJL's native-library cache at Specula's cache and forbids downloads, unless the user chose. */
    private static void configureDjl() {
        if (System.getProperty("DJL_CACHE_DIR") == null && System.getenv("DJL_CACHE_DIR") == null) {
            System.setProperty("DJL_CACHE_DIR", SpeculaCache.directory().resolve("djl").toString());
        }
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
    }

    private static int vocabularySize(JsonNode root, Path file) {
        JsonNode vocab = root.path("model").path("vocab");
        int size = 0;
        if (vocab.isObject()) {
            for (JsonNode id : (Iterable<JsonNode>) vocab::elements) {
                size = Math.max(size, id.asInt() + 1);
            }
        } else if (vocab.isArray()) {
            size = vocab.size(); // Unigram: [[piece, score], ...]
        } else {
            throw new SpeculaException("tokenizer " + file + " has no model.vocab");
        }
        for (JsonNode added : root.path("added_tokens")) {
            size = Math.max(size, added.path("id").asInt() + 1);
        }
        return size;
    }

    /** Token ids of {@code text}, exactly as written (no special tokens added, no truncation). */
    public int[] encode(String text) {
        long[] ids;
        lifecycle.readLock().lock();
        try {
            ids = tokenizer().encode(text, false, false).getIds();
        } finally {
            lifecycle.readLock().unlock();
        }
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /** Text of {@code ids}, special tokens skipped. */
    public String decode(int[] ids) {
        return decode(ids, 0, ids.length);
    }

    public String decode(int[] ids, int from, int to) {
        long[] longs = new long[to - from];
        for (int i = from; i < to; i++) {
            longs[i - from] = ids[i];
        }
        lifecycle.readLock().lock();
        try {
            return tokenizer().decode(longs, true);
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    /** Ids the tokenizer can produce: one more than its largest id. */
    public int vocabSize() {
        return vocabSize;
    }

    public Path file() {
        return file;
    }

    /** A new incremental decoder for one generation's output. */
    public StreamingDetokenizer streaming() {
        return new StreamingDetokenizer(this);
    }

    private HuggingFaceTokenizer tokenizer() {
        HuggingFaceTokenizer t = handle.get();
        if (t == null) {
            throw new IllegalStateException("tokenizer " + file + " is closed");
        }
        return t;
    }

    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            HuggingFaceTokenizer t = handle.getAndSet(null);
            if (t != null) {
                t.close();
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
    }
}
