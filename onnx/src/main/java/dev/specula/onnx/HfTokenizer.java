package dev.specula.onnx;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import dev.specula.core.SpeculaException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A Hugging Face tokenizer ({@code tokenizer.json}, plus {@code tokenizer_config.json} when present), run by DJL's
 * binding of the Rust tokenizers library, loaded by path and fully offline. It behaves as Python transformers' fast
 * tokenizer does: {@link #encode(String)} adds the special tokens the tokenizer's post-processor adds (Llama's
 * {@code <s>}, nothing for Qwen), rebuilt from tokenizer_config.json's {@code add_bos_token}/{@code add_eos_token}
 * for Llama, CodeLlama and Gemma tokenizer classes as their Python constructors do (so DeepSeek-V3 gets its BOS);
 * {@link #decode(int[])} skips special tokens and applies {@code clean_up_tokenization_spaces} as configured;
 * nothing is truncated or padded.
 *
 * <p>Thread-safe. Owns a native tokenizer: close it (idempotent) when done; a call after close throws
 * {@link IllegalStateException}.
 *
 * <pre>{@code
 * try (HfTokenizer tok = HfTokenizer.load(Path.of("models/target"))) {
 *     int[] ids = tok.encode("def f(x):");            // with BOS where the model expects it
 *     String text = tok.decode(ids);                  // special tokens skipped
 * }
 * }</pre>
 */
public final class HfTokenizer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The file of a Hugging Face model directory with the tokenizer's settings and chat template. */
    public static final String CONFIG_FILE = "tokenizer_config.json";

    private final AtomicReference<HuggingFaceTokenizer> handle;
    /** Calls hold the read side; close takes the write side, so no call outlives the native tokenizer. */
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private final Path file;
    private final Vocabulary vocabulary;
    private final JsonNode config;
    private final boolean cleanUpSpaces;
    /** Python's special tokens around a sequence, replacing tokenizer.json's post-processor; null to keep it. */
    private final SpecialTokenWrap pythonWrap;

    private HfTokenizer(HuggingFaceTokenizer tokenizer, Path file, Vocabulary vocabulary, JsonNode config,
                        SpecialTokenWrap pythonWrap) {
        this.handle = new AtomicReference<>(tokenizer);
        this.pythonWrap = pythonWrap;
        this.file = file;
        this.vocabulary = vocabulary;
        this.config = config;
        // transformers (and transformers.js) clean up tokenization spaces unless the config says not to.
        JsonNode cleanUp = config.get("clean_up_tokenization_spaces");
        this.cleanUpSpaces = cleanUp == null || cleanUp.isNull() || cleanUp.asBoolean();
    }

    /**
     * Loads {@code tokenizer.json}, given as the file or the model directory holding it, and the
     * {@code tokenizer_config.json} beside it if there is one.
     *
     * @throws SpeculaException if a file is missing or invalid
     */
    public static HfTokenizer load(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        if (!Files.isRegularFile(file)) {
            throw new SpeculaException("no tokenizer.json at " + file + " (expected the Hugging Face tokenizer file"
                    + " next to the model's config.json)");
        }
        Vocabulary vocabulary = Vocabulary.read(file);
        Path configFile = file.resolveSibling(CONFIG_FILE);
        JsonNode config = Files.isRegularFile(configFile) ? readJson(configFile) : JSON.createObjectNode();
        if (!config.isObject()) {
            throw new SpeculaException(configFile + " must hold a JSON object, found " + config.getNodeType());
        }
        Optional<SpecialTokenWrap> wrap = SpecialTokenWrap.pythonRule(config, vocabulary.ids, configFile);
        DjlNativeLibrary.load();
        Map<String, String> options = Map.of("addSpecialTokens", "true", "truncation", "false", "padding", "false");
        try (InputStream in = Files.newInputStream(file)) {
            return new HfTokenizer(HuggingFaceTokenizer.newInstance(in, options), file, vocabulary, config,
                    wrap.orElse(null));
        } catch (IOException | RuntimeException e) {
            throw new SpeculaException("cannot load tokenizer " + file + ": " + e.getMessage(), e);
        }
    }

    static JsonNode readJson(Path file) {
        try {
            JsonNode node = JSON.readTree(Files.readAllBytes(file));
            if (node == null || node.isMissingNode()) {
                throw new SpeculaException(file + " is empty (expected a JSON object)");
            }
            return node;
        } catch (IOException e) {
            throw new SpeculaException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Token ids of a raw text prompt, as transformers encodes it: the tokenizer's post-processor adds its special
     * tokens (BOS for Llama, Mistral and Gemma; nothing for Qwen or GPT-2).
     */
    public int[] encode(String text) {
        return encode(text, true);
    }

    /**
     * Token ids of {@code text}; {@code addSpecialTokens} false encodes it exactly as written, e.g. a rendered
     * chat template, which writes its own BOS. Special-token text in {@code text} (such as {@code <|im_end|>})
     * becomes the special token either way, as in transformers.
     */
    public int[] encode(String text, boolean addSpecialTokens) {
        Objects.requireNonNull(text, "text");
        long[] ids;
        lifecycle.readLock().lock();
        try {
            ids = tokenizer().encode(text, addSpecialTokens && pythonWrap == null, false).getIds();
        } finally {
            lifecycle.readLock().unlock();
        }
        int[] before = addSpecialTokens && pythonWrap != null ? pythonWrap.before() : new int[0];
        int[] after = addSpecialTokens && pythonWrap != null ? pythonWrap.after() : new int[0];
        int[] out = new int[before.length + ids.length + after.length];
        System.arraycopy(before, 0, out, 0, before.length);
        for (int i = 0; i < ids.length; i++) {
            out[before.length + i] = Math.toIntExact(ids[i]);
        }
        System.arraycopy(after, 0, out, before.length + ids.length, after.length);
        return out;
    }

    /** Text of {@code ids}, special tokens skipped. */
    public String decode(int[] ids) {
        return decode(ids, 0, ids.length, true);
    }

    /** Text of {@code ids}; {@code skipSpecialTokens} false keeps e.g. {@code <|im_end|>} in the text. */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        return decode(ids, 0, ids.length, skipSpecialTokens);
    }

    /** Text of {@code ids[from..to)}, as {@link #decode(int[], boolean)}. */
    public String decode(int[] ids, int from, int to, boolean skipSpecialTokens) {
        String text = decodeRaw(ids, from, to, skipSpecialTokens);
        return cleanUpSpaces ? cleanUpTokenization(text) : text;
    }

    /** The tokenizer's own decode of {@code ids[from..to)}, before {@code clean_up_tokenization_spaces}. */
    String decodeRaw(int[] ids, int from, int to, boolean skipSpecialTokens) {
        Objects.checkFromToIndex(from, to, ids.length);
        long[] longs = new long[to - from];
        for (int i = from; i < to; i++) {
            if (ids[i] < 0 || ids[i] >= vocabulary.size()) {
                throw new IllegalArgumentException("token id " + ids[i] + " is outside the tokenizer's vocabulary"
                        + " [0, " + vocabulary.size() + ") of " + file);
            }
            longs[i - from] = ids[i];
        }
        lifecycle.readLock().lock();
        try {
            return tokenizer().decode(longs, skipSpecialTokens);
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    /** Whether {@link #decode} applies transformers' {@code clean_up_tokenization} (tokenizer_config.json). */
    public boolean cleansUpTokenizationSpaces() {
        return cleanUpSpaces;
    }

    /** transformers' {@code clean_up_tokenization}: removes the space before punctuation and contractions. */
    static String cleanUpTokenization(String text) {
        if (text.indexOf(' ') < 0) {
            return text;
        }
        return text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }

    /** A new incremental decoder for a generation without prompt context (special tokens skipped). */
    public StreamingDetokenizer streaming() {
        return streaming(new int[0], true);
    }

    /**
     * A new incremental decoder for the tokens generated after {@code prompt}: the text it streams is exactly what
     * {@code decode(prompt + generated)} adds to {@code decode(prompt)} (e.g. the leading space of a
     * SentencePiece continuation, which a decoder without context strips).
     */
    public StreamingDetokenizer streaming(int[] prompt, boolean skipSpecialTokens) {
        return new StreamingDetokenizer(this, prompt, skipSpecialTokens);
    }

    /** Ids the tokenizer can produce: one more than its largest id. */
    public int vocabSize() {
        return vocabulary.size();
    }

    /** The token string of {@code id} (e.g. {@code ▁the} or {@code Ġthe}), empty for an id with no token. */
    public Optional<String> token(int id) {
        return Optional.ofNullable(vocabulary.token(id));
    }

    /** The id of a token string, e.g. {@code <|im_end|>}, if the vocabulary has it. */
    public OptionalInt tokenId(String token) {
        Integer id = vocabulary.ids.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** True for added tokens marked special (skipped by {@link #decode(int[])}). */
    public boolean isSpecial(int id) {
        return id >= 0 && vocabulary.special.get(id);
    }

    /** The BOS token's text from tokenizer_config.json, if it names one. */
    public Optional<String> bosToken() {
        return configToken("bos_token");
    }

    /** The EOS token's text from tokenizer_config.json, if it names one. */
    public Optional<String> eosToken() {
        return configToken("eos_token");
    }

    /** The id of the BOS token tokenizer_config.json names, if the vocabulary has it. */
    public OptionalInt bosTokenId() {
        return bosToken().map(this::tokenId).orElse(OptionalInt.empty());
    }

    /** The id of the EOS token tokenizer_config.json names, if the vocabulary has it. */
    public OptionalInt eosTokenId() {
        return eosToken().map(this::tokenId).orElse(OptionalInt.empty());
    }

    /** tokenizer_config.json (an empty object when there is none). */
    public JsonNode config() {
        return config.deepCopy();
    }

    private Optional<String> configToken(String name) {
        JsonNode token = config.get(name);
        if (token == null || token.isNull()) {
            return Optional.empty();
        }
        JsonNode content = token.isObject() ? token.get("content") : token; // an AddedToken object or a string
        return content != null && content.isTextual() ? Optional.of(content.asText()) : Optional.empty();
    }

    /**
     * Whether a draft model's tokenizer {@code other} encodes text as this one does: the same token string for every
     * id of the smaller vocabulary, the same added and special tokens, normalizer, pre-tokenizer and decoder.
     * Vocabulary sizes may differ (padded logits: Qwen2.5 0.5B and 7B); speculation then runs over the shared ids.
     *
     * @return empty when compatible, else the first difference, naming the id or component
     */
    public Optional<String> differenceFrom(HfTokenizer other) {
        return vocabulary.differenceFrom(other.vocabulary);
    }

    public Path file() {
        return file;
    }

    private HuggingFaceTokenizer tokenizer() {
        HuggingFaceTokenizer t = handle.get();
        if (t == null) {
            throw new IllegalStateException("tokenizer " + file + " is closed");
        }
        return t;
    }

    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            HuggingFaceTokenizer t = handle.getAndSet(null);
            if (t != null) {
                t.close();
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "HfTokenizer[" + file + ", " + vocabulary.size() + " ids]";
    }

    /**
     * The special-token ids Python transformers puts around an encoded sequence where its tokenizer class replaces
     * tokenizer.json's post-processor: LlamaTokenizerFast, CodeLlamaTokenizerFast and GemmaTokenizerFast build a
     * new one in their constructor from tokenizer_config.json's {@code add_bos_token} (default true) and
     * {@code add_eos_token} (default false) ({@code update_post_processor}). DeepSeek-V3 relies on it: its
     * tokenizer.json adds nothing, its config says {@code LlamaTokenizerFast} with {@code add_bos_token: true}, and
     * Python prepends BOS. transformers.js and the Rust library alone keep tokenizer.json's post-processor.
     */
    record SpecialTokenWrap(int[] before, int[] after) {
        /** tokenizer_class (without "Fast") to the default BOS and EOS text of its Python constructor. */
        private static final Map<String, List<String>> CLASSES = Map.of(
                "LlamaTokenizer", List.of("<s>", "</s>"),
                "CodeLlamaTokenizer", List.of("<s>", "</s>"),
                "GemmaTokenizer", List.of("<bos>", "<eos>"));

        /** The wrap for tokenizer classes whose Python constructor replaces the post-processor, else empty. */
        static Optional<SpecialTokenWrap> pythonRule(JsonNode config, Map<String, Integer> ids, Path configFile) {
            String tokenizerClass = config.path("tokenizer_class").asText("");
            List<String> defaults = CLASSES.get(tokenizerClass.endsWith("Fast")
                    ? tokenizerClass.substring(0, tokenizerClass.length() - "Fast".length()) : tokenizerClass);
            if (defaults == null) {
                return Optional.empty();
            }
            int[] before = flag(config, "add_bos_token", true)
                    ? new int[] {id(config, "bos_token", defaults.get(0), ids, configFile)} : new int[0];
            int[] after = flag(config, "add_eos_token", false)
                    ? new int[] {id(config, "eos_token", defaults.get(1), ids, configFile)} : new int[0];
            return Optional.of(new SpecialTokenWrap(before, after));
        }

        /** A boolean of the config: Python's constructor default when absent, false when null (falsy). */
        private static boolean flag(JsonNode config, String name, boolean absent) {
            JsonNode node = config.get(name);
            return node == null ? absent : node.asBoolean(false);
        }

        /** The id of a special token named by the config (a string or an AddedToken object) or its default. */
        private static int id(JsonNode config, String name, String fallback, Map<String, Integer> ids,
                              Path configFile) {
            JsonNode node = config.get(name);
            String token = node == null ? fallback
                    : node.isObject() ? node.path("content").asText(null) : node.isTextual() ? node.asText() : null;
            Integer id = token == null ? null : ids.get(token);
            if (id == null) {
                throw new SpeculaException(configFile + " asks for add_" + name + " but " + name + " is "
                        + (token == null ? "not set" : "'" + token + "', which is not in the vocabulary")
                        + " (expected a token of tokenizer.json)");
            }
            return id;
        }
    }

    /** The parts of tokenizer.json that decide how text maps to ids. */
    private static final class Vocabulary {
        private final String[] tokens;
        private final Map<String, Integer> ids;
        private final BitSet special;
        private final Map<Integer, JsonNode> added;
        private final Map<String, JsonNode> components;

        private Vocabulary(String[] tokens, Map<String, Integer> ids, BitSet special, Map<Integer, JsonNode> added,
                           Map<String, JsonNode> components) {
            this.tokens = tokens;
            this.ids = ids;
            this.special = special;
            this.added = added;
            this.components = components;
        }

        /**
         * Reads tokenizer.json as a stream, keeping the vocabulary, the added tokens and the small components; the
         * merges, the bulk of a BPE file, are skipped rather than built into a tree.
         */
        static Vocabulary read(Path file) {
            Map<String, Integer> ids = new HashMap<>();
            JsonNode addedTokens = JSON.createArrayNode();
            Map<String, JsonNode> components = new HashMap<>();
            for (String name : new String[] {"normalizer", "pre_tokenizer", "decoder", "model.type",
                    "model.byte_fallback"}) {
                components.put(name, MissingNode.getInstance());
            }
            boolean vocabRead = false;
            try (JsonParser parser = JSON.createParser(file.toFile())) {
                if (parser.nextToken() != JsonToken.START_OBJECT) {
                    throw new SpeculaException("tokenizer " + file + " does not hold a JSON object");
                }
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                    String name = parser.getCurrentName();
                    JsonToken value = parser.nextToken();
                    switch (name) {
                        case "model" -> {
                            if (value != JsonToken.START_OBJECT) {
                                parser.skipChildren();
                                continue;
                            }
                            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                                String field = parser.getCurrentName();
                                JsonToken fieldValue = parser.nextToken();
                                if (field.equals("vocab") && (fieldValue == JsonToken.START_OBJECT
                                        || fieldValue == JsonToken.START_ARRAY)) {
                                    readVocab(parser, fieldValue, ids);
                                    vocabRead = true;
                                } else if (field.equals("type") || field.equals("byte_fallback")) {
                                    components.put("model." + field, parser.readValueAsTree());
                                } else {
                                    parser.skipChildren();
                                }
                            }
                        }
                        case "added_tokens" -> addedTokens = parser.readValueAsTree();
                        case "normalizer", "pre_tokenizer", "decoder" -> components.put(name, parser.readValueAsTree());
                        default -> parser.skipChildren();
                    }
                }
            } catch (IOException e) {
                throw new SpeculaException("cannot read " + file + ": " + e.getMessage(), e);
            }
            if (!vocabRead) {
                throw new SpeculaException("tokenizer " + file + " has no model.vocab (expected an object of"
                        + " token -> id, or a Unigram list of [piece, score])");
            }
            Map<Integer, JsonNode> added = new HashMap<>();
            BitSet special = new BitSet();
            for (JsonNode token : addedTokens) {
                int id = token.path("id").asInt(-1);
                if (id < 0 || !token.path("content").isTextual()) {
                    throw new SpeculaException("tokenizer " + file + " has an added token without id or content: "
                            + token);
                }
                ids.put(token.get("content").asText(), id);
                added.put(id, token);
                if (token.path("special").asBoolean(false)) {
                    special.set(id);
                }
            }
            int size = ids.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
            String[] tokens = new String[size];
            ids.forEach((token, id) -> {
                if (id >= 0) {
                    tokens[id] = token;
                }
            });
            return new Vocabulary(tokens, Map.copyOf(ids), special, Map.copyOf(added), Map.copyOf(components));
        }

        /** model.vocab: BPE/WordPiece's object of token -> id, or Unigram's list of [piece, score] (id = index). */
        private static void readVocab(JsonParser parser, JsonToken start, Map<String, Integer> ids) throws IOException {
            if (start == JsonToken.START_OBJECT) {
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                    String token = parser.getCurrentName();
                    parser.nextToken();
                    ids.put(token, parser.getIntValue());
                }
                return;
            }
            int id = 0;
            while (parser.nextToken() == JsonToken.START_ARRAY) {
                parser.nextToken();
                ids.put(parser.getText(), id++);
                while (parser.nextToken() != JsonToken.END_ARRAY) {
                    parser.skipChildren();
                }
            }
        }

        int size() {
            return tokens.length;
        }

        String token(int id) {
            return id >= 0 && id < tokens.length ? tokens[id] : null;
        }

        Optional<String> differenceFrom(Vocabulary other) {
            int shared = Math.min(tokens.length, other.tokens.length);
            for (int id = 0; id < shared; id++) {
                if (!Objects.equals(tokens[id], other.tokens[id])) {
                    return Optional.of("token id " + id + " is " + quote(tokens[id]) + " in one tokenizer and "
                            + quote(other.tokens[id]) + " in the other");
                }
                if (special.get(id) != other.special.get(id)) {
                    return Optional.of("token id " + id + " " + quote(tokens[id]) + " is special in one tokenizer"
                            + " and not in the other");
                }
            }
            for (Map.Entry<Integer, JsonNode> e : added.entrySet()) {
                JsonNode theirs = other.added.get(e.getKey());
                if (e.getKey() < shared && (theirs == null || !sameAddedToken(e.getValue(), theirs))) {
                    return Optional.of("token id " + e.getKey() + " is the added token " + e.getValue()
                            + " in one tokenizer and " + (theirs == null ? "a vocabulary token" : theirs)
                            + " in the other");
                }
            }
            for (Integer id : other.added.keySet()) {
                if (id < shared && !added.containsKey(id)) {
                    return Optional.of("token id " + id + " is a vocabulary token in one tokenizer and the added"
                            + " token " + other.added.get(id) + " in the other");
                }
            }
            for (String name : new String[] {"model.type", "normalizer", "pre_tokenizer", "decoder",
                    "model.byte_fallback"}) {
                if (!components.get(name).equals(other.components.get(name))) {
                    return Optional.of("the tokenizers' " + name + " differ: " + abbreviate(components.get(name))
                            + " vs " + abbreviate(other.components.get(name)));
                }
            }
            return Optional.empty();
        }

        private static boolean sameAddedToken(JsonNode a, JsonNode b) {
            for (String field : new String[] {"content", "special", "lstrip", "rstrip", "normalized", "single_word"}) {
                if (!a.path(field).equals(b.path(field))) {
                    return false;
                }
            }
            return true;
        }

        private static String quote(String token) {
            return token == null ? "(no token)" : "'" + token + "'";
        }

        private static String abbreviate(JsonNode node) {
            String s = node.isMissingNode() ? "(none)" : node.toString();
            return s.length() > 120 ? s.substring(0, 117) + "..." : s;
        }
    }
}
