package dev.specula.cli.serve;

import java.util.Objects;
import java.util.Set;

/**
 * One message of a chat conversation.
 *
 * @param role    {@code system}, {@code user} or {@code assistant}
 * @param content the message text
 */
record ChatMessage(String role, String content) {
    /** The roles a chat request may use. */
    static final Set<String> ROLES = Set.of("system", "user", "assistant");

    ChatMessage {
        Objects.requireNonNull(content, "content");
        if (!ROLES.contains(role)) {
            throw new IllegalArgumentException("role must be one of system, user, assistant; got " + role);
        }
    }
}
