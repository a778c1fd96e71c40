package dev.specula.cli.serve;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** How the two completion endpoints differ in their responses: the object names and where the text goes. */
enum CompletionFormat {
    /** {@code /v1/completions}: {@code choices[0].text}. */
    TEXT("cmpl-", "text_completion", "text_completion") {
        @Override
        void putText(ObjectNode choice, String text, boolean chunk) {
            choice.put("text", text == null ? "" : text);
        }
    },
    /** {@code /v1/chat/completions}: {@code choices[0].message}, or {@code choices[0].delta} in a stream. */
    CHAT("chatcmpl-", "chat.completion", "chat.completion.chunk") {
        @Override
        void putText(ObjectNode choice, String text, boolean chunk) {
            ObjectNode message = choice.putObject(chunk ? "delta" : "message");
            if (!chunk) {
                message.put("role", "assistant");
            }
            if (text != null) {
                message.put("content", text);
            }
        }
    };

    private final String idPrefix;
    private final String object;
    private final String chunkObject;

    CompletionFormat(String idPrefix, String object, String chunkObject) {
        this.idPrefix = idPrefix;
        this.object = object;
        this.chunkObject = chunkObject;
    }

    /** Prefix of the response id. */
    String idPrefix() {
        return idPrefix;
    }

    /** The {@code object} of a complete response, or of a stream's chunks. */
    String object(boolean chunk) {
        return chunk ? chunkObject : object;
    }

    /** Whether a stream starts with a chunk announcing the assistant's role. */
    boolean announcesRole() {
        return this == CHAT;
    }

    /** Puts the generated {@code text} (null: none, as in the final chunk) into a choice. */
    abstract void putText(ObjectNode choice, String text, boolean chunk);
}
