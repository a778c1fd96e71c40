#!/usr/bin/python3
"""Block-quantized weights for a Specula / Optimum model directory: every layer projection (q/k/v/o, gate/up/down)
becomes ONNX Runtime's com.microsoft MatMulNBits with 8-bit or 4-bit symmetric blocks along K, as llama.cpp's Q8_0
and Q4_0 quantize (one scale per block of 32 weights); the embedding, the LM head, norms and everything else stay
as they are. The output is a directory in the same layout (model.onnx, config.json, tokenizer files), which
Specula loads like any other.

Blocks, as llama.cpp does them:
  8 bits: scale = max|w| / 127, q = round(w / scale) in [-127, 127], stored + 128 (MatMulNBits' default zero point).
  4 bits: scale = m / -8 where m is the block's weight of largest magnitude (with its sign), q = round(w / scale)
          clipped to [-8, 7], stored + 8 (the default zero point), two per byte, the first in the low nibble.
--accuracy-level is MatMulNBits' attribute: 0 computes in float32 (weights dequantized in the kernel), 4 also
quantizes the activations to 8 bits per block (faster, and ONNX Runtime's CPU kernel then gives a row of a
multi-row call other logits than the same row alone: Specula's row probe reports it at load).

Needs ONNX and NumPy (Debian: apt-get install python3-onnx python3-numpy). Run it from a directory without an
`onnx/` folder (the repository root has one, which would shadow the package).

Usage:
  cd /tmp && /usr/bin/python3 $REPO/tools/model-factory/quantize_nbits.py --bits 8 --accuracy-level 4 IN_DIR OUT_DIR
"""
import argparse
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
FLOATS = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16)


def quantize_blocks(w, bits, block):
    """[N, K] float32 -> (uint8 [N, K/block, block*bits/8], float32 scales [N * K/block], dequantized [N, K])."""
    n, k = w.shape
    blocks = w.reshape(n, k // block, block)
    if bits == 8:
        scale = np.abs(blocks).max(axis=2) / 127.0
        lo, hi, zero = -127, 127, 128
    else:
        idx = np.abs(blocks).argmax(axis=2)
        signed_max = np.take_along_axis(blocks, idx[:, :, None], axis=2)[:, :, 0]
        scale = signed_max / -8.0
        lo, hi, zero = -8, 7, 8
    safe = np.where(scale != 0, scale, 1.0).astype(np.float32)
    q = np.clip(np.rint(blocks / safe[:, :, None]), lo, hi)
    deq = (q * safe[:, :, None]).reshape(n, k).astype(np.float32)
    stored = (q + zero).astype(np.uint8)
    if bits == 4:
        stored = (stored[:, :, 0::2] | (stored[:, :, 1::2] << 4)).astype(np.uint8)
    return stored, safe.reshape(-1), deq


def projection_weight(node, inits, producers):
    """(initializer, nodes between it and the MatMul, whether it is stored [N, K]) for a layer projection's
    MatMul: B = Transpose(W) or Transpose(Cast(W)) with W [N, K] named after the projection (the model factory's
    export), or B = W [K, N] directly in a MatMul named after the projection (transformers' / Optimum's export);
    else None."""
    direct = inits.get(node.input[1])
    if direct is not None:
        if direct.data_type == TensorProto.FLOAT and len(direct.dims) == 2 \
                and any(f"/{p}/" in node.name for p in PROJECTIONS):
            return direct, [], False
        return None
    t = producers.get(node.input[1])
    if t is None or t.op_type != "Transpose":
        return None
    src, chain = t.input[0], [t]
    cast = producers.get(src)
    if cast is not None and cast.op_type == "Cast":
        src, chain = cast.input[0], chain + [cast]
    init = inits.get(src)
    if init is None or init.data_type not in FLOATS or len(init.dims) != 2:
        return None
    base = src[:-len("_fp16")] if src.endswith("_fp16") else src
    if not any(base.endswith(p + ".weight") for p in PROJECTIONS):
        return None
    return init, chain, True


def quantize(model, bits, block, accuracy_level, base_dir):
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    uses = {}
    for n in graph.node:
        for i in n.input:
            uses[i] = uses.get(i, 0) + 1
    new_nodes, new_inits, dropped, replaced, worst = [], [], set(), 0, 0.0
    for node in graph.node:
        found = projection_weight(node, inits, producers) if node.op_type == "MatMul" else None
        if found is None or any(uses[c.output[0]] != 1 for c in found[1]):
            new_nodes.append(node)
            continue
        init, chain, stored_nk = found
        if not stored_nk and uses[init.name] != 1:
            new_nodes.append(node)
            continue
        w = numpy_helper.to_array(init, base_dir).astype(np.float32)
        w = w if stored_nk else w.T  # [N, K] = [out, in]
        n_out, k_in = w.shape
        if k_in % block:
            new_nodes.append(node)
            continue
        q, scales, deq = quantize_blocks(w, bits, block)
        worst = max(worst, float(np.abs(deq - w).max() / max(np.abs(w).max(), 1e-12)))
        q_name, s_name = f"{init.name}_q{bits}", f"{init.name}_scales"
        new_inits += [numpy_helper.from_array(q, q_name), numpy_helper.from_array(scales, s_name)]
        new_nodes.append(helper.make_node("MatMulNBits", [node.input[0], q_name, s_name], list(node.output),
                                          name=node.name + f"_q{bits}", domain="com.microsoft", K=k_in, N=n_out,
                                          bits=bits, block_size=block, accuracy_level=accuracy_level))
        dropped.update(c.name for c in chain)
        dropped.add(init.name)
        replaced += 1
    if replaced == 0:
        raise SystemExit("no projection MatMul found (q_proj ... down_proj, as MatMul(x, W) or MatMul(x,"
                         " Transpose(W))): is this an Optimum export of a Llama-family model?")
    nodes = [n for n in new_nodes if n.name not in dropped]
    del graph.node[:]
    graph.node.extend(nodes)
    kept = [i for i in graph.initializer if i.name not in dropped]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    print(f"{replaced} projections -> MatMulNBits (bits {bits}, blocks of {block}, accuracy_level {accuracy_level});"
          f" largest weight error {worst:.3g} of the weight's max |value|", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bits", type=int, choices=(4, 8), required=True)
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--accuracy-level", type=int, default=4, choices=(0, 1, 2, 3, 4))
    ap.add_argument("src")
    ap.add_argument("dst")
    a = ap.parse_args()
    if os.path.abspath(a.src) == os.path.abspath(a.dst):
        raise SystemExit("the output directory must differ from the input")
    model = onnx.load(os.path.join(a.src, "model.onnx"), load_external_data=False)
    quantize(model, a.bits, a.block, a.accuracy_level, a.src)
    os.makedirs(a.dst, exist_ok=True)
    for f in sorted(os.listdir(a.src)):
        if not f.startswith("model.onnx") and os.path.isfile(os.path.join(a.src, f)):
            shutil.copy2(os.path.join(a.src, f), os.path.join(a.dst, f))
    model.producer_name = f"specula-model-factory quantize_nbits {a.bits}-bit"
    onnx.load_external_data_for_model(model, a.src)
    big = sum(len(i.raw_data) for i in model.graph.initializer) > 1 << 30
    out = os.path.join(a.dst, "model.onnx")
    onnx.save(model, out, save_as_external_data=big, location="model.onnx_data" if big else None)
    onnx.checker.check_model(out)
    print(f"wrote {a.dst}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
