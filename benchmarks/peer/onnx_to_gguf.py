#!/usr/bin/python3
"""Converts a Specula model directory (an Optimum-layout Llama-family ONNX export: model.onnx, config.json,
tokenizer.json) to an f32 GGUF file for llama.cpp's `llama` architecture, so both engines run the same weights.

Weights come from the ONNX initializers, found by their PyTorch names (model.layers.N.self_attn.q_proj.weight,
...), following a Cast when the export stores them as float16. The query and key rows are permuted from
Hugging Face's rotate-half layout to the interleaved pairs llama.cpp's rotary embedding expects (the same
permutation as llama.cpp's convert_hf_to_gguf.py). The byte-level BPE tokenizer is written as llama.cpp's
`gpt2` tokenizer model with the GPT-2 pre-tokenizer.

Needs numpy and onnx (Debian: python3-numpy python3-onnx) and llama.cpp's own `gguf-py` (pass the llama.cpp
source tree with --llama-cpp; nothing of it is copied).

Usage: onnx_to_gguf.py --llama-cpp DIR MODEL_DIR OUT.gguf
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper, TensorProto


def load_weights(model_path):
    """Maps each float tensor the graph uses as a weight to its float32 value: an initializer under its own
    name, or a float16 initializer under the name of the Cast-to-float output that feeds the graph."""
    model = onnx.load(model_path)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    weights = {}
    for name, init in inits.items():
        if init.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16):
            weights[name] = numpy_helper.to_array(init).astype(np.float32)
    for node in graph.node:
        if node.op_type == "Cast" and node.input[0] in inits:
            to = next(a.i for a in node.attribute if a.name == "to")
            if to == TensorProto.FLOAT:
                weights[node.output[0]] = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
    return weights


def permute_rotary(w, n_head):
    """Rows of a q or k projection [n_head * head_dim, in] from rotate-half order (the first half of each head's
    dimensions pairs with the second) to interleaved pairs (dimension 2i pairs with 2i+1)."""
    rows = w.shape[0]
    if rows % (2 * n_head) != 0:
        raise ValueError(f"projection has {rows} rows, expected a multiple of 2 * {n_head} heads")
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def require(weights, name, shape):
    if name not in weights:
        sample = sorted(weights)[:8]
        raise KeyError(f"weight '{name}' not found in the ONNX graph; expected PyTorch-named initializers such as"
                       f" '{name}', found e.g. {sample}")
    w = weights[name]
    if tuple(w.shape) != tuple(shape):
        raise ValueError(f"weight '{name}' has shape {list(w.shape)}, expected {list(shape)}")
    return w


def check_config(cfg):
    if cfg.get("model_type") != "llama":
        raise ValueError(f"config.json model_type is {cfg.get('model_type')!r}, expected 'llama'")
    if cfg.get("hidden_act", "silu") != "silu":
        raise ValueError(f"config.json hidden_act is {cfg['hidden_act']!r}, expected 'silu' (SwiGLU)")
    if cfg.get("rope_scaling"):
        raise ValueError(f"config.json rope_scaling {cfg['rope_scaling']!r} is not supported, expected none")
    for key in ("attention_bias", "mlp_bias"):
        if cfg.get(key):
            raise ValueError(f"config.json {key} is true, expected false (no biases)")


def convert(llama_cpp, model_dir, out_path):
    sys.path.insert(0, os.path.join(llama_cpp, "gguf-py"))
    import gguf  # llama.cpp's own writer, from the given source tree

    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    check_config(cfg)
    hidden = cfg["hidden_size"]
    n_layer = cfg["num_hidden_layers"]
    n_head = cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads", n_head)
    head_dim = cfg.get("head_dim", hidden // n_head)
    ffn = cfg["intermediate_size"]
    vocab = cfg["vocab_size"]

    weights = load_weights(os.path.join(model_dir, "model.onnx"))
    w = gguf.GGUFWriter(out_path, "llama")
    w.add_name(os.path.basename(os.path.normpath(model_dir)))
    w.add_context_length(cfg.get("max_position_embeddings", 2048))
    w.add_embedding_length(hidden)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(ffn)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(float(cfg.get("rope_theta", 10000.0)))
    w.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-6)))
    w.add_vocab_size(vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)

    def add(name, array):
        w.add_tensor(name, np.ascontiguousarray(array, dtype=np.float32))

    add("token_embd.weight", require(weights, "model.embed_tokens.weight", (vocab, hidden)))
    for i in range(n_layer):
        p = f"model.layers.{i}."
        add(f"blk.{i}.attn_norm.weight", require(weights, p + "input_layernorm.weight", (hidden,)))
        add(f"blk.{i}.attn_q.weight",
            permute_rotary(require(weights, p + "self_attn.q_proj.weight", (n_head * head_dim, hidden)), n_head))
        add(f"blk.{i}.attn_k.weight",
            permute_rotary(require(weights, p + "self_attn.k_proj.weight", (n_kv * head_dim, hidden)), n_kv))
        add(f"blk.{i}.attn_v.weight", require(weights, p + "self_attn.v_proj.weight", (n_kv * head_dim, hidden)))
        add(f"blk.{i}.attn_output.weight", require(weights, p + "self_attn.o_proj.weight", (hidden, n_head * head_dim)))
        add(f"blk.{i}.ffn_norm.weight", require(weights, p + "post_attention_layernorm.weight", (hidden,)))
        add(f"blk.{i}.ffn_gate.weight", require(weights, p + "mlp.gate_proj.weight", (ffn, hidden)))
        add(f"blk.{i}.ffn_up.weight", require(weights, p + "mlp.up_proj.weight", (ffn, hidden)))
        add(f"blk.{i}.ffn_down.weight", require(weights, p + "mlp.down_proj.weight", (hidden, ffn)))
    add("output_norm.weight", require(weights, "model.norm.weight", (hidden,)))
    if not cfg.get("tie_word_embeddings", False):
        add("output.weight", require(weights, "lm_head.weight", (vocab, hidden)))
    # Tied: llama.cpp reuses token_embd.weight as the output projection when output.weight is absent.

    add_tokenizer(gguf, w, model_dir, cfg, vocab)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def add_tokenizer(gguf, w, model_dir, cfg, vocab_size):
    with open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8") as f:
        tok = json.load(f)
    model = tok["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"tokenizer model type is {model.get('type')!r}, expected 'BPE'")
    pre = tok.get("pre_tokenizer") or {}
    if pre.get("type") != "ByteLevel" or not pre.get("use_regex", True) or pre.get("add_prefix_space"):
        raise ValueError(f"pre_tokenizer {pre!r} is not GPT-2's (ByteLevel, use_regex, no prefix space)")
    if tok.get("normalizer"):
        raise ValueError(f"tokenizer normalizer {tok['normalizer']!r} is not supported, expected none")
    by_id = {i: t for t, i in model["vocab"].items()}
    special = {}
    for added in tok.get("added_tokens", []):
        by_id[added["id"]] = added["content"]
        special[added["id"]] = added.get("special", False)
    if sorted(by_id) != list(range(len(by_id))) or len(by_id) > vocab_size:
        raise ValueError(f"token ids are not 0..{len(by_id) - 1} within vocab_size {vocab_size}")
    tokens, types = [], []
    for i in range(vocab_size):  # the logits width: pad ids the tokenizer never produces
        if i in by_id:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.CONTROL if special.get(i) else
                         gguf.TokenType.USER_DEFINED if i in special else gguf.TokenType.NORMAL)
        else:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    # A raw prompt gets no BOS: the tokenizer's post-processor adds none (as transformers and Specula encode).
    post = tok.get("post_processor") or {}
    if post.get("type") not in (None, "ByteLevel"):
        raise ValueError(f"post_processor {post.get('type')!r} may add special tokens; expected ByteLevel or none")
    if cfg.get("bos_token_id") is not None:
        w.add_bos_token_id(cfg["bos_token_id"])
    if cfg.get("eos_token_id") is not None:
        eos = cfg["eos_token_id"]
        w.add_eos_token_id(eos[0] if isinstance(eos, list) else eos)
    w.add_add_bos_token(False)
    w.add_add_eos_token(False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llama-cpp", required=True, help="llama.cpp source tree (its gguf-py is imported)")
    ap.add_argument("model_dir")
    ap.add_argument("out")
    a = ap.parse_args()
    convert(a.llama_cpp, a.model_dir, a.out)
    print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
