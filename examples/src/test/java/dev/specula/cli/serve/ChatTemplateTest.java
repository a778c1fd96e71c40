package dev.specula.cli.serve;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChatTemplateTest {
    private static final List<ChatMessage> CONVERSATION = List.of(new ChatMessage("system", "Be brief."),
            new ChatMessage("user", "Hi"), new ChatMessage("assistant", "Hello."), new ChatMessage("user", "Sum?"));

    @Test
    void chatMlWrapsEachMessageAndOpensTheAssistantTurn() {
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                        + "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nSum?<|im_end|>\n"
                        + "<|im_start|>assistant\n", ChatTemplate.CHATML.render(CONVERSATION));
        assertEquals(List.of("<|im_end|>"), ChatTemplate.CHATML.stopSequences());
    }

    @Test
    void llama3UsesHeadersAndEndOfTurnTokens() {
        assertEquals("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n",
                ChatTemplate.LLAMA3.render(List.of(new ChatMessage("user", " Hi\n"))));
        assertEquals(List.of("<|eot_id|>"), ChatTemplate.LLAMA3.stopSequences());
    }

    @Test
    void simpleTemplateUsesRoleHeadingsAndStopsAtTheNextHeading() {
        assertEquals("### System:\nBe brief.\n\n### User:\nHi\n\n### Assistant:\nHello.\n\n### User:\nSum?\n\n"
                + "### Assistant:\n", ChatTemplate.SIMPLE.render(CONVERSATION));
        assertEquals(List.of("\n### "), ChatTemplate.SIMPLE.stopSequences());
    }

    @Test
    void recognizesTheFamilyFromTheJinjaSource() {
        assertEquals(ChatTemplate.CHATML, ChatTemplate.forJinja(
                "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'}}{% endfor %}"));
        assertEquals(ChatTemplate.LLAMA3, ChatTemplate.forJinja(
                "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}{% endfor %}"));
        assertEquals(ChatTemplate.SIMPLE, ChatTemplate.forJinja("{{ messages[0]['content'] }}"));
        assertEquals(ChatTemplate.SIMPLE, ChatTemplate.forJinja(null));
    }

    @Test
    void readsTheTemplateFromTokenizerConfig(@TempDir Path dir) throws IOException {
        assertEquals(ChatTemplate.SIMPLE, ChatTemplate.forModel(dir), "no tokenizer_config.json");
        Path config = dir.resolve(ChatTemplate.CONFIG_FILE);
        Files.writeString(config, "{\"bos_token\": \"<s>\"}");
        assertEquals(ChatTemplate.SIMPLE, ChatTemplate.forModel(dir), "no chat_template");
        Files.writeString(config, "{\"chat_template\": \"{{'<|im_start|>' + message['role']}}\"}");
        assertEquals(ChatTemplate.CHATML, ChatTemplate.forModel(dir));
        Files.writeString(config, "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"<|im_start|>\"},"
                + " {\"name\": \"default\", \"template\": \"<|start_header_id|>\"}]}");
        assertEquals(ChatTemplate.LLAMA3, ChatTemplate.forModel(dir), "the default of named templates");
    }

    @Test
    void malformedTokenizerConfigIsAnErrorNamingTheFile(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve(ChatTemplate.CONFIG_FILE), "{not json");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ChatTemplate.forModel(dir));
        assertTrue(e.getMessage().contains(ChatTemplate.CONFIG_FILE), e.getMessage());
    }
}
