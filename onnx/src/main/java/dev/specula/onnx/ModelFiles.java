package dev.specula.onnx;

import dev.specula.core.SpeculaException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The files of one exported decoder: the graph chosen from a model directory as users have them, the external
 * data files that graph refers to, and the directory holding {@code config.json}.
 *
 * <p>Graph names looked for, in the directory and in its {@code onnx/} folder (transformers.js): {@code model.onnx}
 * and {@code decoder_model_merged.onnx} (Optimum); with a variant {@code v}, {@code model_v.onnx} and
 * {@code decoder_model_merged_v.onnx} ({@code fp16}, {@code quantized}, {@code q4}, {@code int8}, {@code uint8},
 * {@code q4f16}, {@code bnb4}, ...). Exactly one must match; otherwise the error lists the graphs found. A path to
 * an {@code .onnx} file picks that graph directly. External data files are read from the graph itself (every
 * initializer's {@code external_data} location), not guessed from names.
 *
 * <pre>{@code
 * ModelFiles files = ModelFiles.locate(Path.of("models/qwen"), "q4");   // models/qwen/onnx/model_q4.onnx
 * String hash = files.sha256();                                          // graph + every external data file
 * }</pre>
 *
 * @param configDirectory the directory with {@code config.json} (and the tokenizer)
 * @param graph           the ONNX graph file
 * @param externalData    the files holding the graph's external initializers, in the order first referenced
 */
public record ModelFiles(Path configDirectory, Path graph, List<Path> externalData) {
    private static final List<String> STEMS = List.of("model", "decoder_model_merged");

    public ModelFiles {
        externalData = List.copyOf(externalData);
    }

    /**
     * Chooses the graph in {@code path} (a model directory, or an {@code .onnx} file) for {@code variant}
     * ({@code ""} for the unsuffixed graph) and reads which external data files it needs.
     *
     * @throws SpeculaException naming what was found when no graph or several graphs match, or an external data
     *                          file the graph refers to is missing
     */
    public static ModelFiles locate(Path path, String variant) {
        if (variant == null || !variant.matches("[A-Za-z0-9_]*")) {
            throw new IllegalArgumentException("variant must be letters, digits or '_' (e.g. \"q4\", \"fp16\"; \"\""
                    + " for model.onnx), got " + (variant == null ? "null" : "'" + variant + "'"));
        }
        if (Files.isRegularFile(path) && path.getFileName().toString().endsWith(".onnx")) {
            Path parent = path.toAbsolutePath().getParent();
            Path configDir = parent.getFileName() != null && parent.getFileName().toString().equals("onnx")
                    && !Files.isRegularFile(parent.resolve("config.json")) ? parent.getParent() : parent;
            return withExternalData(configDir, path);
        }
        if (!Files.isDirectory(path)) {
            throw new SpeculaException("model directory " + path + " does not exist or is not a directory");
        }
        String suffix = variant.isEmpty() ? "" : "_" + variant;
        List<Path> matches = new ArrayList<>();
        List<String> wanted = new ArrayList<>();
        for (String folder : new String[]{"", "onnx/"}) {
            for (String stem : STEMS) {
                String name = folder + stem + suffix + ".onnx";
                wanted.add(name);
                if (Files.isRegularFile(path.resolve(name))) {
                    matches.add(path.resolve(name));
                }
            }
        }
        if (matches.size() == 1) {
            return withExternalData(path, matches.get(0));
        }
        List<String> found = graphsIn(path);
        if (matches.isEmpty()) {
            StringBuilder msg = new StringBuilder("model directory " + path + " has no " + String.join(", ", wanted));
            if (found.isEmpty()) {
                msg.append(" (expected a Hugging Face export: model.onnx, config.json, tokenizer.json)");
            } else {
                msg.append("; it holds ").append(found);
                Set<String> variants = variants(found);
                if (!variants.isEmpty()) {
                    msg.append(" (variants ").append(variants).append(": choose one with")
                            .append(" OnnxModelOptions.withVariant(...), e.g. \"").append(variants.iterator().next())
                            .append("\")");
                }
            }
            throw new SpeculaException(msg.toString());
        }
        throw new SpeculaException("model directory " + path + " holds several decoders for variant '" + variant
                + "': " + matches.stream().map(m -> path.relativize(m).toString()).toList()
                + "; pass the path of the one to load (e.g. " + matches.get(0) + ")");
    }

    /** Every file the weights live in: the graph, then its external data files. */
    public List<Path> weightFiles() {
        List<Path> all = new ArrayList<>(externalData.size() + 1);
        all.add(graph);
        all.addAll(externalData);
        return all;
    }

    /**
     * SHA-256 over every weight file (each file's name relative to the graph's folder, then its bytes, in
     * {@link #weightFiles()} order): changes when the graph or any external data file changes.
     */
    public String sha256() {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            Path base = graph.toAbsolutePath().getParent();
            for (Path file : weightFiles()) {
                digest.update(base.relativize(file.toAbsolutePath()).toString().getBytes(StandardCharsets.UTF_8));
                digest.update((byte) 0);
                try (InputStream in = Files.newInputStream(file)) {
                    for (int n; (n = in.read(buffer)) > 0; ) {
                        digest.update(buffer, 0, n);
                    }
                }
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (IOException | NoSuchAlgorithmException e) {
            throw new SpeculaException("cannot hash the weight files of " + graph + ": " + e.getMessage(), e);
        }
    }

    private static ModelFiles withExternalData(Path configDir, Path graph) {
        if (!Files.isReadable(graph)) {
            throw new SpeculaException("cannot read " + graph + ": permission denied");
        }
        Path folder = graph.toAbsolutePath().getParent();
        List<Path> data = new ArrayList<>();
        for (String location : OnnxExternalData.locations(graph)) {
            Path file = folder.resolve(location).normalize();
            if (!file.startsWith(folder)) {
                throw new SpeculaException("model " + graph + " refers to external data '" + location
                        + "' outside its folder " + folder);
            }
            if (!Files.isRegularFile(file)) {
                throw new SpeculaException("model " + graph + " keeps its weights in '" + location
                        + "', which is missing from " + folder + " (copy it next to the graph)");
            }
            data.add(file);
        }
        return new ModelFiles(configDir, graph, data);
    }

    private static List<String> graphsIn(Path dir) {
        List<String> found = new ArrayList<>();
        for (String folder : new String[]{"", "onnx"}) {
            Path d = folder.isEmpty() ? dir : dir.resolve(folder);
            if (!Files.isDirectory(d)) {
                continue;
            }
            try (Stream<Path> files = Files.list(d)) {
                files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".onnx")).sorted()
                        .forEach(n -> found.add(folder.isEmpty() ? n : folder + "/" + n));
            } catch (IOException e) {
                throw new SpeculaException("cannot list " + d + ": " + e.getMessage(), e);
            }
        }
        return found;
    }

    private static Set<String> variants(List<String> graphs) {
        Set<String> out = new LinkedHashSet<>();
        for (String g : graphs) {
            String name = g.substring(g.lastIndexOf('/') + 1, g.length() - ".onnx".length());
            for (String stem : STEMS) {
                if (name.startsWith(stem + "_")) {
                    out.add(name.substring(stem.length() + 1));
                }
            }
        }
        return out;
    }

    /**
     * Reads external data locations from an ONNX file's protobuf encoding without loading its weights: it walks
     * the graph, node attributes and subgraphs (merged decoders keep branches in {@code If} nodes) and skips every
     * other field, raw tensor bytes included, by its length.
     */
    static final class OnnxExternalData {
        // Field numbers from onnx.proto3.
        private static final int MODEL_GRAPH = 7;
        private static final int GRAPH_NODE = 1;
        private static final int GRAPH_INITIALIZER = 5;
        private static final int GRAPH_SPARSE_INITIALIZER = 15;
        private static final int NODE_ATTRIBUTE = 5;
        private static final int ATTRIBUTE_T = 5;
        private static final int ATTRIBUTE_G = 6;
        private static final int ATTRIBUTE_TENSORS = 10;
        private static final int ATTRIBUTE_GRAPHS = 11;
        private static final int ATTRIBUTE_SPARSE_TENSOR = 22;
        private static final int ATTRIBUTE_SPARSE_TENSORS = 23;
        private static final int SPARSE_VALUES = 1;
        private static final int SPARSE_INDICES = 2;
        private static final int TENSOR_EXTERNAL_DATA = 13;
        private static final int ENTRY_KEY = 1;
        private static final int ENTRY_VALUE = 2;

        private final MappedByteBuffer bytes;
        private final Path file;
        private final Set<String> locations = new LinkedHashSet<>();

        private OnnxExternalData(MappedByteBuffer bytes, Path file) {
            this.bytes = bytes;
            this.file = file;
        }

        static List<String> locations(Path graph) {
            try (FileChannel ch = FileChannel.open(graph, StandardOpenOption.READ)) {
                long size = ch.size();
                if (size > Integer.MAX_VALUE) {
                    throw new SpeculaException("model " + graph + " is " + size + " bytes, over protobuf's 2 GiB limit"
                            + " for one ONNX file; export it with external data (model.onnx_data)");
                }
                OnnxExternalData scan = new OnnxExternalData(ch.map(FileChannel.MapMode.READ_ONLY, 0, size), graph);
                scan.message(0, (int) size, Kind.MODEL);
                return List.copyOf(scan.locations);
            } catch (IOException e) {
                throw new SpeculaException("cannot read " + graph + ": " + e.getMessage(), e);
            } catch (IndexOutOfBoundsException | IllegalStateException | ArithmeticException e) {
                // Not protobuf; ONNX Runtime reports what is wrong with the file when it loads it.
                return List.of();
            }
        }

        private enum Kind { MODEL, GRAPH, NODE, ATTRIBUTE, SPARSE, TENSOR, ENTRY }

        /** Walks the fields of one message in {@code [from, to)}, descending into those that may hold tensors. */
        private void message(int from, int to, Kind kind) {
            for (int pos = from; pos < to; ) {
                long tag = varint(pos);
                pos = next;
                int end = skip(pos, (int) (tag & 7), to);
                if ((tag & 7) == 2) {
                    Kind child = child(kind, (int) (tag >>> 3));
                    if (child == Kind.ENTRY) {
                        entry(lengthEnd(pos), end);
                    } else if (child != null) {
                        message(lengthEnd(pos), end, child);
                    }
                }
                pos = end;
            }
        }

        /** A {@code StringStringEntryProto}: records the value of a "location" entry. */
        private void entry(int from, int to) {
            String key = null;
            String value = null;
            for (int pos = from; pos < to; ) {
                long tag = varint(pos);
                pos = next;
                int end = skip(pos, (int) (tag & 7), to);
                if ((tag & 7) == 2 && (tag >>> 3) == ENTRY_KEY) {
                    key = string(lengthEnd(pos), end);
                } else if ((tag & 7) == 2 && (tag >>> 3) == ENTRY_VALUE) {
                    value = string(lengthEnd(pos), end);
                }
                pos = end;
            }
            if ("location".equals(key) && value != null) {
                locations.add(value);
            }
        }

        /** Where a field's payload starting at {@code pos} ends. */
        private int skip(int pos, int wire, int limit) {
            int end = switch (wire) {
                case 0 -> {
                    varint(pos);
                    yield next;
                }
                case 1 -> pos + 8;
                case 5 -> pos + 4;
                case 2 -> {
                    long len = varint(pos);
                    yield Math.addExact(next, Math.toIntExact(len));
                }
                default -> throw new IllegalStateException("wire type " + wire + " in " + file);
            };
            if (end > limit) {
                throw new IllegalStateException("a field overruns its message in " + file);
            }
            return end;
        }

        /** The start of a length-delimited payload whose length prefix is at {@code pos}. */
        private int lengthEnd(int pos) {
            varint(pos);
            return next;
        }

        private static Kind child(Kind parent, int field) {
            return switch (parent) {
                case MODEL -> field == MODEL_GRAPH ? Kind.GRAPH : null;
                case GRAPH -> field == GRAPH_NODE ? Kind.NODE
                        : field == GRAPH_INITIALIZER ? Kind.TENSOR
                        : field == GRAPH_SPARSE_INITIALIZER ? Kind.SPARSE : null;
                case NODE -> field == NODE_ATTRIBUTE ? Kind.ATTRIBUTE : null;
                case ATTRIBUTE -> field == ATTRIBUTE_T || field == ATTRIBUTE_TENSORS ? Kind.TENSOR
                        : field == ATTRIBUTE_G || field == ATTRIBUTE_GRAPHS ? Kind.GRAPH
                        : field == ATTRIBUTE_SPARSE_TENSOR || field == ATTRIBUTE_SPARSE_TENSORS ? Kind.SPARSE : null;
                case SPARSE -> field == SPARSE_VALUES || field == SPARSE_INDICES ? Kind.TENSOR : null;
                case TENSOR -> field == TENSOR_EXTERNAL_DATA ? Kind.ENTRY : null;
                case ENTRY -> null;
            };
        }

        private int next;

        private long varint(int pos) {
            long result = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                byte b = bytes.get(pos++);
                result |= (long) (b & 0x7F) << shift;
                if (b >= 0) {
                    next = pos;
                    return result;
                }
            }
            throw new IllegalStateException("malformed varint in " + file);
        }

        private String string(int from, int to) {
            byte[] b = new byte[to - from];
            bytes.get(from, b);
            return new String(b, StandardCharsets.UTF_8);
        }
    }
}
