#!/usr/bin/python3
"""Inflates the embedded draft/target pair to realistic sizes WITHOUT changing the function they compute, for
benchmarks whose acceptance is the trained pair's real acceptance while every step costs what a 0.1B draft and a
1B target cost. Needs PyTorch, ONNX and NumPy (Debian: apt-get install python3-torch python3-onnx python3-numpy
libopenblas0-pthread); no network, no ONNX Runtime.

How the function is kept (each original weight goes to one place of the wider model; everything else either
reads only zeros or writes only zeros):
  - hidden size D -> D': the residual stream's extra D' - D dimensions stay exactly 0. The embedding's extra
    columns are 0, and every matrix that writes into the stream (o_proj, down_proj) has 0 in the extra rows. The
    matrices that read the stream (q/k/v/gate/up) get random values in the extra columns: they multiply zeros.
  - RMSNorm over D' instead of D: with x zero outside the first D dimensions, mean(x^2) over D' is (D/D') times
    the mean over D. With eps' = eps * D/D' in every norm, rsqrt(mean' + eps') = sqrt(D'/D) * rsqrt(mean + eps)
    exactly, so the norm weights are multiplied by sqrt(D/D') (config.json carries eps').
  - attention heads H -> H' (head size unchanged, so rotary positions are unchanged), KV heads KV -> KV': original
    KV head j stays head j; original query head h of group h // g goes to slot (h // g) * g' + h % g of the same
    group (g = H/KV, g' = H'/KV'). The other heads have random q/k/v weights and 0 columns in o_proj: they attend,
    and add nothing.
  - MLP neurons I -> I': extra neurons have random gate/up rows and 0 columns in down_proj.
  - layers L -> L': original layer l sits at (l * L') // L; the extra layers are random with o_proj = down_proj = 0,
    so their residual contribution is exactly 0.
The script checks all of it: a forward pass of the original and of the twin on random prompts with a random KV
cache (some slots masked) must give the same logits (max |difference| printed; asserted below 1e-3) and the same
present keys/values in the original heads.

Outputs, in the layout of `optimum-cli export onnx --task text-generation-with-past` (model.onnx + external data
model.onnx_data, config.json, generation_config.json, tokenizer.json), under --out (default target/twin):
  target/       float32, ~1.02B parameters (23 x 2048, 32 query / 4 KV heads of 64, MLP 5632: TinyLlama's shape)
  draft/        float32, ~0.1B parameters (9 x 1024, 32 query / 8 KV heads of 32, MLP 2816)
  target-int8/  the same graphs with every layer MatMul (q/k/v/o/gate/up/down) as com.microsoft MatMulNBits,
  draft-int8/   bits=8, block_size 32, symmetric (zero point 128); the embedding and the tied LM head stay float32.
                Blocks never straddle original and added weights, so the int8 twin computes the original model with
                its weights quantized the same way. accuracy_level 4 (the default) also quantizes activations to 8
                bits. Measured with ONNX Runtime 1.29 on CPU, it is NOT row-invariant: a one-row call (plain
                decoding) and a many-row call (verification) give different logits, so greedy speculative decoding
                on the 8-bit twin can differ from its plain decoding (docs/benchmarks.md); use it to measure cost.
                With level 0 (float32 compute) the CPU kernel dequantizes every weight on every call: the draft
                twin ran at 0.37 tokens/s against 18 with level 4 and 8 in float32.

Usage (about 10 minutes and 12 GB of memory on 2 cores for the target; the draft takes a minute):
  /usr/bin/python3 tools/model-factory/make_twin.py --out target/twin
  /usr/bin/python3 tools/model-factory/make_twin.py --out target/twin --only draft --skip-int8
"""
import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
from onnx import TensorProto, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from specula_factory.model import Config, CausalLM  # noqa: E402
from specula_factory.export import _Wrapper, OPSET, write_configs  # noqa: E402
import quantize_nbits  # noqa: E402

