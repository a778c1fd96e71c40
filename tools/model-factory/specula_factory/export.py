"""Export to the layout of `optimum-cli export onnx --task text-generation-with-past`, with float16 weights
stored compactly (cast to float32 inside the graph; ONNX Runtime folds the casts when it loads)."""
import json
import os

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper, TensorProto

OPSET = 17


class _Wrapper(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.n = model.cfg.num_hidden_layers

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(self.n)]
        logits, presents = self.model(input_ids, attention_mask, position_ids, past)
        flat = []
        for k, v in presents:
            flat += [k, v]
        return (logits, *flat)


def export(model, path):
    model = model.eval().cpu()
    cfg = model.cfg
    n = cfg.num_hidden_layers
    b, s, past_len = 2, 3, 5  # dummy sizes other than 0 and 1, so none is baked in
    ids = torch.randint(0, cfg.vocab_size, (b, s))
    mask = torch.ones(b, past_len + s, dtype=torch.long)
    pos = torch.arange(past_len, past_len + s)[None].expand(b, s)
    past = []
    input_names = ["input_ids", "attention_mask", "position_ids"]
    output_names = ["logits"]
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
            "position_ids": {0: "batch_size", 1: "sequence_length"},
            "logits": {0: "batch_size", 1: "sequence_length"}}
    for i in range(n):
        for kind in ("key", "value"):
            past.append(torch.randn(b, cfg.num_key_value_heads, past_len, cfg.head_dim))
            name = f"past_key_values.{i}.{kind}"
            input_names.append(name)
            axes[name] = {0: "batch_size", 2: "past_sequence_length"}
            out = f"present.{i}.{kind}"
            output_names.append(out)
            axes[out] = {0: "batch_size", 2: "total_sequence_length"}
    tmp = path + ".fp32"
    # No constant folding: folding would store a transposed copy of the tied embedding for the LM head.
    torch.onnx.export(_Wrapper(model), (ids, mask, pos, *past), tmp, input_names=input_names,
                      output_names=output_names, dynamic_axes=axes, opset_version=OPSET,
                      do_constant_folding=False)
    m = onnx.load(tmp)
    os.remove(tmp)
    compact_float16(m)
    m.producer_name = "specula-model-factory"
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return os.path.getsize(path)


def compact_float16(m, min_elements=1024):
    """Stores large float32 initializers as float16, each followed by a Cast back to float32."""
    graph = m.graph
    casts = []
    keep = []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= min_elements:
            arr = numpy_helper.to_array(init).astype(np.float16)
            half = numpy_helper.from_array(arr, init.name + "_fp16")
            keep.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                          name=init.name + "_cast"))
        else:
            keep.append(init)
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)


def round_to_float16(model):
    """The float32 model whose weights equal the shipped float16 weights (for the logits check)."""
    with torch.no_grad():
        for p in model.parameters():
            if p.numel() >= 1024:
                p.copy_(p.half().float())
    return model


def write_configs(cfg, out_dir, eos_id):
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "num_key_value_heads": cfg.num_key_value_heads,
        "head_dim": cfg.head_dim,
        "vocab_size": cfg.vocab_size,
        "max_position_embeddings": cfg.max_position_embeddings,
        "rope_theta": cfg.rope_theta,
        "rms_norm_eps": cfg.rms_norm_eps,
        "hidden_act": "silu",
        "tie_word_embeddings": True,
        "bos_token_id": eos_id,
        "eos_token_id": eos_id,
        "torch_dtype": "float16",
        "use_cache": True,
    }
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": eos_id, "eos_token_id": eos_id, "do_sample": False,
                   "max_length": cfg.max_position_embeddings}, f, indent=2)
