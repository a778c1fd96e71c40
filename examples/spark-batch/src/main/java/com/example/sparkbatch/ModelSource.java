package com.example.sparkbatch;

import dev.specula.Specula;
import dev.specula.models.EmbeddedModels;

import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Which models a batch job loads, in a form Spark can ship to executors: each executor resolves it on its own
 * machine. The embedded pair is extracted from the application jar there; model directories must exist at the same
 * path on every executor (a shared file system, or a path baked into the executor image).
 *
 * @param targetDir    the target's directory, or null for the embedded pair
 * @param draftDir     the draft model's directory, or null for none (the embedded draft when {@code targetDir} is
 *                     null)
 * @param promptLookup whether prompt-lookup drafts are tried before the draft model
 */
public record ModelSource(String targetDir, String draftDir, boolean promptLookup) implements Serializable {
    private static final long serialVersionUID = 1L;

    public ModelSource {
        if (targetDir == null && draftDir != null) {
            throw new IllegalArgumentException("a draft model directory (" + draftDir
                    + ") needs a target directory too; give both, or neither for the embedded pair");
        }
    }

    /** The embedded draft/target pair of {@code specula-models}, with prompt lookup. */
    public static ModelSource embedded() {
        return new ModelSource(null, null, true);
    }

    /** True when this source names the embedded pair. */
    public boolean isEmbedded() {
        return targetDir == null;
    }

    /**
     * Loads the models on this machine. The caller owns the returned instance and must close it.
     *
     * @throws IllegalArgumentException if a directory does not exist here
     */
    public Specula load() {
        Path target = isEmbedded() ? EmbeddedModels.target() : existing("target", targetDir);
        Path draft = isEmbedded() ? EmbeddedModels.draft() : draftDir == null ? null : existing("draft", draftDir);
        Specula.Builder builder = Specula.builder().target(target);
        if (promptLookup) {
            builder.promptLookup();
        }
        if (draft != null) {
            builder.draftModel(draft);
        }
        return builder.build();
    }

    private static Path existing(String role, String dir) {
        Path path = Path.of(dir);
        if (!Files.isDirectory(path)) {
            throw new IllegalArgumentException(role + " model directory " + path.toAbsolutePath()
                    + " does not exist on this machine; every executor needs it at the same path");
        }
        return path;
    }

    @Override
    public String toString() {
        return isEmbedded() ? "embedded pair" + (promptLookup ? " + prompt lookup" : "")
                : "target " + targetDir + (draftDir == null ? "" : ", draft " + draftDir)
                + (promptLookup ? " + prompt lookup" : "");
    }
}
