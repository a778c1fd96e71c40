#!/usr/bin/python3
"""Makes Specula's embedded draft/target pair. See README.md in this folder for the exact commands.

Stages (each resumes or skips what is done in --work): tokenizer, target, draft, distill, export.
"""
import argparse
import json
import os
import platform
import shutil
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from specula_factory import bpe, corpus, evaluate, export, train  # noqa: E402
from specula_factory.model import Config  # noqa: E402

# Trained on windows of 512 tokens; rotary positions extrapolate to about twice that, the context declared.
TARGET = Config(hidden_size=384, num_hidden_layers=6, num_attention_heads=6, num_key_value_heads=2,
                intermediate_size=1024, max_position_embeddings=1024)
DRAFT = Config(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
               intermediate_size=384, max_position_embeddings=1024)
# No trailing newline: byte-level BPE merges a newline with the indentation after it, so a prompt ending in a
# bare newline would stop mid-token, where the model has never seen a token boundary.
SAMPLE_PROMPTS = [
    "def fibonacci(n):",
    "class Stack:\n    def __init__(self):",
    "import os\n\n\ndef read_lines(path):",
    "    def __repr__(self):",
    "for i in range(len(items)):",
]


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def stage_tokenizer(args):
    tok_path = os.path.join(args.work, "tokenizer.json")
    train_bin = os.path.join(args.work, "train.bin")
    held_bin = os.path.join(args.work, "held_out.bin")
    train_docs, held_docs, manifest = corpus.load(args.corpus, seed=args.seed)
    if not os.path.exists(tok_path):
        log(f"training BPE on {manifest['files']} files, {manifest['bytes']} bytes (sha256 {manifest['sha256'][:12]})")
        vocab, merges = bpe.train(train_docs, vocab_size=args.vocab_size)
        bpe.write_tokenizer(vocab, merges, tok_path)
        corpus.write_manifest(manifest, os.path.join(args.work, "corpus.json"))
    vocab, merges = bpe.read_tokenizer(tok_path)
    if not os.path.exists(held_bin):
        enc = bpe.Encoder(vocab, merges)
        for docs, path in ((train_docs, train_bin), (held_docs, held_bin)):
            ids = []
            for d in docs:
                ids.extend(enc.encode(d))
                ids.append(enc.eos_id)
            np.asarray(ids, dtype=np.uint16).tofile(path)
            log(f"{path}: {len(ids)} tokens")
        # A sample the Java tests compare against the Hugging Face tokenizer's encoding.
        sample = held_docs[0][:2000]
        with open(os.path.join(args.work, "tokenizer-check.json"), "w") as f:
            json.dump({"text": sample, "ids": enc.encode(sample)}, f)
    return (np.fromfile(train_bin, dtype=np.uint16), np.fromfile(held_bin, dtype=np.uint16), vocab)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--work", default=os.path.join(os.path.dirname(__file__), "work"))
    p.add_argument("--out", required=True, help="output folder; gets target/ and draft/ model directories")
    p.add_argument("--corpus", default=corpus.DEFAULT_ROOT)
    p.add_argument("--stages", default="tokenizer,target,draft,distill,export")
    p.add_argument("--target-minutes", type=float, default=120)
    p.add_argument("--draft-minutes", type=float, default=15)
    p.add_argument("--distill-minutes", type=float, default=20)
    p.add_argument("--vocab-size", type=int, default=4096)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    train.install_stop_handler()
    os.makedirs(args.work, exist_ok=True)
    stages = args.stages.split(",")
    train_tokens, held_tokens, vocab = stage_tokenizer(args)
    dev = args.device
    t_path = os.path.join(args.work, "target.pt")
    d_path = os.path.join(args.work, "draft.pt")
    k_path = os.path.join(args.work, "draft-distilled.pt")
    if "target" in stages:
        train.run(t_path, TARGET, train_tokens, minutes=args.target_minutes, peak_lr=2e-3, batch_size=8,
                  seq_len=args.seq_len, seed=args.seed, device=dev, log=lambda m: log("target " + m))
    if "draft" in stages:
        train.run(d_path, DRAFT, train_tokens, minutes=args.draft_minutes, peak_lr=3e-3, batch_size=16,
                  seq_len=args.seq_len, seed=args.seed + 1, device=dev, log=lambda m: log("draft " + m))
    if "distill" in stages:
        teacher, _ = train.load_model(t_path, dev)
        teacher.eval()
        base, _ = train.load_model(d_path, dev)
        train.run(k_path, DRAFT, train_tokens, minutes=args.distill_minutes, peak_lr=1e-3, batch_size=16,
                  seq_len=args.seq_len, seed=args.seed + 2, device=dev, log=lambda m: log("distill " + m),
                  teacher=teacher, init_from=base)
    if "export" in stages:
        do_export(args, t_path, d_path, k_path, train_tokens, held_tokens, vocab)


