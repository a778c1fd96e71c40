#!/usr/bin/python3
"""Writes small decoder graphs, in the Optimum input/output layout, for the ONNX runner's tests and measurements.
Only ONNX and NumPy are needed (Debian: apt-get install python3-onnx python3-numpy); weights are random.

Each graph: token + learned position embeddings, `layers` blocks of multi-head attention over a KV cache
(past_key_values.{i}.key|value [1, heads, past, head_dim] -> present.{i}.key|value) with a ReLU MLP, then an
untied LM head. Inputs input_ids, attention_mask, position_ids.

Fixtures (`fixtures DIR`, a few KB each, committed under onnx/src/test/resources/fixtures):
  mask-ignoring/    attention is causal over the PHYSICAL cache and ignores attention_mask, like a graph whose
                    attention kernel derives its window from the mask's length (ORT GroupQueryAttention) rather
                    than applying it element-wise: masked rollback would attend to stale slots, so the runner's
                    parity probe must choose compaction
  mask-honouring/   the same weights with the mask applied element-wise (masked rollback is safe); its weights
                    are stored as external data (model.onnx_data), for discovery and provenance-hash tests
  fp16-io/          mask-honouring's function with a float16 KV cache and float16 logits
  bf16-io/          the same with bfloat16
  fp16-batched/, bf16-batched/ (`batched-fixtures DIR`): fp16-io and bf16-io with a symbolic batch axis

Large vocabulary (`big-vocab DIR`, NOT committed: ~330 MB): vocabulary 151,936 (Qwen2.5's), hidden 256, 2 layers,
weights as external data; for measuring peak memory of long prompts.

1.5B-shaped (`shaped-1.5b DIR`, NOT committed: 6 GB): Qwen2.5-1.5B's sizes, for load-time measurements.

KV gather graphs (`kv-gather DIR`, committed under onnx/src/main/resources/dev/specula/onnx): what compaction runs.
KV row graphs (`kv-rows DIR`, committed there too): what a batch of sequences compacts, drops and merges rows with.

Usage:
  /usr/bin/python3 tools/model-factory/make_layout_fixtures.py kv-gather onnx/src/main/resources/dev/specula/onnx
  /usr/bin/python3 tools/model-factory/make_layout_fixtures.py kv-rows onnx/src/main/resources/dev/specula/onnx
  /usr/bin/python3 tools/model-factory/make_layout_fixtures.py fixtures onnx/src/test/resources/fixtures
  /usr/bin/python3 tools/model-factory/make_layout_fixtures.py batched-fixtures onnx/src/test/resources/fixtures
  /usr/bin/python3 tools/model-factory/make_layout_fixtures.py big-vocab /tmp/big-vocab
  /usr/bin/python3 tools/model-factory/make_layout_fixtures.py shaped-1.5b /tmp/shaped-1.5b
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def build(vocab, hidden, heads, layers, ffn, positions, seed, honour_mask=True, io_type=TensorProto.FLOAT,
          stream_to=None, residual_scale=1.0, batch_axis=False):
    """The decoder graph (weights held as initializers) for the given sizes. With `stream_to` (an open binary file
    named model.onnx_data next to the graph), weights are written there one at a time and referenced as external
    data, so a multi-GB model never sits in memory. Blocks have no normalization: `residual_scale` shrinks what each
    adds to the residual stream, so that deep models keep finite, mask-dominated attention scores. With `batch_axis`
    the first axis of every input and output is symbolic ("batch") instead of 1."""
    rng = np.random.default_rng(seed)
    head_dim = hidden // heads
    inits = []
    nodes = []

    def weight(name, shape, scale):
        values = rng.standard_normal(shape, dtype=np.float32)
        values *= scale
        if stream_to is None:
            inits.append(numpy_helper.from_array(values, name))
            return name
        offset = stream_to.tell()
        pad = (-offset) % 4096  # page-aligned, so ONNX Runtime can map each weight
        stream_to.write(b"\0" * pad)
        offset += pad
        stream_to.write(values.tobytes())
        t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(shape))
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", os.path.basename(stream_to.name)), ("offset", str(offset)),
                     ("length", str(values.nbytes))):
            entry = t.external_data.add()
            entry.key, entry.value = k, v
        inits.append(t)
        return name

    def const(name, array):
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(op, ins, outs, **attrs):
        nodes.append(helper.make_node(op, ins, outs, **attrs))
        return outs[0]

    b = 0 if batch_axis else 1  # Reshape's 0 keeps the input's batch size
    batch = "batch" if batch_axis else 1
    const("split_heads", np.array([b, -1, heads, head_dim], dtype=np.int64))
    const("merge_heads", np.array([b, -1, hidden], dtype=np.int64))
    const("idx1", np.array(1, dtype=np.int64))
    const("idx2", np.array(2, dtype=np.int64))
    const("one", np.array(1, dtype=np.int64))
    const("zero", np.array(0, dtype=np.int64))
    const("axis1", np.array([1], dtype=np.int64))
    const("mask_shape", np.array([b, 1, 1, -1], dtype=np.int64))
    const("scale", np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))
    const("neg", np.array(-1e9, dtype=np.float32))

    emb = weight("embed", (vocab, hidden), 1.0)
    pos = weight("pos_embed", (positions, hidden), 0.5)
    x = node("Add", [node("Gather", [emb, "input_ids"], ["tok"]), node("Gather", [pos, "position_ids"], ["posv"])], ["x0"])
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [batch, "seq"]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [batch, "total"]),
              helper.make_tensor_value_info("position_ids", TensorProto.INT64, [batch, "seq"])]
    outputs = [helper.make_tensor_value_info("logits", io_type, [batch, "seq", vocab])]
    seq = node("Gather", [node("Shape", ["input_ids"], ["ids_shape"]), "idx1"], ["seq_len"])
    mask_bool = node("Reshape", [node("Cast", ["attention_mask"], ["mask_b"], to=TensorProto.BOOL), "mask_shape"],
                     ["mask4"])
    for layer in range(layers):
        p = f"l{layer}_"
        cache = {}
        for kind in ("key", "value"):
            name = f"past_key_values.{layer}.{kind}"
            inputs.append(helper.make_tensor_value_info(name, io_type, [batch, heads, "past", head_dim]))
            past = name if io_type == TensorProto.FLOAT else node("Cast", [name], [p + kind + "_past32"], to=TensorProto.FLOAT)
            proj = node("MatMul", [x, weight(p + "w" + kind[0], (hidden, hidden), hidden ** -0.5)], [p + kind + "_proj"])
            new = node("Transpose", [node("Reshape", [proj, "split_heads"], [p + kind + "_4d"])], [p + kind + "_new"],
                       perm=[0, 2, 1, 3])
            out = f"present.{layer}.{kind}"
            outputs.append(helper.make_tensor_value_info(out, io_type, [batch, heads, "total", head_dim]))
            # float32: Concat writes the output itself (an Identity would copy the cache once more, as exports do not)
            full = node("Concat", [past, new], [out if io_type == TensorProto.FLOAT else p + kind + "_all"], axis=2)
            if io_type != TensorProto.FLOAT:
                node("Cast", [full], [out], to=io_type)
            cache[kind] = full
        q = node("Transpose", [node("Reshape", [node("MatMul", [x, weight(p + "wq", (hidden, hidden), hidden ** -0.5)],
                                                     [p + "q_proj"]), "split_heads"], [p + "q_4d"])], [p + "q"],
                 perm=[0, 2, 1, 3])
        kt = node("Transpose", [cache["key"]], [p + "kt"], perm=[0, 1, 3, 2])
        scores = node("Mul", [node("MatMul", [q, kt], [p + "qk"]), "scale"], [p + "scores"])
        # Causal over physical slots: query i (at slot past + i) sees slots j <= past + i.
        total = node("Gather", [node("Shape", [cache["key"]], [p + "k_shape"]), "idx2"], [p + "total"])
        past_len = node("Sub", [total, seq], [p + "past_len"])
        key_slots = node("Range", ["zero", total, "one"], [p + "key_slots"])
        query_slots = node("Unsqueeze", [node("Range", [past_len, total, "one"], [p + "q_slots"]), "axis1"],
                           [p + "q_slots_col"])
        allowed = node("LessOrEqual", [key_slots, query_slots], [p + "causal"])
        if honour_mask:
            allowed = node("And", [allowed, mask_bool], [p + "allowed"])
        masked = node("Where", [allowed, scores, "neg"], [p + "masked"])
        probs = node("Softmax", [masked], [p + "probs"], axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [probs, cache["value"]], [p + "ctx4"])], [p + "ctx_t"],
                                    perm=[0, 2, 1, 3]), "merge_heads"], [p + "ctx"])
        x = node("Add", [x, node("MatMul", [ctx, weight(p + "wo", (hidden, hidden), residual_scale * hidden ** -0.5)], [p + "attn"])],
                 [p + "h"])
        up = node("Relu", [node("MatMul", [x, weight(p + "w1", (hidden, ffn), hidden ** -0.5)], [p + "up"])], [p + "act"])
        x = node("Add", [x, node("MatMul", [up, weight(p + "w2", (ffn, hidden), residual_scale * ffn ** -0.5)], [p + "down"])],
                 [p + "out"])
    lm_head = weight("lm_head", (hidden, vocab), hidden ** -0.5)
    logits = node("MatMul", [x, lm_head], ["logits" if io_type == TensorProto.FLOAT else "logits32"])
    if io_type != TensorProto.FLOAT:
        node("Cast", [logits], ["logits"], to=io_type)
    graph = helper.make_graph(nodes, "specula_layout_fixture", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="specula")
    model.ir_version = 8
    if stream_to is None:
        onnx.checker.check_model(model)
    return model


def write(model, directory, config, external=False, name="model.onnx"):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    if external:
        data = os.path.join(directory, name + "_data")
        if os.path.exists(data):
            os.remove(data)  # onnx appends to an existing external data file
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=name + "_data", size_threshold=1024)
    else:
        onnx.save_model(model, path)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def config(vocab, hidden, heads, layers, positions):
    return {"model_type": "specula-fixture", "vocab_size": vocab, "hidden_size": hidden,
            "num_attention_heads": heads, "num_key_value_heads": heads, "num_hidden_layers": layers,
            "max_position_embeddings": positions, "eos_token_id": vocab - 1, "bos_token_id": vocab - 1}


def fixtures(out):
    sizes = dict(vocab=64, hidden=16, heads=2, layers=1, ffn=32, positions=128, seed=7)
    cfg = config(64, 16, 2, 1, 128)
    write(build(**sizes, honour_mask=False), os.path.join(out, "mask-ignoring"), cfg)
    write(build(**sizes), os.path.join(out, "mask-honouring"), cfg, external=True)
    write(build(**sizes, io_type=TensorProto.FLOAT16), os.path.join(out, "fp16-io"), cfg)
    write(build(**sizes, io_type=TensorProto.BFLOAT16), os.path.join(out, "bf16-io"), cfg)


def batched_fixtures(out):
    """fp16-io's and bf16-io's functions with a symbolic batch axis (`batched-fixtures DIR`, committed under
    onnx/src/test/resources/fixtures): half-precision KV and logits through a batch of sequences."""
    sizes = dict(vocab=64, hidden=16, heads=2, layers=1, ffn=32, positions=128, seed=7, batch_axis=True)
    cfg = config(64, 16, 2, 1, 128)
    write(build(**sizes, io_type=TensorProto.FLOAT16), os.path.join(out, "fp16-batched"), cfg)
    write(build(**sizes, io_type=TensorProto.BFLOAT16), os.path.join(out, "bf16-batched"), cfg)


def big_vocab(out):
    vocab, hidden, heads, layers, positions = 151936, 256, 4, 2, 8192
    write(build(vocab, hidden, heads, layers, 4 * hidden, positions, seed=11), out,
          config(vocab, hidden, heads, layers, positions), external=True)


def kv_gather(out):
    """The graphs OnnxSequence compacts a KV cache with: Gather(past [1, heads, slots, head_dim], kept slots, axis 2),
    one per cache type, so ONNX Runtime copies the kept rows natively (no copy of the cache into the Java heap)."""
    os.makedirs(out, exist_ok=True)
    for suffix, dtype in (("float", TensorProto.FLOAT), ("float16", TensorProto.FLOAT16),
                          ("bfloat16", TensorProto.BFLOAT16)):
        graph = helper.make_graph(
            [helper.make_node("Gather", ["cache", "slots"], ["kept"], axis=2)], "specula_kv_gather",
            [helper.make_tensor_value_info("cache", dtype, [1, "heads", "physical", "head_dim"]),
             helper.make_tensor_value_info("slots", TensorProto.INT64, ["logical"])],
            [helper.make_tensor_value_info("kept", dtype, [1, "heads", "logical", "head_dim"])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="specula")
        model.ir_version = 8
        onnx.checker.check_model(model)
        onnx.save_model(model, os.path.join(out, f"kv-gather-{suffix}.onnx"))


def kv_rows(out):
    """The graphs a batch of sequences regathers its KV cache with (OnnxSequenceBatch): every cache tensor
    [rows, heads, slots, head_dim] is viewed as one list of head_dim vectors (Reshape to `flat` = [-1, head_dim]), the
    vectors named by `index` are gathered in order and shaped as `shape` = [rows', heads, slots', head_dim]. One index
    list drops rows, reorders them and moves each row's kept slots to the front; `kv-rows-merge-*` first appends a
    second cache (a sequence joining the batch) after the first, so joining copies the batch's cache once."""
    os.makedirs(out, exist_ok=True)
    for suffix, dtype in (("float", TensorProto.FLOAT), ("float16", TensorProto.FLOAT16),
                          ("bfloat16", TensorProto.BFLOAT16)):
        for merge in (False, True):
            cache = ["rows", "heads", "slots", "head_dim"]
            inputs = [helper.make_tensor_value_info("cache", dtype, cache)]
            nodes = [helper.make_node("Reshape", ["cache", "flat"], ["vectors"])]
            if merge:
                inputs.append(helper.make_tensor_value_info("joining", dtype, ["joining_rows", "heads",
                                                                                "joining_slots", "head_dim"]))
                nodes += [helper.make_node("Reshape", ["joining", "flat"], ["joining_vectors"]),
                          helper.make_node("Concat", ["vectors", "joining_vectors"], ["all_vectors"], axis=0)]
            inputs += [helper.make_tensor_value_info("index", TensorProto.INT64, ["n"]),
                       helper.make_tensor_value_info("flat", TensorProto.INT64, [2]),
                       helper.make_tensor_value_info("shape", TensorProto.INT64, [4])]
            nodes += [helper.make_node("Gather", ["all_vectors" if merge else "vectors", "index"], ["picked"], axis=0),
                      helper.make_node("Reshape", ["picked", "shape"], ["kept"])]
            graph = helper.make_graph(nodes, "specula_kv_rows", inputs,
                                      [helper.make_tensor_value_info("kept", dtype, ["rows2", "heads", "slots2",
                                                                                     "head_dim"])])
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="specula")
            model.ir_version = 8
            onnx.checker.check_model(model)
            onnx.save_model(model, os.path.join(out, f"kv-rows-{'merge' if merge else 'gather'}-{suffix}.onnx"))


def shaped_1_5b(out):
    """Qwen2.5-1.5B's sizes (hidden 1536, 28 layers, MLP 8960, vocabulary 151,936; 1.5B parameters, 6 GB fp32) with
    this file's simpler blocks (full multi-head KV, ReLU MLP): for load-time and step-cost measurements."""
    vocab, hidden, heads, layers, ffn, positions = 151936, 1536, 12, 28, 8960, 4096
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "model.onnx_data"), "wb") as data:
        model = build(vocab, hidden, heads, layers, ffn, positions, seed=13, stream_to=data,
                      residual_scale=(2 * layers) ** -0.5)
    onnx.save_model(model, os.path.join(out, "model.onnx"))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config(vocab, hidden, heads, layers, positions), f, indent=2)


if __name__ == "__main__":
    {"fixtures": fixtures, "big-vocab": big_vocab, "shaped-1.5b": shaped_1_5b,
     "kv-gather": kv_gather, "kv-rows": kv_rows,
     "batched-fixtures": batched_fixtures}[sys.argv[1]](sys.argv[2])
