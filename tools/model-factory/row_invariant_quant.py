#!/usr/bin/python3
"""Dynamic int8 quantization as ONNX Runtime's `quantize_dynamic` does it, and its row-invariant rewrite.
Only ONNX and NumPy are needed (Debian: apt-get install python3-onnx python3-numpy). Run it from a directory
without an `onnx/` folder (the repository root has one, which would shadow the package).

Why: `quantize_dynamic` quantizes each MatMul's activations with DynamicQuantizeLinear, whose scale and zero point
come from the min and max over the WHOLE tensor of one call. A speculative verify call scores k+1 rows at once, so
each row's activations are rounded on a grid set by its neighbours: the same row gives different logits alone and
in a verify call, and greedy speculative decoding stops being identical to plain decoding.
`rewrite` makes the quantization per row (min/max over the last axis), which is row-invariant: MatMulInteger sums
integers exactly, so a row's result no longer depends on the other rows of the call.

Commands:
  quantize IN.onnx OUT.onnx [--weights int8|uint8]
      every MatMul whose second input is a 2-D float initializer becomes
      DynamicQuantizeLinear(A) -> MatMulInteger(A_q, W_q, a_zero_point, w_zero_point) -> Cast(float)
      -> Mul(a_scale * w_scale), weights per tensor (int8: symmetric, zero point 0; uint8: asymmetric), one
      DynamicQuantizeLinear per distinct activation (shared by q/k/v), as quantize_dynamic emits.
  rewrite IN.onnx OUT.onnx
      each DynamicQuantizeLinear becomes a per-row one (ReduceMax/ReduceMin over the last axis, keepdims), and
      each MatMulInteger fed by it drops its scalar a_zero_point and subtracts zero_point[row] * colsum(W - w_zp)
      in int32 instead (ONNX Runtime's CPU MatMulInteger accepts only a scalar a_zero_point; the int32 result is
      the same as a per-row zero point would give). Only MatMulIntegers with constant weights are supported.
  fixture HF_DIR OUT_DIR [--rewrite]
      copies a Hugging Face ONNX directory (config, tokenizer) with its model.onnx quantized (and rewritten).

Usage (the committed test fixtures):
  cd /tmp && /usr/bin/python3 $REPO/tools/model-factory/row_invariant_quant.py fixture \
      $REPO/onnx/src/test/resources/hf/tiny-qwen2 $REPO/onnx/src/test/resources/hf/tiny-qwen2-dynq8
  cd /tmp && /usr/bin/python3 $REPO/tools/model-factory/row_invariant_quant.py fixture --rewrite \
      $REPO/onnx/src/test/resources/hf/tiny-qwen2 $REPO/onnx/src/test/resources/hf/tiny-qwen2-dynq8-rowwise
"""
import argparse
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _unique(graph, base):
    names = {n for node in graph.node for n in list(node.input) + list(node.output)}
    names |= {i.name for i in graph.initializer}
    name, i = base, 0
    while name in names:
        i += 1
        name = f"{base}_{i}"
    return name


def quantize_weight(w, signed):
    """Per-tensor weight quantization as quantize_dynamic does: int8 symmetric over [-max|w|, max|w|] with zero point
    0, or uint8 asymmetric over [min(w, 0), max(w, 0)]."""
    if signed:
        absmax = float(np.max(np.abs(w)))
        scale = absmax * 2 / 255 if absmax > 0 else 1.0
        q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
        return q, np.float32(scale), np.int8(0)
    lo, hi = min(float(w.min()), 0.0), max(float(w.max()), 0.0)
    scale = (hi - lo) / 255 if hi > lo else 1.0
    zp = int(np.clip(np.rint(-lo / scale), 0, 255))
    q = np.clip(np.rint(w / scale) + zp, 0, 255).astype(np.uint8)
    return q, np.float32(scale), np.uint8(zp)


