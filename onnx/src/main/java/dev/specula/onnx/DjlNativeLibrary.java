package dev.specula.onnx;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.specula.core.SpeculaCache;
import dev.specula.core.SpeculaException;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Loads DJL's native tokenizers library once, from the copy inside its jar, without leaving JVM-wide settings
 * behind. DJL reads its options only from system properties or the environment, once, when its {@code LibUtils}
 * class initializes: {@code DJL_CACHE_DIR} (where the library is extracted; default {@code ~/.djl.ai}) and
 * {@code ai.djl.offline} (without it, on a machine with a CUDA GPU DJL asks its server for a CUDA build of the
 * library instead of using the CPU build it ships). So for that one initialization, and only for the options the
 * user did not set, the properties are set (the cache to {@code <specula cache>/djl}, offline to true) and then
 * cleared again: afterwards no property that Specula set remains.
 */
final class DjlNativeLibrary {
    private static final String LIB_UTILS = "ai.djl.huggingface.tokenizers.jni.LibUtils";
    private static volatile boolean loaded;

    private DjlNativeLibrary() {
    }

    /** Initializes DJL's library loader (the library itself, or the error DJL reports at first use). */
    static void load() {
        if (loaded) {
            return;
        }
        synchronized (DjlNativeLibrary.class) {
            if (loaded) {
                return;
            }
            Map<String, String> temporary = new LinkedHashMap<>();
            if (unset("DJL_CACHE_DIR") && unset("ENGINE_CACHE_DIR")) {
                temporary.put("DJL_CACHE_DIR", SpeculaCache.directory().resolve("djl").toString());
            }
            if (System.getProperty("ai.djl.offline") == null && System.getenv("DJL_OFFLINE") == null) {
                temporary.put("ai.djl.offline", "true");
            }
            temporary.forEach(System::setProperty);
            try {
                Class.forName(LIB_UTILS, true, HuggingFaceTokenizer.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new SpeculaException("DJL's tokenizers jar has no " + LIB_UTILS + " (expected"
                        + " ai.djl.huggingface:tokenizers 0.38): " + e.getMessage(), e);
            } finally {
                temporary.keySet().forEach(System::clearProperty);
            }
            loaded = true;
        }
    }

    private static boolean unset(String name) {
        return System.getProperty(name) == null && System.getenv(name) == null;
    }
}
