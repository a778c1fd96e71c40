#!/usr/bin/python3
"""Writes the tiny ONNX fixtures of the Java tests (a few KB each, random weights):

  tiny-vocab100/  a valid decoder with a KV cache but a 100-token vocabulary (vocabulary-mismatch tests)
  no-kv/          a decoder exported WITHOUT past_key_values inputs (must be rejected with a clear message)

Usage: /usr/bin/python3 tools/model-factory/make_test_fixtures.py onnx/src/test/resources/fixtures
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from specula_factory import export  # noqa: E402
from specula_factory.model import CausalLM, Config  # noqa: E402


class NoCache(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        b, s = input_ids.shape
        pos = torch.arange(s)[None].expand(b, s)
        logits, _ = self.model(input_ids, attention_mask, pos, self.model.empty_past(b))
        return logits


def main(out):
    torch.manual_seed(0)
    cfg = Config(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                 intermediate_size=32, max_position_embeddings=64)
    model = CausalLM(cfg).eval()
    tiny = os.path.join(out, "tiny-vocab100")
    os.makedirs(tiny, exist_ok=True)
    export.export(model, os.path.join(tiny, "model.onnx"))
    export.write_configs(cfg, tiny, eos_id=99)
    no_kv = os.path.join(out, "no-kv")
    os.makedirs(no_kv, exist_ok=True)
    ids = torch.randint(0, 100, (2, 3))
    torch.onnx.export(NoCache(model), (ids, torch.ones(2, 3, dtype=torch.long)), os.path.join(no_kv, "model.onnx"),
                      input_names=["input_ids", "attention_mask"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"},
                                    "logits": {0: "b", 1: "s"}}, opset_version=17)
    export.write_configs(cfg, no_kv, eos_id=99)
    print(json.dumps({d: sorted(os.listdir(os.path.join(out, d))) for d in os.listdir(out)}))


if __name__ == "__main__":
    main(sys.argv[1])