def quantize(model, signed=True):
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    out_nodes = []
    dynamic = {}  # activation name -> (q, scale, zp): one DynamicQuantizeLinear per activation
    count = 0
    producer = {o: n for n in graph.node for o in n.output}

    def constant_weight(name, depth=0):
        """The 2-D float32 value of `name` if it is an initializer, or a Cast to float / 2-D Transpose of one (how
        exporters store float16 or transposed weights), else None."""
        if name in inits:
            t = inits[name]
            ok = len(t.dims) == 2 and t.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16)
            return numpy_helper.to_array(t).astype(np.float32) if ok else None
        n = producer.get(name)
        if n is None or depth > 3:
            return None
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type == "Cast" and attrs.get("to") == TensorProto.FLOAT:
            return constant_weight(n.input[0], depth + 1)
        if n.op_type == "Transpose" and list(attrs.get("perm", [1, 0])) == [1, 0]:
            w = constant_weight(n.input[0], depth + 1)
            return None if w is None else np.ascontiguousarray(w.T)
        return None

    for node in graph.node:
        w = constant_weight(node.input[1]) if node.op_type == "MatMul" else None
        if w is None:
            out_nodes.append(node)
            continue
        count += 1
        a = node.input[0]
        wq, wscale, wzp = quantize_weight(w, signed)
        base = node.input[1] if node.input[1] in inits else node.input[1].strip("/").replace("/", "_")
        wq_name, ws_name, wz_name = _unique(graph, base + "_quantized"), _unique(graph, base + "_scale"), \
            _unique(graph, base + "_zero_point")
        graph.initializer.extend([numpy_helper.from_array(wq, wq_name),
                                  numpy_helper.from_array(np.array(wscale, dtype=np.float32), ws_name),
                                  numpy_helper.from_array(np.array(wzp), wz_name)])
        if a not in dynamic:
            q, s, z = (_unique(graph, a + suffix) for suffix in ("_quantized", "_scale", "_zero_point"))
            out_nodes.append(helper.make_node("DynamicQuantizeLinear", [a], [q, s, z], name=_unique(graph, a + "_QuantizeLinear")))
            dynamic[a] = (q, s, z)
        q, s, z = dynamic[a]
        y = node.output[0]
        mmi, cast, scale = (_unique(graph, y + suffix) for suffix in ("_int32", "_float", "_scale"))
        out_nodes.append(helper.make_node("MatMulInteger", [q, wq_name, z, wz_name], [mmi], name=node.name + "_quant"))
        out_nodes.append(helper.make_node("Cast", [mmi], [cast], to=TensorProto.FLOAT, name=node.name + "_cast"))
        out_nodes.append(helper.make_node("Mul", [s, ws_name], [scale], name=node.name + "_scales_mul"))
        out_nodes.append(helper.make_node("Mul", [cast, scale], [y], name=node.name + "_output_scale_mul"))
    # drop what only fed the replaced MatMuls (the float weights and their Casts), as quantize_dynamic does
    while True:
        used = {i for n in out_nodes for i in n.input} | {o.name for o in graph.output}
        kept = [n for n in out_nodes if n.op_type not in ("Cast", "Transpose") or n.output[0] in used]
        if len(kept) == len(out_nodes):
            break
        out_nodes = kept
    keep = [i for i in graph.initializer if i.name in used]
    del graph.node[:]
    graph.node.extend(out_nodes)
    del graph.initializer[:]
    graph.initializer.extend(keep)
    return count


