package dev.specula.langchain4j;

import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.service.TokenStream;
import dev.specula.Completion;
import dev.specula.GenerationRequest;
import dev.specula.Prompt;
import dev.specula.Specula;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.schedule.Scheduling;
import dev.specula.models.EmbeddedModels;
import dev.specula.onnx.OnnxModelOptions;
import dev.specula.onnx.text.ChatMessage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Specula through LangChain4j's own API (AiServices, ChatModel, StreamingChatModel) on the embedded model pair,
 * checked against Specula called directly. The pair has no chat template, so chats use Specula's simple
 * {@code ### User:} layout.
 */
class SpeculaLangChain4jTest {
    static final String PROMPT = "def fibonacci(n):";
    static final int TOKENS = 16;
    static Specula specula;
    static SpeculaChatModel chatModel;
    static SpeculaStreamingChatModel streamingModel;

    interface Assistant {
        String chat(String message);
    }

    interface StreamingAssistant {
        TokenStream chat(String message);
    }

    @BeforeAll
    static void load() {
        specula = Specula.builder().target(EmbeddedModels.target()).draftModel(EmbeddedModels.draft()).promptLookup()
                .scheduling(Scheduling.fixed(3)) // drafts at every step, whatever earlier requests accepted
                .targetOptions(OnnxModelOptions.cpu(2)).build();
        chatModel = SpeculaChatModel.builder().specula(specula).maxOutputTokens(TOKENS).build();
        streamingModel = SpeculaStreamingChatModel.builder().specula(specula).maxOutputTokens(TOKENS).build();
    }

    @AfterAll
    static void close() {
        chatModel.close();
        streamingModel.close();
        specula.close();
    }

    /** Specula's own greedy reply to one user message. */
    static Completion direct(String message, SamplingParams params) {
        return specula.generate(GenerationRequest.chat(List.of(ChatMessage.user(message))).params(params).build());
    }

    static ChatRequest request(String message, SpeculaChatRequestParameters parameters) {
        return ChatRequest.builder().messages(UserMessage.from(message)).parameters(parameters).build();
    }

    @Test
    void aiServicesInterfaceAnswersWhatSpeculaAnswers() {
        Assistant assistant = AiServices.create(Assistant.class, chatModel);
        String expected = direct(PROMPT, SamplingParams.greedy(TOKENS)).text();
        assertTrue(!expected.isEmpty(), "the embedded pair should answer something");
        assertEquals(expected, assistant.chat(PROMPT));
    }

    @Test
    void greedyChatEqualsSpeculaDirectlyWithUsageFinishReasonAndSpeculationMetrics() {
        Completion expected = direct(PROMPT, SamplingParams.greedy(TOKENS));
        ChatResponse response = chatModel.chat(UserMessage.from(PROMPT));
        assertEquals(expected.text(), response.aiMessage().text());
        assertEquals(expected.promptTokens(), response.tokenUsage().inputTokenCount());
        assertEquals(specula.encode(Prompt.chat(List.of(ChatMessage.user(PROMPT)))).length,
                response.tokenUsage().inputTokenCount());
        assertEquals(expected.tokenIds().length, response.tokenUsage().outputTokenCount());
        assertEquals(response.tokenUsage().inputTokenCount() + response.tokenUsage().outputTokenCount(),
                response.tokenUsage().totalTokenCount());
        assertEquals(SpeculaChatEngine.finishReason(expected.finishReason()), response.finishReason());
        assertEquals(specula.target().name(), response.modelName());

        SpeculaChatResponseMetadata metadata = assertInstanceOf(SpeculaChatResponseMetadata.class, response.metadata());
        assertTrue(metadata.speculative());
        assertEquals(expected.tokenIds().length, metadata.metrics().generatedTokens());
        assertTrue(metadata.metrics().draftedTokens() > 0, "the draft model proposes at every step: "
                + metadata.metrics());
        assertEquals((double) metadata.metrics().acceptedTokens() / metadata.metrics().draftedTokens(),
                metadata.acceptanceRate(), 1e-12);
        assertEquals((double) metadata.metrics().generatedTokens() / metadata.metrics().steps(),
                metadata.meanTokensPerTargetCall(), 1e-12);
        assertTrue(metadata.meanDraftLength() > 0 && metadata.meanDraftLength() <= 3, metadata.toString());
        System.out.println("LangChain4j greedy chat, " + TOKENS + " tokens: " + metadata.metrics());

        // plain decoding through Specula's parameters gives the same greedy text, with nothing drafted
        ChatResponse plain = chatModel.chat(request(PROMPT, SpeculaChatRequestParameters.builder()
                .speculative(false).build()));
        assertEquals(expected.text(), plain.aiMessage().text());
        SpeculaChatResponseMetadata plainMetadata = (SpeculaChatResponseMetadata) plain.metadata();
        assertEquals(0, plainMetadata.metrics().draftedTokens());
        assertEquals(1.0, plainMetadata.meanTokensPerTargetCall(), 1e-12);
    }

    @Test
    void maxOutputTokensLimitsTheReplyWithFinishReasonLength() {
        Completion longer = direct(PROMPT, SamplingParams.greedy(TOKENS));
        assertEquals(TOKENS, longer.tokenIds().length, "the prompt should run past " + TOKENS + " tokens: " + longer);
        ChatResponse response = chatModel.chat(request(PROMPT, SpeculaChatRequestParameters.builder()
                .maxOutputTokens(5).build()));
        assertEquals(5, response.tokenUsage().outputTokenCount());
        assertEquals(FinishReason.LENGTH, response.finishReason());
        assertTrue(longer.text().startsWith(response.aiMessage().text()),
                "'" + response.aiMessage().text() + "' is not a prefix of '" + longer.text() + "'");
        assertEquals(direct(PROMPT, SamplingParams.greedy(5)).text(), response.aiMessage().text());
    }

    @Test
    void stopSequenceEndsTheReplyBeforeIt() {
        String full = direct(PROMPT, SamplingParams.greedy(TOKENS)).text();
        String stop = stopWithin(full);
        ChatResponse response = chatModel.chat(request(PROMPT, SpeculaChatRequestParameters.builder()
                .stopSequences(List.of(stop)).build()));
        assertEquals(full.substring(0, full.indexOf(stop)), response.aiMessage().text());
        assertEquals(FinishReason.STOP, response.finishReason());
    }

    /** Two non-blank characters from the middle of {@code text}, to stop at. */
    static String stopWithin(String text) {
        for (int i = text.length() / 3; i + 2 <= text.length(); i++) {
            String s = text.substring(i, i + 2);
            if (s.isBlank() || Character.isWhitespace(s.charAt(0)) || text.indexOf(s) == 0) {
                continue;
            }
            return s;
        }
        throw new AssertionError("no stop sequence to pick from '" + text + "'");
    }

    @Test
    void seededSamplingEqualsSpeculaWithTheSameSeed() {
        SamplingParams params = SamplingParams.builder().temperature(0.9).topP(0.95).topK(50).seed(1234)
                .maxNewTokens(TOKENS).build();
        Completion expected = direct(PROMPT, params);
        ChatResponse response = chatModel.chat(request(PROMPT, SpeculaChatRequestParameters.builder()
                .temperature(0.9).topP(0.95).topK(50).seed(1234L).build()));
        assertEquals(expected.text(), response.aiMessage().text());
        assertEquals(expected.tokenIds().length, response.tokenUsage().outputTokenCount());
    }

    @Test
    void streamingPartialsJoinToTheFinalTextWhichEqualsTheBlockingReply() {
        List<String> partials = new ArrayList<>();
        AtomicReference<ChatResponse> complete = new AtomicReference<>();
        AtomicReference<Throwable> error = new AtomicReference<>();
        streamingModel.chat(PROMPT, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partialResponse) {
                partials.add(partialResponse);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                assertNull(complete.getAndSet(response), "onCompleteResponse called twice");
            }

            @Override
            public void onError(Throwable e) {
                error.set(e);
            }
        });
        assertNull(error.get());
        assertNotNull(complete.get());
        assertTrue(partials.size() > 1, "streamed in pieces: " + partials);
        assertEquals(String.join("", partials), complete.get().aiMessage().text());
        assertEquals(chatModel.chat(PROMPT), complete.get().aiMessage().text());
        assertInstanceOf(SpeculaChatResponseMetadata.class, complete.get().metadata());
    }

    @Test
    void aiServicesTokenStreamOnTheStreamingModel() {
        StreamingAssistant assistant = AiServices.create(StreamingAssistant.class, streamingModel);
        StringBuilder streamed = new StringBuilder();
        AtomicReference<ChatResponse> complete = new AtomicReference<>();
        AtomicReference<Throwable> error = new AtomicReference<>();
        assistant.chat(PROMPT).onPartialResponse(streamed::append).onCompleteResponse(complete::set)
                .onError(error::set).start();
        assertNull(error.get());
        assertEquals(direct(PROMPT, SamplingParams.greedy(TOKENS)).text(), complete.get().aiMessage().text());
        assertEquals(streamed.toString(), complete.get().aiMessage().text());
    }

    @Test
    void cancellingThroughTheStreamingHandleEndsTheGenerationWithoutFurtherCalls() {
        List<String> partials = new ArrayList<>();
        List<String> calls = new ArrayList<>();
        streamingModel.chat(PROMPT, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
                partials.add(partial.text());
                context.streamingHandle().cancel();
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                calls.add("complete");
            }

            @Override
            public void onError(Throwable e) {
                calls.add("error " + e);
            }
        });
        assertEquals(1, partials.size(), partials.toString());
        assertEquals(List.of(), calls);
    }

    @Test
    void unsupportedInputsFailClearlyBlockingAndStreaming() {
        UnsupportedFeatureException tool = assertThrows(UnsupportedFeatureException.class,
                () -> chatModel.chat(UserMessage.from("hi"), ToolExecutionResultMessage.from("1", "clock", "12:00")));
        assertTrue(tool.getMessage().contains("TOOL_EXECUTION_RESULT"), tool.getMessage());

        AtomicReference<Throwable> error = new AtomicReference<>();
        List<String> calls = new ArrayList<>();
        streamingModel.chat(List.of(UserMessage.from(TextContent.from("what is this?"),
                ImageContent.from("https://example.invalid/cat.png"))), new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partialResponse) {
                calls.add("partial");
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                calls.add("complete");
            }

            @Override
            public void onError(Throwable e) {
                error.set(e);
            }
        });
        assertEquals(List.of(), calls);
        assertInstanceOf(UnsupportedFeatureException.class, error.get());
        assertTrue(error.get().getMessage().contains("IMAGE"), error.get().getMessage());
    }

    @Test
    void aModelThatLoadsSpeculaOwnsAndClosesItWhileABorrowedOneStaysOpen() {
        SpeculaChatModel owning = SpeculaChatModel.builder().target(EmbeddedModels.target())
                .draftModel(EmbeddedModels.draft()).maxOutputTokens(4).build();
        assertEquals(direct(PROMPT, SamplingParams.greedy(4)).text(), owning.chat(PROMPT));
        owning.close();
        owning.close(); // idempotent
        IllegalStateException closed = assertThrows(IllegalStateException.class, () -> owning.chat(PROMPT));
        assertTrue(closed.getMessage().contains("SpeculaChatModel is closed"), closed.getMessage());

        SpeculaChatModel borrowing = SpeculaChatModel.builder().specula(specula).maxOutputTokens(4).build();
        borrowing.close();
        assertEquals(4, direct(PROMPT, SamplingParams.greedy(4)).tokenIds().length); // specula is still open
        assertThrows(IllegalStateException.class, () -> borrowing.chat(PROMPT));

        IllegalStateException both = assertThrows(IllegalStateException.class,
                () -> SpeculaChatModel.builder().specula(specula).target(EmbeddedModels.target()).build());
        assertTrue(both.getMessage().contains("not both"), both.getMessage());
        assertThrows(IllegalStateException.class, () -> SpeculaStreamingChatModel.builder().build());
    }
}