def do_export(args, t_path, d_path, k_path, train_tokens, held_tokens, vocab):
    dev = args.device
    target, t_ck = train.load_model(t_path, dev)
    draft_plain, d_ck = train.load_model(d_path, dev)
    distilled = os.path.exists(k_path)
    draft, k_ck = train.load_model(k_path, dev) if distilled else (draft_plain, d_ck)
    for m in (target, draft_plain, draft):
        m.eval()
        m.cfg.max_position_embeddings = TARGET.max_position_embeddings  # the declared (trained) context
    eos_id = vocab[bpe.EOS]
    enc = bpe.Encoder(*bpe.read_tokenizer(os.path.join(args.work, "tokenizer.json")))
    metrics = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seed": args.seed,
               "machine": f"{platform.machine()} {os.cpu_count()} cpus, torch {torch.__version__}, device {dev}, "
                          f"{args.threads} threads",
               "tokens": {"train": int(len(train_tokens)), "held_out": int(len(held_tokens))}}
    gpu_log = os.path.join(args.work, "gpu-train-log.json")
    if os.path.exists(gpu_log):  # trained by gpu_train.py: say where, and ship its log
        with open(gpu_log) as f:
            first = next(e["msg"] for e in json.load(f) if e["msg"].startswith("device "))
        metrics["training_machine"] = first.replace("device ", "gpu_train.py on ", 1)
    log("evaluating")
    for name, model, ck in (("target", target, t_ck), ("draft", draft, k_ck)):
        exact = evaluate.held_out_loss(model, held_tokens, device=dev)
        metrics[name] = {"parameters": model.num_parameters(), "config": model.cfg.to_dict(),
                         "training_tokens": ck["state"]["tokens"],
                         "training_seconds": round(ck["state"]["elapsed_s"]),
                         "held_out_loss_nats_per_token": round(exact, 4),
                         "verify_vs_sequential_max_abs_diff": evaluate.verify_equals_sequential(model, held_tokens, dev)}
    if distilled:
        metrics["draft"]["pretraining_tokens"] = d_ck["state"]["tokens"]
        metrics["draft"]["pretraining_seconds"] = round(d_ck["state"]["elapsed_s"])
        metrics["draft"]["held_out_loss_before_distillation"] = round(
            evaluate.held_out_loss(draft_plain, held_tokens, device=dev), 4)
    agreement = {
        "teacher_forced": round(evaluate.teacher_forced_agreement(draft, target, held_tokens, device=dev), 4),
        "along_target_greedy": round(evaluate.continuation_agreement(draft, target, held_tokens, device=dev), 4)}
    if distilled:
        agreement["teacher_forced_before_distillation"] = round(
            evaluate.teacher_forced_agreement(draft_plain, target, held_tokens, device=dev), 4)
        agreement["along_target_greedy_before_distillation"] = round(
            evaluate.continuation_agreement(draft_plain, target, held_tokens, device=dev), 4)
    metrics["greedy_agreement"] = agreement
    samples = []
    for prompt in SAMPLE_PROMPTS:
        ids = enc.encode(prompt)
        samples.append({"prompt": prompt, "continuation": enc.decode(evaluate.greedy_generate(target, ids, 96, dev))})
    metrics["target_greedy_samples"] = samples
    os.makedirs(args.out, exist_ok=True)
    for name, model in (("target", target), ("draft", draft)):
        out = os.path.join(args.out, name)
        os.makedirs(out, exist_ok=True)
        cpu = model.cpu()
        size = export.export(cpu, os.path.join(out, "model.onnx"))
        export.write_configs(cpu.cfg, out, eos_id)
        shutil.copy(os.path.join(args.work, "tokenizer.json"), os.path.join(out, "tokenizer.json"))
        ref = evaluate.windows(held_tokens, 64, 4)[:, :-1]
        with torch.no_grad():
            before = cpu.train_logits(ref)
            after = export.round_to_float16(cpu).train_logits(ref)
        metrics[name]["onnx_bytes"] = size
        metrics[name]["float16_weights_max_abs_logit_diff"] = round((before - after).abs().max().item(), 5)
        metrics[name]["float16_weights_argmax_agreement"] = round(
            (before.argmax(-1) == after.argmax(-1)).float().mean().item(), 5)
    shutil.copy(os.path.join(args.work, "corpus.json"), os.path.join(args.out, "corpus.json"))
    if os.path.exists(gpu_log):
        shutil.copy(gpu_log, os.path.join(args.out, "gpu-train-log.json"))
    shutil.copy(os.path.join(args.work, "tokenizer-check.json"), os.path.join(args.out, "tokenizer-check.json"))
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    log(json.dumps({k: v for k, v in metrics.items() if k != "target_greedy_samples"}, indent=1))


if __name__ == "__main__":
    main()
