package com.example.speculademo;

import dev.specula.Completion;
import dev.specula.models.EmbeddedModels;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AppTest {
    @Test
    void theReadmeSnippetRuns() {
        Completion c = App.run(EmbeddedModels.target(), EmbeddedModels.draft(), "def fibonacci(n):", 16);
        assertEquals(16, c.tokenIds().length);
        assertTrue(c.metrics().steps() <= 16);
    }
}
