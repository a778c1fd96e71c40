package dev.specula.langchain4j;

import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.ModelNotFoundException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.output.FinishReason;
import dev.specula.GenerationRequest;
import dev.specula.core.decode.GenerationMetrics;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.onnx.text.ChatMessage;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The mapping between LangChain4j's chat types and Specula's, without a model. */
class SpeculaChatEngineTest {
    static final List<ChatMessage> HI = List.of(ChatMessage.user("hi"));

    static GenerationRequest map(ChatRequestParameters parameters) {
        return SpeculaChatEngine.generationRequest(HI, parameters, "m", 512).build();
    }

    @Test
    void mapsSystemUserAndAiTextMessagesInOrder() {
        List<ChatMessage> mapped = SpeculaChatEngine.messages(List.of(SystemMessage.from("be brief"),
                UserMessage.from("a"), AiMessage.from("b"), UserMessage.from(TextContent.from("c"),
                        TextContent.from("d"))));
        assertEquals(List.of(ChatMessage.system("be brief"), ChatMessage.user("a"), ChatMessage.assistant("b"),
                ChatMessage.user("c\nd")), mapped);
    }

    @Test
    void rejectsImagesToolResultsAndToolCallsNamingTheMessage() {
        UnsupportedFeatureException image = assertThrows(UnsupportedFeatureException.class,
                () -> SpeculaChatEngine.messages(List.of(UserMessage.from("x"), UserMessage.from(
                        TextContent.from("look"), ImageContent.from("https://example.invalid/cat.png")))));
        assertTrue(image.getMessage().contains("message 1 (USER) part 1 is IMAGE content"), image.getMessage());

        UnsupportedFeatureException tool = assertThrows(UnsupportedFeatureException.class,
                () -> SpeculaChatEngine.messages(List.of(ToolExecutionResultMessage.from("id", "clock", "12:00"))));
        assertTrue(tool.getMessage().contains("message 0 is a TOOL_EXECUTION_RESULT message"), tool.getMessage());

        AiMessage call = AiMessage.from(List.of(ToolExecutionRequest.builder().id("1").name("clock").arguments("{}")
                .build()));
        UnsupportedFeatureException calls = assertThrows(UnsupportedFeatureException.class,
                () -> SpeculaChatEngine.messages(List.of(UserMessage.from("time?"), call)));
        assertTrue(calls.getMessage().contains("message 1 is an AI message with 1 tool execution request"),
                calls.getMessage());
    }

    @Test
    void mapsSamplingParametersStopsSeedAndPlainDecoding() {
        GenerationRequest r = map(SpeculaChatRequestParameters.builder().temperature(0.7).topP(0.9).topK(40)
                .maxOutputTokens(17).stopSequences("\n\n", "END").seed(99L).speculative(false).build());
        SamplingParams p = r.params();
        assertEquals(0.7, p.temperature());
        assertEquals(0.9, p.topP());
        assertEquals(40, p.topK());
        assertEquals(17, p.maxNewTokens());
        assertEquals(java.util.OptionalLong.of(99L), p.seed());
        assertEquals(List.of("\n\n", "END"), r.stopSequences());
        assertFalse(r.speculative());
        assertEquals(new dev.specula.Prompt.Chat(HI), r.prompt());
    }

    @Test
    void withoutParametersTheReplyIsGreedySpeculativeAndMayFillTheContext() {
        GenerationRequest r = map(ChatRequestParameters.builder().build());
        assertTrue(r.params().isGreedy());
        assertEquals(512, r.params().maxNewTokens());
        assertTrue(r.speculative());
        assertEquals(List.of(), r.stopSequences());
    }

