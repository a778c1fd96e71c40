package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.specula.core.sampling.SamplingParams;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import dev.specula.Prompt;
import dev.specula.onnx.text.ChatMessage;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RequestParserTest {
    private final RequestParser parser = new RequestParser(new ObjectMapper(), List.of("default-model", "other-name"));

    private CompletionSpec completion(String json) {
        return parser.completion(parser.read(json.getBytes(StandardCharsets.UTF_8)));
    }

    private ApiException completionError(String json) {
        return assertThrows(ApiException.class, () -> completion(json));
    }

    @Test
    void promptMayBeTokenIds() {
        assertEquals(Prompt.tokens(1, 822, 18755), completion("{\"prompt\": [1, 822, 18755]}").prompt());
    }

    @Test
    void appliesOpenAiDefaults() {
        CompletionSpec spec = completion("{\"prompt\": \"def f():\"}");
        assertEquals(Prompt.text("def f():"), spec.prompt());
        assertEquals("default-model", spec.model());
        SamplingParams p = spec.params();
        assertEquals(RequestParser.DEFAULT_MAX_TOKENS, p.maxNewTokens());
        assertEquals(1.0, p.temperature());
        assertEquals(1.0, p.topP());
        assertEquals(0, p.topK());
        assertTrue(p.seed().isEmpty(), "no seed: the decoder draws a fresh one per request");
        assertEquals(List.of(), spec.stopSequences());
        assertFalse(spec.stream());
        assertTrue(spec.speculative());
    }

    @Test
    void readsEveryField() {
        CompletionSpec spec = completion("{\"model\": \"other-name\", \"prompt\": [\"p\"], \"max_tokens\": 7, \"temperature\": 0,"
                + " \"top_p\": 0.5, \"top_k\": 3, \"seed\": 9, \"stop\": [\"a\", \"b\"], \"stream\": true,"
                + " \"speculative\": false, \"n\": 1, \"user\": \"ignored\", \"logit_bias\": null}");
        assertEquals("default-model", spec.model(), "responses carry the first served name");
        assertEquals(Prompt.text("p"), spec.prompt());
        assertEquals(SamplingParams.builder().maxNewTokens(7).temperature(0).topP(0.5).topK(3).seed(9).build(),
                spec.params());
        assertEquals(List.of("a", "b"), spec.stopSequences());
        assertTrue(spec.stream());
        assertFalse(spec.speculative());
        assertEquals(List.of("x"), completion("{\"prompt\": \"p\", \"stop\": \"x\"}").stopSequences());
        assertEquals(List.of(), completion("{\"prompt\": \"p\", \"stop\": null}").stopSequences());
    }

    @Test
    void namesTheFieldOfEveryBadValue() {
        assertEquals(null, completionError("{\"prompt\": ").param());
        assertEquals(null, completionError("[\"prompt\"]").param());
        assertEquals("prompt", completionError("{}").param());
        assertEquals("prompt", completionError("{\"prompt\": \"\"}").param());
        assertEquals("prompt", completionError("{\"prompt\": [\"a\", \"b\"]}").param());
        assertEquals("prompt[1]", completionError("{\"prompt\": [1, -2]}").param());
        assertEquals("prompt[0]", completionError("{\"prompt\": [1.5]}").param());
        assertEquals("prompt", completionError("{\"prompt\": []}").param());
        assertEquals("max_tokens", completionError("{\"prompt\": \"p\", \"max_tokens\": \"ten\"}").param());
        assertEquals("max_tokens", completionError("{\"prompt\": \"p\", \"max_tokens\": 1.5}").param());
        assertEquals("max_tokens", completionError("{\"prompt\": \"p\", \"max_tokens\": 0}").param());
        assertEquals("temperature", completionError("{\"prompt\": \"p\", \"temperature\": \"hot\"}").param());
        assertEquals("top_p", completionError("{\"prompt\": \"p\", \"top_p\": 1.5}").param());
        assertEquals("top_k", completionError("{\"prompt\": \"p\", \"top_k\": -1}").param());
        assertEquals("seed", completionError("{\"prompt\": \"p\", \"seed\": \"x\"}").param());
        assertEquals("stream", completionError("{\"prompt\": \"p\", \"stream\": \"yes\"}").param());
        assertEquals("speculative", completionError("{\"prompt\": \"p\", \"speculative\": 0}").param());
        assertEquals("stop", completionError("{\"prompt\": \"p\", \"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}").param());
        assertEquals("stop", completionError("{\"prompt\": \"p\", \"stop\": [\"\"]}").param());
        assertEquals("n", completionError("{\"prompt\": \"p\", \"n\": 2}").param());
    }

    @Test
    void samplingRangeErrorsUseTheRequestFieldName() {
        ApiException e = completionError("{\"prompt\": \"p\", \"temperature\": -1}");
        assertEquals(400, e.status());
        assertEquals("temperature", e.param());
        assertTrue(e.getMessage().startsWith("temperature must be"), e.getMessage());
        e = completionError("{\"prompt\": \"p\", \"max_tokens\": -3}");
        assertTrue(e.getMessage().startsWith("max_tokens must be"), e.getMessage());
        assertTrue(e.getMessage().endsWith("got -3"), e.getMessage());
    }

    @Test
    void chatKeepsTheConversationForTheModelsTemplate() {
        CompletionSpec spec = parser.chat(parser.read(("{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}],"
                + " \"stop\": \"END\"}").getBytes(StandardCharsets.UTF_8)));
        assertEquals(Prompt.chat(List.of(ChatMessage.user("Hi"))), spec.prompt());
        assertEquals(List.of("END"), spec.stopSequences());
        assertEquals(SamplingParams.MAX_NEW_TOKENS_LIMIT, spec.params().maxNewTokens(), "until the turn ends");
    }

    @Test
    void chatNamesTheBadMessageField() {
        assertEquals("messages", chatError("{}").param());
        assertEquals("messages", chatError("{\"messages\": []}").param());
        assertEquals("messages[0]", chatError("{\"messages\": [\"hi\"]}").param());
        assertEquals("messages[1].role", chatError("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"},"
                + " {\"role\": \"robot\", \"content\": \"b\"}]}").param());
        assertEquals("messages[0].content", chatError("{\"messages\": [{\"role\": \"user\"}]}").param());
        assertEquals("max_completion_tokens", chatError("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}],"
                + " \"max_completion_tokens\": 0}").param());
    }

    private ApiException chatError(String json) {
        return assertThrows(ApiException.class,
                () -> parser.chat(parser.read(json.getBytes(StandardCharsets.UTF_8))));
    }

    @Test
    void anUnknownModelIs404ModelNotFound() {
        ApiException e = completionError("{\"model\": \"gpt-4o\", \"prompt\": \"p\"}");
        assertEquals(404, e.status());
        assertEquals("model_not_found", e.code());
        assertEquals("model", e.param());
        assertTrue(e.getMessage().contains("'gpt-4o'") && e.getMessage().contains("'default-model'"), e.getMessage());
    }

    @Test
    void unsupportedParametersAre400NamingThem() {
        for (String field : List.of("\"logprobs\": 1", "\"logprobs\": 0", "\"echo\": true", "\"best_of\": 2",
                "\"presence_penalty\": 0.5", "\"frequency_penalty\": -1", "\"logit_bias\": {\"50\": 10}",
                "\"n\": 2", "\"suffix\": \"x\"", "\"service_tier\": \"flex\"", "\"repetition_penalty\": 1.1",
                "\"tools\": [{\"type\": \"function\"}]")) {
            ApiException e = completionError("{\"prompt\": \"p\", " + field + "}");
            String name = field.substring(1, field.indexOf('"', 1));
            assertEquals(400, e.status(), field);
            assertEquals(name, e.param(), field);
            assertEquals("unsupported_parameter", e.code(), field);
            assertTrue(e.getMessage().contains(name), e.getMessage());
        }
        for (String field : List.of("\"top_logprobs\": 2", "\"logprobs\": true", "\"tools\": [{}]",
                "\"tool_choice\": \"required\"", "\"response_format\": {\"type\": \"json_object\"}",
                "\"store\": true", "\"reasoning_effort\": \"low\"", "\"modalities\": [\"text\", \"audio\"]",
                "\"prompt\": \"p\"")) {
            ApiException e = chatError("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], " + field + "}");
            assertEquals(field.substring(1, field.indexOf('"', 1)), e.param(), field);
        }
    }

    @Test
    void unsupportedParametersWithTheirNoOpValuesAreAccepted() {
        completion("{\"prompt\": \"p\", \"logprobs\": null, \"echo\": false, \"best_of\": 1, \"n\": 1,"
                + " \"presence_penalty\": 0, \"frequency_penalty\": 0.0, \"logit_bias\": {}, \"suffix\": \"\","
                + " \"user\": \"u\", \"stream_options\": {\"include_usage\": true}, \"service_tier\": \"auto\"}");
        parser.chat(parser.read(("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"logprobs\": false,"
                + " \"top_logprobs\": 0, \"tools\": [], \"tool_choice\": \"none\", \"parallel_tool_calls\": true,"
                + " \"response_format\": {\"type\": \"text\"}, \"modalities\": [\"text\"], \"store\": false,"
                + " \"metadata\": {}, \"max_completion_tokens\": 5}").getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void chatTakesTextPartsTheDeveloperRoleAsSystemAndToolMessages() {
        CompletionSpec spec = parser.chat(parser.read(("{\"messages\": ["
                + "{\"role\": \"developer\", \"content\": \"Be brief.\"},"
                + "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Hello, \"},"
                + " {\"type\": \"text\", \"text\": \"world\"}]},"
                + "{\"role\": \"assistant\", \"content\": \"Hi\"},"
                + "{\"role\": \"tool\", \"content\": \"42\", \"tool_call_id\": \"call_1\"}]}")
                .getBytes(StandardCharsets.UTF_8)));
        assertEquals(Prompt.chat(List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hello, world"),
                ChatMessage.assistant("Hi"), new ChatMessage("tool", "42"))), spec.prompt());
    }

    @Test
    void chatRejectsNonTextPartsAndToolCallsNamingTheField() {
        ApiException image = chatError("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\","
                + " \"text\": \"what is this?\"}, {\"type\": \"image_url\", \"image_url\": {\"url\": \"x\"}}]}]}");
        assertEquals("messages[0].content[1].type", image.param());
        assertTrue(image.getMessage().contains("image_url"), image.getMessage());
        assertEquals("messages[0].content", chatError("{\"messages\": [{\"role\": \"user\", \"content\": []}]}")
                .param());
        assertEquals("messages[0].content[0].text", chatError("{\"messages\": [{\"role\": \"user\", \"content\":"
                + " [{\"type\": \"text\"}]}]}").param());
        assertEquals("messages[0].tool_calls", chatError("{\"messages\": [{\"role\": \"assistant\", \"content\": null,"
                + " \"tool_calls\": [{\"id\": \"c\"}]}]}").param());
        assertEquals("messages[0].role", chatError("{\"messages\": [{\"role\": \"function\", \"content\": \"x\"}]}")
                .param());
    }
}
