package com.example.speculademo;

import dev.specula.Completion;
import dev.specula.Specula;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.models.EmbeddedModels;

import java.nio.file.Path;

/**
 * The README's snippet as a program: speculative decoding with a draft model, streamed to stdout.
 * Run: {@code mvn -q -pl examples/sample-app exec:java} (after {@code mvn -q install -DskipTests}), or pass your own
 * target and draft model directories (Optimum exports) as arguments.
 */
public final class App {
    private App() {
    }

    public static void main(String[] args) {
        Path target = args.length > 0 ? Path.of(args[0]) : EmbeddedModels.target();
        Path draft = args.length > 1 ? Path.of(args[1]) : EmbeddedModels.draft();
        System.out.println(run(target, draft, "def fibonacci(n):", 64).metrics());
    }

    static Completion run(Path target, Path draft, String prompt, int maxNewTokens) {
        try (Specula specula = Specula.builder()
                .target(target)          // model.onnx, config.json, tokenizer.json
                .draftModel(draft)       // a small model with the same tokenizer
                .promptLookup()          // free drafts when the output repeats the prompt
                .build()) {
            Completion c = specula.generate(prompt, SamplingParams.greedy(maxNewTokens),
                    (text, fromDraft) -> System.out.print(text));
            System.out.println();
            return c;
        }
    }
}