    @Test
    void rejectsWhatSpeculaCannotHonourInsteadOfIgnoringIt() {
        ToolSpecification clock = ToolSpecification.builder().name("clock").build();
        assertThrows(UnsupportedFeatureException.class,
                () -> map(ChatRequestParameters.builder().toolSpecifications(clock).build()));
        assertThrows(UnsupportedFeatureException.class,
                () -> map(ChatRequestParameters.builder().toolChoice(ToolChoice.REQUIRED).build()));
        UnsupportedFeatureException json = assertThrows(UnsupportedFeatureException.class,
                () -> map(ChatRequestParameters.builder().responseFormat(ResponseFormat.JSON).build()));
        assertTrue(json.getMessage().contains("JSON"), json.getMessage());
        UnsupportedFeatureException penalty = assertThrows(UnsupportedFeatureException.class,
                () -> map(ChatRequestParameters.builder().frequencyPenalty(0.5).build()));
        assertTrue(penalty.getMessage().contains("frequencyPenalty") && penalty.getMessage().contains("0.5"),
                penalty.getMessage());
        assertThrows(UnsupportedFeatureException.class,
                () -> map(ChatRequestParameters.builder().presencePenalty(-1.0).build()));
        ModelNotFoundException model = assertThrows(ModelNotFoundException.class,
                () -> map(ChatRequestParameters.builder().modelName("gpt-4o").build()));
        assertTrue(model.getMessage().contains("'gpt-4o'") && model.getMessage().contains("'m'"), model.getMessage());
        IllegalArgumentException tokens = assertThrows(IllegalArgumentException.class,
                () -> map(ChatRequestParameters.builder().maxOutputTokens(0).build()));
        assertTrue(tokens.getMessage().contains("maxOutputTokens must be >= 1, got 0"), tokens.getMessage());
        // zero penalties, TEXT format, AUTO tool choice and this model's own name are no-ops, so accepted
        map(ChatRequestParameters.builder().frequencyPenalty(0.0).presencePenalty(0.0).modelName("m")
                .responseFormat(ResponseFormat.TEXT).toolChoice(ToolChoice.AUTO).build());
    }

    @Test
    void mapsFinishReasons() {
        assertEquals(FinishReason.STOP, SpeculaChatEngine.finishReason(
                dev.specula.core.decode.FinishReason.END_OF_SEQUENCE));
        assertEquals(FinishReason.STOP, SpeculaChatEngine.finishReason(dev.specula.core.decode.FinishReason.STOP_TOKEN));
        assertEquals(FinishReason.LENGTH, SpeculaChatEngine.finishReason(
                dev.specula.core.decode.FinishReason.MAX_TOKENS));
        assertEquals(FinishReason.LENGTH, SpeculaChatEngine.finishReason(
                dev.specula.core.decode.FinishReason.CONTEXT_FULL));
        assertEquals(FinishReason.OTHER, SpeculaChatEngine.finishReason(dev.specula.core.decode.FinishReason.CANCELLED));
    }

    @Test
    void seedAndSpeculativeSurviveLangChain4jsParameterMergingBothWays() {
        SpeculaChatRequestParameters defaults = SpeculaChatRequestParameters.builder().modelName("m").temperature(0.5)
                .seed(7L).build();
        // the model's defaults overridden by plain parameters (what ChatModel.chat does for most requests)
        SpeculaChatRequestParameters merged = defaults.overrideWith(ChatRequestParameters.builder().topK(3).build());
        assertEquals(7L, merged.seed());
        assertEquals(0.5, merged.temperature());
        assertEquals(3, merged.topK());
        assertEquals("m", merged.modelName());
        // request parameters of Specula's type override the seed and keep the defaults' other values
        SpeculaChatRequestParameters request = SpeculaChatRequestParameters.builder().seed(8L).speculative(false).build();
        SpeculaChatRequestParameters both = defaults.overrideWith(request);
        assertEquals(8L, both.seed());
        assertEquals(false, both.speculative());
        assertEquals(0.5, both.temperature());
        // plain defaults overridden by Specula's parameters hand the merge to them, keeping the seed
        ChatRequestParameters plainDefaults = ChatRequestParameters.builder().temperature(0.2).build();
        SpeculaChatRequestParameters delegated = assertInstanceOf(SpeculaChatRequestParameters.class,
                plainDefaults.overrideWith(request));
        assertEquals(8L, delegated.seed());
        assertEquals(0.2, delegated.temperature());
        assertEquals(request, SpeculaChatRequestParameters.builder().overrideWith(request).build());
        assertNotEquals(request, SpeculaChatRequestParameters.builder().seed(9L).speculative(false).build());
    }

    @Test
    void metadataCarriesTheMetricsThroughToBuilderAndEquality() {
        GenerationMetrics metrics = new GenerationMetrics(5, 12, 10, 8, 4, 5, 6, 1, 2, 3, 10, new int[] {3, 3, 2, 2},
                42);
        SpeculaChatResponseMetadata m = SpeculaChatResponseMetadata.builder().modelName("m").metrics(metrics)
                .finishReason(FinishReason.STOP).build();
        assertEquals(0.8, m.acceptanceRate(), 1e-12);
        assertEquals(3.0, m.meanTokensPerTargetCall(), 1e-12);
        assertEquals(2.5, m.meanDraftLength(), 1e-12);
        assertEquals(m, m.toBuilder().build());
        assertEquals(m.hashCode(), m.toBuilder().build().hashCode());
        assertNotEquals(m, m.toBuilder().speculative(false).build());
        assertThrows(NullPointerException.class, () -> SpeculaChatResponseMetadata.builder().build());
    }
}
