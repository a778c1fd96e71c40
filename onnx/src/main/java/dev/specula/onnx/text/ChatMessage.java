package dev.specula.onnx.text;

import java.util.Objects;

/**
 * One message of a chat conversation.
 *
 * @param role    who wrote it: {@code system}, {@code user}, {@code assistant} (templates may accept others, such as
 *                {@code tool} or {@code developer})
 * @param content its text
 */
public record ChatMessage(String role, String content) {

    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
        if (role.isBlank()) {
            throw new IllegalArgumentException("a chat message's role must not be blank (expected e.g. \"user\")");
        }
    }

    public static ChatMessage system(String content) {
        return new ChatMessage("system", content);
    }

    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }
}
