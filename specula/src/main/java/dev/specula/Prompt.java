package dev.specula;

import dev.specula.onnx.text.ChatMessage;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * What a generation continues: raw text, token ids, or a chat conversation rendered with the model's own chat
 * template. Immutable values (arrays and lists are copied), holding no resources; see
 * {@link Specula#encode(Prompt)} for the ids one stands for.
 *
 * <pre>{@code
 * Prompt.text("def fibonacci(n):")                       // BOS added where the tokenizer adds it
 * Prompt.text("<s>[INST] hi [/INST]", false)             // exactly as written
 * Prompt.tokens(1, 822, 18755)                           // already tokenized
 * Prompt.chat(List.of(ChatMessage.user("Hello!")))       // the model's chat template, ends with its turn marker
 * }</pre>
 */
public sealed interface Prompt {

    /** Raw text; {@code addSpecialTokens} as transformers' {@code add_special_tokens} (default true). */
    static Prompt text(String text) {
        return new Text(text, true);
    }

    /** Raw text; {@code false} encodes it exactly as written, with no special tokens added. */
    static Prompt text(String text, boolean addSpecialTokens) {
        return new Text(text, addSpecialTokens);
    }

    /**
     * Token ids of the target's vocabulary, fed as given (checked against the vocabulary when generating).
     *
     * @throws IllegalArgumentException if {@code ids} is empty
     */
    static Prompt tokens(int... ids) {
        return new Tokens(ids);
    }

    /**
     * A conversation for the model's chat template (a generic {@code ### User:} layout for a model without one).
     *
     * @throws IllegalArgumentException if {@code messages} is empty
     */
    static Prompt chat(List<ChatMessage> messages) {
        return new Chat(messages);
    }

    /**
     * Raw text, encoded with the tokenizer's special tokens (its post-processor decides, e.g. Llama's BOS) unless
     * {@code addSpecialTokens} is false.
     *
     * @param text             the text
     * @param addSpecialTokens as transformers' {@code add_special_tokens}
     */
    record Text(String text, boolean addSpecialTokens) implements Prompt {
        /**
         * Checks the text.
         *
         * @throws NullPointerException if {@code text} is null
         */
        public Text {
            Objects.requireNonNull(text, "text");
        }
    }

    /**
     * Token ids, used as given.
     *
     * @param ids ids of the target's vocabulary (at least one)
     */
    record Tokens(int[] ids) implements Prompt {
        /**
         * Copies {@code ids}.
         *
         * @throws IllegalArgumentException if {@code ids} is empty
         */
        public Tokens {
            ids = ids.clone();
            if (ids.length == 0) {
                throw new IllegalArgumentException("a token prompt must hold at least one id");
            }
        }

        /** The ids (a copy). */
        @Override
        public int[] ids() {
            return ids.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tokens t && Arrays.equals(ids, t.ids);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(ids);
        }

        @Override
        public String toString() {
            return "Tokens" + Arrays.toString(ids);
        }
    }

    /**
     * A conversation, rendered with the model's chat template and the opening of the assistant's turn, then
     * encoded without added special tokens (the template writes BOS itself). The reply ends at the template's
     * end-of-turn token.
     *
     * @param messages the conversation (at least one message)
     */
    record Chat(List<ChatMessage> messages) implements Prompt {
        /**
         * Copies {@code messages}.
         *
         * @throws IllegalArgumentException if there are none
         */
        public Chat {
            messages = List.copyOf(messages);
            if (messages.isEmpty()) {
                throw new IllegalArgumentException("a chat prompt needs at least one message");
            }
        }
    }
}
