package dev.specula.onnx;

import dev.specula.models.EmbeddedModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The load-time row-invariance probe flags a graph quantized like ONNX Runtime's {@code quantize_dynamic} (per-call
 * activation scale), and passes floating-point graphs and the same quantized graph rewritten to per-row scales.
 */
class RowInvarianceProbeTest {
    static final Path HF = Path.of("src/test/resources/hf");
    static final Path FIXTURES = ModelFilesTest.FIXTURES;

    @Test
    void floatingPointGraphsAreRowInvariant() {
        for (Path dir : new Path[]{HF.resolve("tiny-qwen2"), HF.resolve("tiny-gpt2"), FIXTURES.resolve("fp16-io"),
                FIXTURES.resolve("bf16-io"), EmbeddedModels.draft(), EmbeddedModels.target()}) {
            try (OnnxCausalLM model = OnnxCausalLM.load(dir, OnnxModelOptions.cpu(1))) {
                RowInvarianceProbe.Decision d = model.rowInvariance();
                System.out.println("row probe " + dir + ": " + d);
                assertTrue(d.rowInvariant(), dir + ": " + d);
                assertTrue(d.reason().startsWith("row probe: max difference"), d.reason());
                assertTrue(model.description().contains("rowInvariant=true (row probe"), model.description());
            }
        }
    }

    @Test
    void perCallActivationQuantizationIsFlaggedWithItsCauseAndTheRewriteCommand() {
        try (OnnxCausalLM model = OnnxCausalLM.load(HF.resolve("tiny-qwen2-dynq8"), OnnxModelOptions.cpu(1))) {
            RowInvarianceProbe.Decision d = model.rowInvariance();
            System.out.println("row probe dynq8: " + d);
            assertFalse(d.rowInvariant(), d.toString());
            // the probe measures the difference itself, not only the static match
            assertTrue(d.maxDifference() > 10 * RowInvarianceProbe.FLOAT_TOLERANCE, d.toString());
            assertTrue(d.reason().contains("quantizes activations per call (DynamicQuantizeLinear)"), d.reason());
            assertTrue(d.reason().contains(RowInvarianceProbe.REWRITE_COMMAND + " model.onnx model-rowwise.onnx"),
                    d.reason());
            assertTrue(model.description().contains("rowInvariant=false"), model.description());
        }
    }

    @Test
    void blockQuantizedActivationsAreFlaggedWithTheNodesAndTheCommandForFloatActivations() {
        try (OnnxCausalLM model = OnnxCausalLM.load(HF.resolve("tiny-qwen2-nbits8-int8act"), OnnxModelOptions.cpu(1))) {
            RowInvarianceProbe.Decision d = model.rowInvariance();
            System.out.println("row probe nbits8-int8act: " + d);
            assertFalse(d.rowInvariant(), d.toString());
            assertTrue(d.reason().startsWith("14 MatMulNBits nodes (e.g. /m/model/layers.0/"), d.reason());
            assertTrue(d.reason().contains("(accuracy_level 4)"), d.reason());
            assertTrue(d.reason().contains(RowInvarianceProbe.NBITS_COMMAND), d.reason());
            assertTrue(d.reason().contains("row probe: max difference"), d.reason());
        }
        GraphOpTypes.Scan scan = GraphOpTypes.scan(HF.resolve("tiny-qwen2-nbits8-int8act").resolve("model.onnx"));
        assertEquals(14, scan.int8Activations().size(), scan.int8Activations().toString());
        assertTrue(scan.opTypes().contains("MatMulNBits"), scan.opTypes().toString());
        // accuracy_level 0 computes in float32: not flagged, and the probe finds the rows equal
        assertEquals(java.util.Set.of(),
                GraphOpTypes.scan(HF.resolve("tiny-qwen2-nbits4").resolve("model.onnx")).int8Activations());
        try (OnnxCausalLM model = OnnxCausalLM.load(HF.resolve("tiny-qwen2-nbits4"), OnnxModelOptions.cpu(1))) {
            assertTrue(model.rowInvariance().rowInvariant(), model.rowInvariance().toString());
        }
    }

    @Test
    void theGraphRewrittenToPerRowQuantizationIsRowInvariant() {
        try (OnnxCausalLM model = OnnxCausalLM.load(HF.resolve("tiny-qwen2-dynq8-rowwise"), OnnxModelOptions.cpu(1))) {
            RowInvarianceProbe.Decision d = model.rowInvariance();
            System.out.println("row probe dynq8-rowwise: " + d);
            assertTrue(d.rowInvariant(), d.toString());
            assertEquals(List.of(), RowInvarianceProbe.perCallQuantization(model.files().graph()));
        }
    }