PAIR = "models/src/main/resources/dev/specula/models/python-code"
SHAPES = {
    "target": dict(hidden_size=2048, num_hidden_layers=23, num_attention_heads=32, num_key_value_heads=4,
                   intermediate_size=5632),
    "draft": dict(hidden_size=1024, num_hidden_layers=9, num_attention_heads=32, num_key_value_heads=8,
                  intermediate_size=2816),
}
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
BLOCK = 32
TOLERANCE = 1e-3


def load_original(model_dir):
    """The shipped model as a torch CausalLM: its config.json and the weights of its model.onnx."""
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    cfg = Config(vocab_size=c["vocab_size"], hidden_size=c["hidden_size"], num_hidden_layers=c["num_hidden_layers"],
                 num_attention_heads=c["num_attention_heads"], num_key_value_heads=c["num_key_value_heads"],
                 intermediate_size=c["intermediate_size"], max_position_embeddings=c["max_position_embeddings"],
                 rope_theta=c["rope_theta"], rms_norm_eps=c["rms_norm_eps"])
    if cfg.head_dim != c["head_dim"]:
        raise SystemExit(f"{model_dir}: head_dim {c['head_dim']} is not hidden_size / heads = {cfg.head_dim}")
    m = onnx.load(os.path.join(model_dir, "model.onnx"))
    weights = {}
    for init in m.graph.initializer:
        name = init.name[:-len("_fp16")] if init.name.endswith("_fp16") else init.name
        weights[name] = torch.from_numpy(numpy_helper.to_array(init).astype(np.float32))
    model = CausalLM(cfg)
    state = {k[len("model."):]: v for k, v in weights.items() if k.startswith("model.")}
    missing = set(model.state_dict()) - set(state)
    if missing:
        raise SystemExit(f"{model_dir}/model.onnx lacks weights {sorted(missing)}")
    model.load_state_dict(state, strict=True)
    return model.eval()


