package dev.specula.cli.serve;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Turns a chat conversation into the prompt text of one model family, ending where the assistant's reply
 * begins. The family is recognized from the {@code chat_template} of the model's {@code tokenizer_config.json}
 * (the Jinja template itself is not run): ChatML ({@code <|im_start|>}, e.g. Qwen), Llama 3
 * ({@code <|start_header_id|>}), or, for models without a template (like the embedded pair), a plain
 * {@code ### Role:} layout.
 */
enum ChatTemplate {
    /** {@code <|im_start|>role\ncontent<|im_end|>\n} per message. */
    CHATML(List.of("<|im_end|>")) {
        @Override
        String render(List<ChatMessage> messages) {
            StringBuilder prompt = new StringBuilder();
            for (ChatMessage m : messages) {
                prompt.append("<|im_start|>").append(m.role()).append('\n').append(m.content()).append("<|im_end|>\n");
            }
            return prompt.append("<|im_start|>assistant\n").toString();
        }
    },
    /** {@code <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>} per message, after the BOS token. */
    LLAMA3(List.of("<|eot_id|>")) {
        @Override
        String render(List<ChatMessage> messages) {
            StringBuilder prompt = new StringBuilder("<|begin_of_text|>");
            for (ChatMessage m : messages) {
                header(prompt, m.role()).append(m.content().strip()).append("<|eot_id|>");
            }
            return header(prompt, "assistant").toString();
        }

        private StringBuilder header(StringBuilder prompt, String role) {
            return prompt.append("<|start_header_id|>").append(role).append("<|end_header_id|>\n\n");
        }
    },
    /** {@code ### Role:\ncontent\n\n} per message; the reply ends where the model starts a new {@code ###} turn. */
    SIMPLE(List.of("\n### ")) {
        @Override
        String render(List<ChatMessage> messages) {
            StringBuilder prompt = new StringBuilder();
            for (ChatMessage m : messages) {
                prompt.append("### ").append(capitalize(m.role())).append(":\n").append(m.content()).append("\n\n");
            }
            return prompt.append("### Assistant:\n").toString();
        }

        private String capitalize(String role) {
            return role.substring(0, 1).toUpperCase(Locale.ROOT) + role.substring(1);
        }
    };

    /** The file of a Hugging Face model directory that holds its chat template. */
    static final String CONFIG_FILE = "tokenizer_config.json";

    private final List<String> stopSequences;

    ChatTemplate(List<String> stopSequences) {
        this.stopSequences = stopSequences;
    }

    /** The prompt for {@code messages}, ending with the opening of the assistant's turn. */
    abstract String render(List<ChatMessage> messages);

    /** Texts that end the assistant's turn; added to the request's own stop sequences. */
    List<String> stopSequences() {
        return stopSequences;
    }

    /**
     * The template of the model in {@code modelDir}: recognized from its {@code tokenizer_config.json}, or
     * {@link #SIMPLE} when there is none or it has no {@code chat_template}.
     *
     * @throws IllegalArgumentException if the file is not valid JSON
     * @throws UncheckedIOException     if it cannot be read
     */
    static ChatTemplate forModel(Path modelDir) {
        Path file = modelDir.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(file)) {
            return SIMPLE;
        }
        JsonNode config;
        try {
            config = new ObjectMapper().readTree(file.toFile());
        } catch (JacksonException e) {
            throw new IllegalArgumentException(file + " is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        return forJinja(templateText(config == null ? null : config.get("chat_template")));
    }

    /** The template whose markers appear in the Jinja source {@code chatTemplate} (null: {@link #SIMPLE}). */
    static ChatTemplate forJinja(String chatTemplate) {
        if (chatTemplate == null) {
            return SIMPLE;
        }
        if (chatTemplate.contains("<|im_start|>")) {
            return CHATML;
        }
        return chatTemplate.contains("<|start_header_id|>") ? LLAMA3 : SIMPLE;
    }

    /** A {@code chat_template} is a string, or a list of named templates of which "default" is the chat one. */
    private static String templateText(JsonNode node) {
        if (node == null) {
            return null;
        }
        if (node.isTextual()) {
            return node.asText();
        }
        for (JsonNode named : node) {
            if ("default".equals(named.path("name").asText())) {
                return named.path("template").asText(null);
            }
        }
        return null;
    }
}
