package dev.specula.cli.serve;

import dev.specula.Completion;
import dev.specula.GenerationRequest;
import dev.specula.Specula;

/**
 * What the server generates with: {@link Specula#generate(GenerationRequest)} ({@code specula::generate}), or a
 * stand-in in tests. Called concurrently, one call per running request, on the request's thread; it must poll the
 * request's cancellation flag before every decoding step and may throw {@link IllegalArgumentException} for a
 * request it rejects (answered with 400).
 */
@FunctionalInterface
public interface CompletionEngine {
    Completion generate(GenerationRequest request);
}
