package dev.specula.core.sampling;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.OptionalLong;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplingParamsTest {

    private static void rejects(String parameter, String range, Executable build) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build);
        assertTrue(e.getMessage().contains(parameter), e.getMessage());
        assertTrue(e.getMessage().contains(range), e.getMessage());
    }

    @Test
    void rejectsEachInvalidValueNamingParameterAndRange() {
        rejects("temperature", ">= 0", () -> SamplingParams.builder().temperature(-0.1).build());
        rejects("temperature", "NaN", () -> SamplingParams.builder().temperature(Double.NaN).build());
        rejects("temperature", "finite", () -> SamplingParams.builder().temperature(Double.POSITIVE_INFINITY).build());
        rejects("temperature", "0 (greedy) or >= ", () -> SamplingParams.builder().temperature(1e-40).build());
        rejects("topK", ">= 0", () -> SamplingParams.builder().topK(-1).build());
        rejects("topP", "(0, 1]", () -> SamplingParams.builder().topP(0).build());
        rejects("topP", "(0, 1]", () -> SamplingParams.builder().topP(1.5).build());
        rejects("topP", "(0, 1]", () -> SamplingParams.builder().topP(Double.NaN).build());
        rejects("minP", "[0, 1)", () -> SamplingParams.builder().minP(1).build());
        rejects("minP", "[0, 1)", () -> SamplingParams.builder().minP(-0.5).build());
        rejects("maxNewTokens", "[1, ", () -> SamplingParams.builder().maxNewTokens(0).build());
        rejects("maxNewTokens", "[1, ", () -> SamplingParams.builder().maxNewTokens(-5).build());
        rejects("maxNewTokens", "[1, ", () -> SamplingParams.builder().maxNewTokens(Integer.MAX_VALUE).build());
        rejects("stopTokenIds", ">= 0", () -> SamplingParams.builder().stopTokenIds(Set.of(-1)).build());
    }

    @Test
    void defaultsAreGreedyAndValuesRoundTrip() {
        SamplingParams p = SamplingParams.greedy(7);
        assertTrue(p.isGreedy());
        assertEquals(7, p.maxNewTokens());
        assertTrue(p.seed().isEmpty(), "no seed unless given: each generation draws a fresh one");
        assertEquals(SamplingParams.DEFAULT_MODE, p.mode());
        SamplingParams q = SamplingParams.builder().temperature(0.7).topK(5).topP(0.9).minP(0.05).seed(3)
                .mode(SamplingMode.REJECTION).maxNewTokens(9).stopTokenIds(Set.of(4)).build();
        assertEquals(q, q.toBuilder().build());
        assertEquals(Set.of(4), q.stopTokenIds());
        assertEquals(OptionalLong.of(3), q.seed());
        assertEquals(SamplingMode.REJECTION, q.mode());
        assertTrue(q.toBuilder().seed(OptionalLong.empty()).build().seed().isEmpty());
        assertEquals(OptionalLong.of(-8), q.toBuilder().seed(-8).build().seed(), "every long is a seed");
    }

    @Test
    void nullSeedOrModeIsRejected() {
        NullPointerException e = assertThrows(NullPointerException.class,
                () -> SamplingParams.builder().seed((OptionalLong) null).build());
        assertTrue(e.getMessage().contains("OptionalLong.empty()"), e.getMessage());
        e = assertThrows(NullPointerException.class, () -> SamplingParams.builder().mode(null).build());
        assertTrue(e.getMessage().contains("COUPLED"), e.getMessage());
    }
}