    @Test
    void theStaticCheckReadsNodeTypesOfTheGraphItsSubgraphsAndFunctionsButNotTheWeights(@TempDir Path dir)
            throws IOException {
        byte[] weightSpellingAnOp = Proto.bytes(5, Proto.concat(Proto.string(8, "w"),
                Proto.bytes(9, "xxDynamicQuantizeLinearxx".getBytes(StandardCharsets.UTF_8)))); // initializer raw_data
        Path graph = dir.resolve("weights.onnx");
        Files.write(graph, Proto.model(Proto.concat(Proto.node("MatMul"), weightSpellingAnOp)));
        assertEquals(List.of(), RowInvarianceProbe.perCallQuantization(graph));

        // an If node whose then_branch (attribute g) holds the per-call quantization, as in a merged decoder
        byte[] branch = Proto.bytes(6, Proto.node("DynamicQuantizeMatMul"));
        byte[] ifNode = Proto.bytes(1, Proto.concat(Proto.string(4, "If"), Proto.bytes(5, Proto.concat(
                Proto.string(1, "then_branch"), branch))));
        Files.write(graph, Proto.model(ifNode));
        assertEquals(List.of("DynamicQuantizeMatMul"), RowInvarianceProbe.perCallQuantization(graph));
        assertEquals(java.util.Set.of("DynamicQuantizeMatMul", "If"), GraphOpTypes.read(graph));

        // a model-local function (ModelProto field 25, nodes in field 7)
        byte[] function = Proto.bytes(25, Proto.concat(Proto.string(1, "f"),
                Proto.bytes(7, Proto.string(4, "DynamicQuantizeLinear"))));
        Files.write(graph, Proto.concat(Proto.model(Proto.node("Add")), function));
        assertEquals(List.of("DynamicQuantizeLinear"), RowInvarianceProbe.perCallQuantization(graph));
    }

    @Test
    void theStaticCheckSkipsLargeWeightsWithoutReadingThem(@TempDir Path dir) throws IOException {
        long weightBytes = 1L << 30; // a sparse file: the initializer's bytes are never written
        byte[] node = Proto.node("DynamicQuantizeLinear");
        byte[] initHeader = Proto.concat(Proto.tag(5, 2), Proto.varint(weightBytes));
        long graphLength = node.length + initHeader.length + weightBytes;
        byte[] head = Proto.concat(Proto.tag(7, 2), Proto.varint(graphLength), node, initHeader);
        Path graph = dir.resolve("big.onnx");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(graph,
                java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE,
                java.nio.file.StandardOpenOption.SPARSE)) {
            ch.write(java.nio.ByteBuffer.wrap(head));
            ch.write(java.nio.ByteBuffer.wrap(Proto.node("Gather")), head.length + weightBytes); // after the weights
        }
        GraphOpTypes.Scan scan = GraphOpTypes.scan(graph);
        assertEquals(java.util.Set.of("DynamicQuantizeLinear"), scan.opTypes()); // the trailing node is outside graph
        assertTrue(scan.bytesRead() < (1 << 20), "read " + scan.bytesRead() + " bytes of a 1 GiB file");
    }

    @Test
    void aFileThatIsNotAnOnnxModelIsReportedWithItsPath(@TempDir Path dir) throws IOException {
        Path graph = dir.resolve("model.onnx");
        byte[] truncated = Proto.model(Proto.node("MatMul"));
        Files.write(graph, java.util.Arrays.copyOf(truncated, truncated.length - 3));
        dev.specula.core.SpeculaException e = org.junit.jupiter.api.Assertions.assertThrows(
                dev.specula.core.SpeculaException.class, () -> RowInvarianceProbe.perCallQuantization(graph));
        assertTrue(e.getMessage().contains(graph.toString()) && e.getMessage().contains("not an ONNX model"),
                e.getMessage());
        Files.write(graph, new byte[]{(byte) 0x0b, 1}); // field 1, wire type 3 (groups are not in onnx.proto)
        e = org.junit.jupiter.api.Assertions.assertThrows(dev.specula.core.SpeculaException.class,
                () -> RowInvarianceProbe.perCallQuantization(graph));
        assertTrue(e.getMessage().contains("wire type 3"), e.getMessage());
    }

    @Test
    void theRealQuantizedGraphListsItsQuantizationOperators() {
        java.util.Set<String> ops = GraphOpTypes.read(HF.resolve("tiny-qwen2-dynq8").resolve("model.onnx"));
        assertTrue(ops.contains("DynamicQuantizeLinear") && ops.contains("MatMulInteger"), ops.toString());
        assertFalse(GraphOpTypes.read(EmbeddedModels.target().resolve("model.onnx")).contains("DynamicQuantizeLinear"));
    }

    /** Protobuf wire format, just enough to write ONNX model files by field number. */
    static final class Proto {
        static byte[] varint(long v) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            while ((v & ~0x7fL) != 0) {
                out.write((int) ((v & 0x7f) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
            return out.toByteArray();
        }

        static byte[] tag(int field, int wire) {
            return varint(((long) field << 3) | wire);
        }

        static byte[] bytes(int field, byte[] value) {
            return concat(tag(field, 2), varint(value.length), value);
        }

        static byte[] string(int field, String value) {
            return bytes(field, value.getBytes(StandardCharsets.UTF_8));
        }

        /** A NodeProto as GraphProto field 1, with its op_type (field 4) and an input name. */
        static byte[] node(String opType) {
            return bytes(1, concat(string(1, "x"), string(4, opType)));
        }

        /** A ModelProto: ir_version (field 1), then the graph (field 7) holding {@code graphFields}. */
        static byte[] model(byte[] graphFields) {
            return concat(tag(1, 0), varint(8), bytes(7, graphFields));
        }

        static byte[] concat(byte[]... parts) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            for (byte[] p : parts) {
                out.writeBytes(p);
            }
            return out.toByteArray();
        }
    }
}
