package dev.specula.onnx;

import dev.specula.core.SpeculaException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.TreeSet;

/**
 * The operator types of an ONNX graph file, read from its protobuf structure without the weights: the main graph's
 * nodes, nodes of subgraphs in node attributes (the {@code If} branches of a merged decoder) and of model-local
 * functions; and which {@code MatMulNBits} nodes compute with 8-bit activations (their {@code accuracy_level}). Initializers, tensor-valued attributes and every other field are skipped by seeking over their
 * length, so the cost grows with the number of fields outside the weights, not with the file's size.
 */
final class GraphOpTypes {
    /** What a length-delimited field holds, in the messages this reader descends into. */
    private enum Kind { MODEL, GRAPH, NODE, ATTRIBUTE, FUNCTION }

    /** Longest op_type read; a longer string field is skipped (no ONNX operator name comes close). */
    private static final int MAX_NAME = 256;
    /** Graphs nested in attributes deeper than this are refused rather than recursed into without end. */
    private static final int MAX_DEPTH = 64;

    private final FileChannel channel;
    private final Path file;
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 16);
    /** File offset of {@code buf}'s first byte. */
    private long bufStart;
    private final Set<String> opTypes = new TreeSet<>();
    private final Set<String> int8Activations = new TreeSet<>();
    private long bytesRead;

    /**
     * What a scan found, and how many bytes of the file it read to find it (the rest was skipped).
     *
     * @param int8Activations the nodes (by name) that quantize their activations to 8 bits per block:
     *                        {@code MatMulNBits} with {@code accuracy_level} 4
     */
    record Scan(Set<String> opTypes, Set<String> int8Activations, long bytesRead) {
    }

    private GraphOpTypes(FileChannel channel, Path file) {
        this.channel = channel;
        this.file = file;
        buf.limit(0);
    }

    /**
     * Every distinct op_type in {@code graph}, sorted.
     *
     * @throws SpeculaException naming the file and the offset when it cannot be read or is not an ONNX model
     */
    static Set<String> read(Path graph) {
        return scan(graph).opTypes();
    }

    /** {@link #read} with the number of bytes read from the file. */
    static Scan scan(Path graph) {
        try (FileChannel ch = FileChannel.open(graph, StandardOpenOption.READ)) {
            GraphOpTypes reader = new GraphOpTypes(ch, graph);
            reader.message(Kind.MODEL, ch.size(), 0);
            return new Scan(java.util.Collections.unmodifiableSet(reader.opTypes),
                    java.util.Collections.unmodifiableSet(reader.int8Activations), reader.bytesRead);
        } catch (IOException e) {
            throw new SpeculaException("cannot read graph " + graph + " to list its operators: " + e.getMessage(), e);
        }
    }

    /**
     * Reads one message up to {@code end}. Returns, for an attribute named {@code accuracy_level}, its integer value,
     * else -1.
     */
    private long message(Kind kind, long end, int depth) throws IOException {
        if (depth > MAX_DEPTH) {
            throw malformed("subgraphs nested deeper than " + MAX_DEPTH);
        }
        String op = null;        // a node's op_type
        String name = null;      // a node's or an attribute's name
        long intValue = -1;      // an attribute's integer
        long accuracyLevel = -1; // a node's accuracy_level attribute
        while (position() < end) {
            long tag = varint();
            int field = (int) (tag >>> 3);
            int wire = (int) (tag & 7);
            switch (wire) {
                case 0 -> {
                    long v = varint();
                    if (kind == Kind.ATTRIBUTE && field == 3) { // i
                        intValue = v;
                    }
                }
                case 1 -> skip(8);
                case 5 -> skip(4);
                case 2 -> {
                    long length = varint();
                    long fieldEnd = position() + length;
                    if (length < 0 || fieldEnd > end) {
                        throw malformed("field " + field + " of " + length + " bytes runs past its message's end "
                                + end);
                    }
                    Kind inner = child(kind, field);
                    if (inner != null) {
                        long level = message(inner, fieldEnd, depth + 1);
                        if (kind == Kind.NODE && inner == Kind.ATTRIBUTE && level >= 0) {
                            accuracyLevel = level;
                        }
                    } else if (kind == Kind.NODE && field == 4 && length <= MAX_NAME) { // op_type
                        op = string((int) length);
                        opTypes.add(op);
                    } else if ((kind == Kind.NODE && field == 3 || kind == Kind.ATTRIBUTE && field == 1)
                            && length <= MAX_NAME) {                                    // name
                        name = string((int) length);
                    } else {
                        skip(length);
                    }
                }
                default -> throw malformed("wire type " + wire + " of field " + field + " (expected 0, 1, 2 or 5)");
            }
        }
        if (position() != end) {
            throw malformed("a field ran past its message's end " + end);
        }
        if (kind == Kind.NODE && "MatMulNBits".equals(op) && accuracyLevel == 4) {
            int8Activations.add(name == null ? "MatMulNBits" : name);
        }
        return kind == Kind.ATTRIBUTE && "accuracy_level".equals(name) ? intValue : -1;
    }

    /** The submessage kind of {@code field} in a {@code kind} message (onnx.proto's field numbers), or null. */
    private static Kind child(Kind kind, int field) {
        return switch (kind) {
            case MODEL -> field == 7 ? Kind.GRAPH : field == 25 ? Kind.FUNCTION : null;  // graph, functions
            case GRAPH -> field == 1 ? Kind.NODE : null;                                  // node
            case NODE -> field == 5 ? Kind.ATTRIBUTE : null;                              // attribute
            case ATTRIBUTE -> field == 6 || field == 11 ? Kind.GRAPH : null;              // g, graphs
            case FUNCTION -> field == 7 ? Kind.NODE : null;                               // node
        };
    }

    private long position() {
        return bufStart + buf.position();
    }

    private boolean fill() throws IOException {
        bufStart += buf.position();
        buf.compact();
        channel.position(bufStart + buf.position());
        int n = channel.read(buf);
        buf.flip();
        bytesRead += Math.max(n, 0);
        return n > 0;
    }

    private int next() throws IOException {
        if (!buf.hasRemaining() && !fill()) {
            throw malformed("the file ends inside a field");
        }
        return buf.get() & 0xff;
    }

    private long varint() throws IOException {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            int b = next();
            value |= (long) (b & 0x7f) << shift;
            if (b < 0x80) {
                return value;
            }
        }
        throw malformed("a varint longer than 10 bytes");
    }

    private void skip(long n) throws IOException {
        if (n <= buf.remaining()) {
            buf.position(buf.position() + (int) n);
            return;
        }
        long target = position() + n;
        if (target > channel.size()) {
            throw malformed("a field of " + n + " bytes runs past the end of the file");
        }
        bufStart = target;
        buf.clear().limit(0);
    }

    private String string(int length) throws IOException {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) next();
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private SpeculaException malformed(String what) {
        return new SpeculaException("graph " + file + " is not an ONNX model as expected: " + what + " at byte "
                + position());
    }
}
