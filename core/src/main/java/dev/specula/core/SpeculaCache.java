package dev.specula.core;

import java.nio.file.Path;

/**
 * Where Specula keeps files it derives at run time (extracted model files, DJL's native library): the system property
 * {@code specula.cache.dir}, else the environment variable {@code SPECULA_CACHE_DIR}, else
 * {@code ~/.cache/specula}.
 */
public final class SpeculaCache {
    private SpeculaCache() {
    }

    public static Path directory() {
        String prop = System.getProperty("specula.cache.dir");
        if (prop != null && !prop.isBlank()) {
            return Path.of(prop);
        }
        String env = System.getenv("SPECULA_CACHE_DIR");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        return Path.of(System.getProperty("user.home"), ".cache", "specula");
    }
}