def inflate(orig, shape, seed):
    """The twin: the wider, deeper model computing orig's function (see the module docstring)."""
    c = orig.cfg
    D, H, KV, hd, inter, L = (c.hidden_size, c.num_attention_heads, c.num_key_value_heads, c.head_dim,
                              c.intermediate_size, c.num_hidden_layers)
    D2, H2, KV2, I2, L2 = (shape["hidden_size"], shape["num_attention_heads"], shape["num_key_value_heads"],
                           shape["intermediate_size"], shape["num_hidden_layers"])
    g, g2 = H // KV, H2 // KV2
    checks = [(D2 // H2 == hd, f"head size {D2}/{H2} must equal the original's {hd} (rotary positions)"),
              (D2 % H2 == 0 and H2 % KV2 == 0, "heads must divide hidden size, KV heads must divide heads"),
              (D2 >= D and KV2 >= KV and g2 >= g and I2 >= inter and L2 >= L, "the twin must not be smaller"),
              (D % BLOCK == 0 and inter % BLOCK == 0 and hd % BLOCK == 0,
               f"original sizes must be multiples of {BLOCK} so int8 blocks never mix original and added weights")]
    for ok, message in checks:
        if not ok:
            raise SystemExit(f"bad twin shape {shape} for original {c}: {message}")
    ratio = D / D2
    cfg = Config(vocab_size=c.vocab_size, hidden_size=D2, num_hidden_layers=L2, num_attention_heads=H2,
                 num_key_value_heads=KV2, intermediate_size=I2, max_position_embeddings=c.max_position_embeddings,
                 rope_theta=c.rope_theta, rms_norm_eps=c.rms_norm_eps * ratio)
    torch.manual_seed(seed)
    twin = CausalLM(cfg)  # random everywhere (std 0.02), overwritten below where the function needs it
    q_slot = [(h // g) * g2 + h % g for h in range(H)]  # original query head -> twin query head
    q_rows = torch.cat([torch.arange(s * hd, (s + 1) * hd) for s in q_slot])
    at = {(l * L2) // L: l for l in range(L)}  # twin layer -> original layer
    norm_scale = math.sqrt(ratio)

    def norm_weight(w):
        out = torch.full((D2,), norm_scale)
        out[:D] = w * norm_scale
        return out

    with torch.no_grad():
        twin.embed_tokens.weight.zero_()
        twin.embed_tokens.weight[:, :D] = orig.embed_tokens.weight
        for i, b in enumerate(twin.layers):
            a, mlp = b.self_attn, b.mlp
            a.o_proj.weight.zero_()
            mlp.down_proj.weight.zero_()
            if i not in at:  # an extra layer: attends and computes, adds exactly 0 to the residual stream
                b.input_layernorm.weight.fill_(norm_scale)
                b.post_attention_layernorm.weight.fill_(norm_scale)
                continue
            o = orig.layers[at[i]]
            b.input_layernorm.weight.copy_(norm_weight(o.input_layernorm.weight))
            b.post_attention_layernorm.weight.copy_(norm_weight(o.post_attention_layernorm.weight))
            a.q_proj.weight[q_rows, :D] = o.self_attn.q_proj.weight
            a.k_proj.weight[:KV * hd, :D] = o.self_attn.k_proj.weight
            a.v_proj.weight[:KV * hd, :D] = o.self_attn.v_proj.weight
            a.o_proj.weight[:D, q_rows] = o.self_attn.o_proj.weight
            mlp.gate_proj.weight[:inter, :D] = o.mlp.gate_proj.weight
            mlp.up_proj.weight[:inter, :D] = o.mlp.up_proj.weight
            mlp.down_proj.weight[:D, :inter] = o.mlp.down_proj.weight
        twin.norm.weight.copy_(norm_weight(orig.norm.weight))
    return twin.eval()


def check_equal(orig, twin, seed, label, batch=2, new=7, past_len=5):
    """Forward both on random tokens with a random KV cache (the twin's holds the original's in the original KV
    heads, noise in the others) and a mask with holes; returns the max |logit difference| and asserts it small."""
    gen = torch.Generator().manual_seed(seed)
    c, c2 = orig.cfg, twin.cfg
    ids = torch.randint(0, c.vocab_size, (batch, new), generator=gen)
    mask = torch.ones(batch, past_len + new, dtype=torch.long)
    mask[0, 1] = 0
    mask[1, 3] = 0
    pos = torch.arange(past_len, past_len + new)[None].expand(batch, new)
    past, past2 = [], []
    for _ in range(c.num_hidden_layers):
        kv = [torch.randn(batch, c.num_key_value_heads, past_len, c.head_dim, generator=gen) for _ in range(2)]
        past.append(tuple(kv))
    at = {(l * c2.num_hidden_layers) // c.num_hidden_layers: l for l in range(c.num_hidden_layers)}
    for i in range(c2.num_hidden_layers):
        kv2 = []
        for j in range(2):
            t = torch.randn(batch, c2.num_key_value_heads, past_len, c2.head_dim, generator=gen)
            if i in at:
                t[:, :c.num_key_value_heads] = past[at[i]][j]
            kv2.append(t)
        past2.append(tuple(kv2))
    with torch.no_grad():
        logits, presents = orig(ids, mask, pos, past)
        logits2, presents2 = twin(ids, mask, pos, past2)
    diff = (logits - logits2).abs().max().item()
    kv_diff = max((presents[l][j] - presents2[i][j][:, :c.num_key_value_heads]).abs().max().item()
                  for i, l in at.items() for j in range(2))
    same_argmax = bool((logits.argmax(-1) == logits2.argmax(-1)).all())
    scale = logits.abs().max().item()
    print(f"  {label}: max |logit difference| {diff:.3g} (logits up to {scale:.3g}), max |present difference| "
          f"{kv_diff:.3g}, argmax equal at all {batch * new} positions: {same_argmax}", flush=True)
    if not (diff < TOLERANCE and kv_diff < TOLERANCE and same_argmax):
        raise SystemExit(f"{label}: the twin does not compute the original's function")
    return diff


def export_onnx(model, out_dir, tmp_root):
    """torch.onnx.export of the twin (as the model factory exports the pair), then one external data file."""
    tmp = tempfile.mkdtemp(dir=tmp_root)
    try:
        cfg = model.cfg
        n = cfg.num_hidden_layers
        b, s, past_len = 2, 3, 5
        ids = torch.randint(0, cfg.vocab_size, (b, s))
        mask = torch.ones(b, past_len + s, dtype=torch.long)
        pos = torch.arange(past_len, past_len + s)[None].expand(b, s)
        input_names = ["input_ids", "attention_mask", "position_ids"]
        output_names = ["logits"]
        axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
                "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
                "position_ids": {0: "batch_size", 1: "sequence_length"},
                "logits": {0: "batch_size", 1: "sequence_length"}}
        past = []
        for i in range(n):
            for kind in ("key", "value"):
                past.append(torch.randn(b, cfg.num_key_value_heads, past_len, cfg.head_dim))
                name = f"past_key_values.{i}.{kind}"
                input_names.append(name)
                axes[name] = {0: "batch_size", 2: "past_sequence_length"}
                out = f"present.{i}.{kind}"
                output_names.append(out)
                axes[out] = {0: "batch_size", 2: "total_sequence_length"}
        path = os.path.join(tmp, "model.onnx")
        with torch.no_grad():
            torch.onnx.export(_Wrapper(model), (ids, mask, pos, *past), path, input_names=input_names,
                              output_names=output_names, dynamic_axes=axes, opset_version=OPSET,
                              do_constant_folding=False)
        m = onnx.load(path, load_external_data=False)
        m.producer_name = "specula-model-factory twin"
        os.makedirs(out_dir, exist_ok=True)
        write_streamed(m, tmp, out_dir, transform=None)
        return m, tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def tensor_array(init, base_dir):
    """An initializer's values, read from its external file (relative to base_dir) when it has one."""
    if init.data_location != TensorProto.EXTERNAL:
        return numpy_helper.to_array(init)
    info = {e.key: e.value for e in init.external_data}
    with open(os.path.join(base_dir, info["location"]), "rb") as f:
        f.seek(int(info.get("offset", 0)))
        raw = f.read(int(info["length"])) if "length" in info else f.read()
    dtype = onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[init.data_type]
    return np.frombuffer(raw, dtype=dtype).reshape(tuple(init.dims))


def write_streamed(m, src_dir, out_dir, transform):
    """Writes m to out_dir/model.onnx with every initializer over 1 KiB in out_dir/model.onnx_data (page-aligned),
    reading them one at a time from src_dir. `transform(m, arrays_by_name)` may rewrite the graph first."""
    model = onnx.ModelProto()
    model.CopyFrom(m)
    graph = model.graph
    undo_deduplication(model)
    if transform is not None:
        transform(model, src_dir)
    data_path = os.path.join(out_dir, "model.onnx_data")
    with open(data_path, "wb") as data:
        inits = []
        for init in graph.initializer:
            if init.HasField("raw_data") and len(init.raw_data) <= 1024 and init.data_location != TensorProto.EXTERNAL:
                inits.append(init)
                continue
            arr = tensor_array(init, src_dir)
            if arr.nbytes <= 1024:
                inits.append(numpy_helper.from_array(arr, init.name))
                continue
            offset = data.tell()
            pad = (-offset) % 4096
            data.write(b"\0" * pad)
            offset += pad
            raw = np.ascontiguousarray(arr).tobytes()
            data.write(raw)
            t = TensorProto(name=init.name, data_type=init.data_type, dims=list(arr.shape))
            t.data_location = TensorProto.EXTERNAL
            for k, v in (("location", "model.onnx_data"), ("offset", str(offset)), ("length", str(len(raw)))):
                entry = t.external_data.add()
                entry.key, entry.value = k, v
            inits.append(t)
        del graph.initializer[:]
        graph.initializer.extend(inits)
    onnx.save(model, os.path.join(out_dir, "model.onnx"))
    onnx.checker.check_model(os.path.join(out_dir, "model.onnx"))


def undo_deduplication(model):
    """The exporter stores equal weights once (the extra layers' all-zero o_proj and down_proj) and feeds the others
    through Identity nodes; a real model holds one copy per layer, so each gets its own initializer again."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    keep = []
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            copy = TensorProto()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            graph.initializer.append(copy)
        else:
            keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)


def dequantized_copy(twin):
    """The twin with each projection replaced by its int8 blocks dequantized: what the int8 graph computes."""
    with torch.no_grad():
        for layer in twin.layers:
            for mod in (layer.self_attn, layer.mlp):
                for p in PROJECTIONS:
                    lin = getattr(mod, p, None)
                    if lin is not None:
                        deq = quantize_nbits.quantize_blocks(lin.weight.numpy(), 8, BLOCK)[2]
                        lin.weight.copy_(torch.from_numpy(deq))
    return twin


def count(model):
    return sum(p.numel() for p in model.parameters())


def make(name, pair_dir, out_root, seed, int8, accuracy_level, tmp_root):
    start = time.time()
    src = os.path.join(pair_dir, name)
    orig = load_original(src)
    twin = inflate(orig, SHAPES[name], seed)
    print(f"{name}: original {count(orig):,} parameters ({orig.cfg.num_hidden_layers} x {orig.cfg.hidden_size}),"
          f" twin {count(twin):,} ({twin.cfg.num_hidden_layers} x {twin.cfg.hidden_size}); rms_norm_eps "
          f"{orig.cfg.rms_norm_eps} -> {twin.cfg.rms_norm_eps:.6g}", flush=True)
    check_equal(orig, twin, seed + 1, "float32 twin vs original")
    out_dir = os.path.join(out_root, name)
    m, tmp = export_onnx(twin, out_dir, tmp_root)
    try:
        finish_dir(src, out_dir, twin.cfg)
        print(f"  wrote {out_dir} ({dir_size(out_dir) / 2**30:.2f} GiB) after {time.time() - start:.0f} s",
              flush=True)
        if int8:
            int8_dir = os.path.join(out_root, name + "-int8")
            os.makedirs(int8_dir, exist_ok=True)
            write_streamed(m, tmp, int8_dir,
                           lambda model, d: quantize_nbits.quantize(model, 8, BLOCK, accuracy_level, d))
            finish_dir(src, int8_dir, twin.cfg)
            print(f"  wrote {int8_dir} ({dir_size(int8_dir) / 2**30:.2f} GiB) after {time.time() - start:.0f} s",
                  flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if int8:
        twin = dequantized_copy(twin)
        diff_vs_orig = check_int8(orig, twin, seed + 1)
        print(f"  int8 twin (weights dequantized, in torch) vs float32 original: {diff_vs_orig}", flush=True)


def check_int8(orig, twin_q, seed):
    """Logit difference and argmax agreement of the int8 twin's function against the float32 original."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, orig.cfg.vocab_size, (4, 64), generator=gen)
    with torch.no_grad():
        a = orig.train_logits(ids)
        b = twin_q.train_logits(ids)
    agree = (a.argmax(-1) == b.argmax(-1)).float().mean().item()
    return f"max |logit difference| {(a - b).abs().max().item():.3g}, argmax agreement {agree:.4f} on 256 positions"


def finish_dir(src, out_dir, cfg):
    with open(os.path.join(src, "config.json")) as f:
        eos = json.load(f)["eos_token_id"]
    write_configs(cfg, out_dir, eos)
    with open(os.path.join(out_dir, "config.json")) as f:
        config = json.load(f)
    config["torch_dtype"] = "float32"
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    shutil.copy(os.path.join(src, "tokenizer.json"), os.path.join(out_dir, "tokenizer.json"))
    with open(os.path.join(src, "generation_config.json")) as f:
        gen = json.load(f)
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)


def dir_size(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pair", default=PAIR, help="directory holding target/ and draft/ (default: the embedded pair)")
    p.add_argument("--out", default="target/twin")
    p.add_argument("--only", choices=("target", "draft"), help="make one of the two")
    p.add_argument("--skip-int8", action="store_true")
    p.add_argument("--accuracy-level", type=int, default=4,
                   help="MatMulNBits accuracy_level (4: int8 compute, activations quantized per row block; 0: float32)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tmp", default=None, help="scratch directory for the raw export (default: next to --out)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    tmp_root = a.tmp or a.out
    for name in ("draft", "target"):
        if a.only in (None, name):
            make(name, a.pair, a.out, a.seed, not a.skip_int8, a.accuracy_level, tmp_root)


if __name__ == "__main__":
    main()
