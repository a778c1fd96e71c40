#!/usr/bin/python3
"""Writes models/README.md from the shipped pair's metrics.json and corpus.json.

Usage: /usr/bin/python3 tools/model-factory/write_models_readme.py models/src/main/resources/dev/specula/models/python-code > models/README.md
"""
import json
import os
import sys


def main(pair):
    m = json.load(open(os.path.join(pair, "metrics.json")))
    c = json.load(open(os.path.join(pair, "corpus.json")))
    t, d, a = m["target"], m["draft"], m["greedy_agreement"]
    sizes = {side: sum(os.path.getsize(os.path.join(pair, side, f)) for f in os.listdir(os.path.join(pair, side)))
             for side in ("target", "draft")}
    out = []
    w = out.append
    w("# specula-models: the embedded draft/target pair\n")
    w("A small Python-code language model pair, made by `tools/model-factory` (see its README for the exact"
      " commands), in the layout a user gets from `optimum-cli export onnx --task text-generation-with-past`:"
      " `model.onnx` (inputs `input_ids`, `attention_mask`, `position_ids`, `past_key_values.{i}.key|value`;"
      " outputs `logits`, `present.{i}.key|value`), `config.json`, `generation_config.json`, `tokenizer.json`."
      " The jar carries them as resources; `EmbeddedModels.target()` / `draft()` extract them once into the"
      " Specula cache directory and return their paths.\n")
    w("| | target | draft |\n|---|---:|---:|")
    for label, key, fmt in (("parameters", "parameters", "{:,}"), ("training tokens", "training_tokens", "{:,}"),
                            ("training time (s)", "training_seconds", "{:,}"),
                            ("held-out loss (nats/token)", "held_out_loss_nats_per_token", "{}"),
                            ("ONNX file (bytes)", "onnx_bytes", "{:,}"),
                            ("float16 vs float32 weights: max logit difference", "float16_weights_max_abs_logit_diff", "{}"),
                            ("float16 vs float32 weights: argmax agreement", "float16_weights_argmax_agreement", "{}"),
                            ("verify-shaped call vs sequential calls: max difference",
                             "verify_vs_sequential_max_abs_diff", "{:.2e}")):
        w(f"| {label} | {fmt.format(t[key])} | {fmt.format(d[key])} |")
    w(f"| directory size (bytes) | {sizes['target']:,} | {sizes['draft']:,} |")
    tc = t["config"]
    dc = d["config"]
    w(f"| layers x width | {tc['num_hidden_layers']} x {tc['hidden_size']} | {dc['num_hidden_layers']} x {dc['hidden_size']} |")
    w(f"| query / KV heads | {tc['num_attention_heads']} / {tc['num_key_value_heads']} | {dc['num_attention_heads']} / {dc['num_key_value_heads']} |")
    w("")
    if "pretraining_tokens" in d:
        w(f"The draft was trained normally for {d['pretraining_tokens']:,} tokens (held-out loss"
          f" {d['held_out_loss_before_distillation']}), then distilled from the target's distributions (KL) for"
          f" {d['training_tokens']:,} tokens.\n")
    w("Greedy agreement of the draft with the target (the acceptance a greedy speculative decoder sees):\n")
    w("| | teacher-forced on held-out text | along the target's own greedy continuations |\n|---|---:|---:|")
    if "teacher_forced_before_distillation" in a:
        w(f"| before distillation | {a['teacher_forced_before_distillation']} | {a['along_target_greedy_before_distillation']} |")
    w(f"| shipped draft | {a['teacher_forced']} | {a['along_target_greedy']} |\n")
    w(f"Corpus: {c['files']} files, {c['bytes']:,} bytes of the Python 3.11 standard library as Debian ships it"
      f" (`{c['root']}`, {c['license']}); SHA-256 over the file list and file hashes `{c['sha256']}`; 3% of the"
      " files held out (seeded), listed with every file's hash in `corpus.json`. Tokenizer: byte-level BPE,"
      " 4096 tokens, GPT-2 pre-tokenization, `<|endoftext|>` = 4095.\n")
    if "training_machine" in m:
        w(f"Trained on {m['training_machine'].replace('gpu_train.py on ', '')} by `gpu_train.py` (command in"
          " `tools/model-factory/README.md`:"
          " residual dropout, an epoch budget, the checkpoint with the best held-out score kept; the draft distilled on a mix of corpus windows and the target's own"
          " greedy and sampled continuations; per-evaluation log in `gpu-train-log.json`); evaluated and exported"
          f" {m['created']} on {m['machine']}, seed {m['seed']}. That run saved float16 weights, so the float16"
          " rows above compare identical weights; on a pair trained in float32 (the CPU path) the rounding moved"
          " logits by at most 0.006 and changed no argmax.\n")
    else:
        w(f"Made {m['created']} on {m['machine']}, seed {m['seed']}.\n")
    w("## Target greedy samples\n")
    for s in m["target_greedy_samples"]:
        w("```python\n" + s["prompt"] + s["continuation"] + "\n```\n")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