def rewrite(model):
    """Makes every DynamicQuantizeLinear per row and compensates the per-row zero point after MatMulInteger."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers = {}
    for node in graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    out_nodes = []
    rowwise = {}  # DynamicQuantizeLinear's zero-point output -> the per-row zero point as int32 [..., rows, 1]
    count = 0

    def const(name, value):
        n = _unique(graph, name)
        graph.initializer.append(numpy_helper.from_array(value, n))
        return n

    for node in graph.node:
        if node.op_type == "DynamicQuantizeLinear":
            x = node.input[0]
            q, s, z = node.output
            for c in consumers.get(z, []):
                if c.op_type != "MatMulInteger" or c.input[2] != z:
                    raise SystemExit(f"zero point {z} of {node.name} feeds {c.op_type} {c.name}; only MatMulInteger's "
                                     f"a_zero_point is supported")
            count += 1
            p = _unique(graph, x + "_rowwise")
            zero = const(p + "_zero", np.array(0, dtype=np.float32))
            levels = const(p + "_levels", np.array(255, dtype=np.float32))
            tiny = const(p + "_tiny", np.array(np.finfo(np.float32).tiny, dtype=np.float32))
            qmax = const(p + "_qmax", np.array(255, dtype=np.float32))
            nodes = [
                helper.make_node("ReduceMax", [x], [p + "_max_raw"], axes=[-1], keepdims=1),
                helper.make_node("ReduceMin", [x], [p + "_min_raw"], axes=[-1], keepdims=1),
                helper.make_node("Max", [p + "_max_raw", zero], [p + "_max"]),  # the range includes 0, as in DQL
                helper.make_node("Min", [p + "_min_raw", zero], [p + "_min"]),
                helper.make_node("Sub", [p + "_max", p + "_min"], [p + "_range"]),
                helper.make_node("Div", [p + "_range", levels], [p + "_scale_raw"]),
                helper.make_node("Max", [p + "_scale_raw", tiny], [s]),  # an all-zero row: no division by 0
                helper.make_node("Div", [p + "_min", s], [p + "_min_scaled"]),
                helper.make_node("Neg", [p + "_min_scaled"], [p + "_zp_raw"]),
                helper.make_node("Round", [p + "_zp_raw"], [p + "_zp_round"]),
                helper.make_node("Clip", [p + "_zp_round", zero, qmax], [p + "_zp_float"]),
                helper.make_node("Div", [x, s], [p + "_x_scaled"]),
                helper.make_node("Round", [p + "_x_scaled"], [p + "_x_round"]),  # half to even, as DQL
                helper.make_node("Add", [p + "_x_round", p + "_zp_float"], [p + "_x_shifted"]),
                helper.make_node("Clip", [p + "_x_shifted", zero, qmax], [p + "_x_clipped"]),
                helper.make_node("Cast", [p + "_x_clipped"], [q], to=TensorProto.UINT8),
                helper.make_node("Cast", [p + "_zp_float"], [p + "_zp_int32"], to=TensorProto.INT32),
                helper.make_node("Cast", [p + "_zp_float"], [z], to=TensorProto.UINT8),
            ]
            for n in nodes:
                if not n.name:
                    n.name = _unique(graph, n.output[0] + "_node")
            out_nodes.extend(nodes)
            rowwise[z] = p + "_zp_int32"
        elif node.op_type == "MatMulInteger" and len(node.input) > 2 and node.input[2] in rowwise:
            w_name = node.input[1]
            if w_name not in inits or len(inits[w_name].dims) != 2:
                raise SystemExit(f"{node.name}: weight {w_name} is not a constant 2-D initializer")
            w = numpy_helper.to_array(inits[w_name]).astype(np.int32)
            wzp = 0
            if len(node.input) > 3 and node.input[3]:
                if node.input[3] not in inits:
                    raise SystemExit(f"{node.name}: weight zero point {node.input[3]} is not an initializer")
                wzp = numpy_helper.to_array(inits[node.input[3]]).astype(np.int32)
                if wzp.size != 1 and wzp.shape != (w.shape[1],):
                    raise SystemExit(f"{node.name}: weight zero point of shape {wzp.shape}, expected scalar or "
                                     f"[{w.shape[1]}]")
            colsum = (w - wzp).sum(axis=0).astype(np.int32)  # sum_k (W[k, n] - w_zp) for each column n
            y = node.output[0]
            p = _unique(graph, y + "_rowwise")
            cs = const(p + "_colsum", colsum)
            inputs = [node.input[0], w_name, ""] + list(node.input[3:])
            out_nodes.append(helper.make_node("MatMulInteger", inputs, [p + "_raw"], name=node.name))
            out_nodes.append(helper.make_node("Mul", [rowwise[node.input[2]], cs], [p + "_correction"], name=p + "_mul"))
            out_nodes.append(helper.make_node("Sub", [p + "_raw", p + "_correction"], [y], name=p + "_sub"))
        else:
            out_nodes.append(node)
    del graph.node[:]
    graph.node.extend(out_nodes)
    return count


def copy_fixture(src, dst, do_rewrite, signed):
    os.makedirs(dst, exist_ok=True)
    for f in sorted(os.listdir(src)):
        if f != "model.onnx" and not f.endswith(".onnx_data"):
            shutil.copy(os.path.join(src, f), os.path.join(dst, f))
    model = onnx.load(os.path.join(src, "model.onnx"))
    n = quantize(model, signed)
    r = rewrite(model) if do_rewrite else 0
    save(model, os.path.join(dst, "model.onnx"))
    print(f"{dst}: {n} MatMuls quantized dynamically, {r} DynamicQuantizeLinear made per row")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quantize")
    q.add_argument("src")
    q.add_argument("dst")
    q.add_argument("--weights", choices=["int8", "uint8"], default="int8")
    r = sub.add_parser("rewrite")
    r.add_argument("src")
    r.add_argument("dst")
    f = sub.add_parser("fixture")
    f.add_argument("src")
    f.add_argument("dst")
    f.add_argument("--rewrite", action="store_true")
    f.add_argument("--weights", choices=["int8", "uint8"], default="int8")
    a = ap.parse_args()
    if a.cmd == "fixture":
        copy_fixture(a.src, a.dst, a.rewrite, a.weights == "int8")
        return
    model = onnx.load(a.src)  # with its external data, if any
    if a.cmd == "quantize":
        n = quantize(model, a.weights == "int8")
        print(f"{n} MatMuls quantized dynamically")
    else:
        n = rewrite(model)
        print(f"{n} DynamicQuantizeLinear made per row")
        if n == 0:
            print("nothing to rewrite: the graph has no DynamicQuantizeLinear", file=sys.stderr)
    save(model, a.dst)


def save(model, path):
    """Saves `model` at `path`, its weights as external data (`<name>_data` beside it) when they pass ONNX's 2 GB
    protobuf limit, and checks the saved file."""
    if model.ByteSize() > 1_800_000_000:
        onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                  location=os.path.basename(path) + "_data")
    else:
        onnx.save(model, path)
    onnx.checker.check_model(path)


if __name__ == "__main__":
    main()
