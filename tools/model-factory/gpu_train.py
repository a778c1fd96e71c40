#!/usr/bin/env python3
"""Trains the target, the draft and the distilled draft on one GPU in minutes (the CPU path of factory.py takes
hours), from the token files that factory.py's tokenizer stage writes. Writes checkpoints that factory.py's
export stage reads (float16 weights; `--split-mb` cuts big files into parts, joined by `gpu_import.py`).

    python3 tools/model-factory/gpu_train.py --data DIR_WITH_train.bin_AND_held_out.bin --out OUT

Differences from the CPU path, because a GPU sees the 3M-token corpus many times over in minutes:
residual dropout, a budget in epochs as well as seconds, the checkpoint with the best held-out score kept
(not the last), and distillation on a mix of corpus windows and the target's own continuations (greedy and
sampled), the text a draft has to predict during speculative decoding.
"""
import argparse
import copy
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from specula_factory.model import CausalLM  # noqa: E402
import factory  # noqa: E402  (the configurations: one source of truth)

LOG = []


def log(msg, **fields):
    line = time.strftime("%H:%M:%S") + " " + msg
    print(line, flush=True)
    LOG.append({"t": round(time.time(), 1), "msg": msg, **fields})


class Stream:
    """Random windows of one token stream, sliced on the device."""

    def __init__(self, tokens, device, seed):
        self.tokens = torch.from_numpy(tokens.astype(np.int64)).to(device)
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(seed)
        self.device = device

    def batch(self, batch_size, seq_len):
        starts = torch.randint(0, len(self.tokens) - seq_len - 1, (batch_size,), device=self.device,
                               generator=self.gen)
        return self.tokens[starts[:, None] + torch.arange(seq_len + 1, device=self.device)]


def autocast(device):
    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def make_optimizer(model, lr):
    try:
        return torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    except (TypeError, RuntimeError):
        return torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)


def lr_at(fraction, peak, warmup=0.04, floor=0.05):
    if fraction < warmup:
        return peak * max(fraction / warmup, 0.02)
    f = min(1.0, (fraction - warmup) / (1 - warmup))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * f)))


def fit(name, model, next_batch, loss_fn, *, seconds, max_tokens, peak_lr, evaluate, eval_every_s, higher_is_better,
        device):
    """Trains until the time or the token budget is spent (the schedule follows whichever is further along);
    returns the state with the best evaluation score (on the CPU) and a summary."""
    opt = make_optimizer(model, peak_lr)
    start = time.time()
    tokens = 0
    step = 0
    best = None
    last_eval = -1e9
    loss_ema = None
    while True:
        elapsed = time.time() - start
        fraction = max(elapsed / seconds, tokens / max_tokens)
        done = fraction >= 1.0
        if done or elapsed - last_eval >= eval_every_s:
            model.eval()
            score = evaluate(model)
            model.train()
            last_eval = elapsed
            better = best is None or (score > best["score"] if higher_is_better else score < best["score"])
            if better:
                best = {"score": score, "step": step, "tokens": tokens, "seconds": round(elapsed, 1),
                        "state": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}}
            log(f"{name} step {step} t={elapsed:.0f}s tokens={tokens} ({fraction:.0%}) loss={loss_ema} "
                f"eval={score:.4f}{' best' if better else ''}", stage=name, step=step, tokens=tokens,
                loss=loss_ema, eval=score)
        if done:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(fraction, peak_lr)
        x = next_batch()
        with autocast(device):
            loss = loss_fn(model, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += x[:, :-1].numel()
        if step % 20 == 0:
            l = loss.item()
            loss_ema = round(l if loss_ema is None else 0.8 * loss_ema + 0.2 * l, 4)
    model.load_state_dict(best["state"])
    model.eval()
    summary = {k: v for k, v in best.items() if k != "state"}
    summary.update(total_steps=step, total_tokens=tokens, total_seconds=round(time.time() - start, 1))
    log(f"{name} done: best {summary}", stage=name, summary=summary)
    return summary


def cross_entropy(model, x):
    logits = model.train_logits(x[:, :-1]).float()
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))


@torch.no_grad()
def held_out_loss(model, held, seq_len, device, batch=32):
    n = (len(held) - 1) // seq_len
    x = held[: n * seq_len + 1]
    total = 0.0
    for i in range(0, n, batch):
        rows = torch.stack([x[j * seq_len: (j + 1) * seq_len + 1] for j in range(i, min(n, i + batch))])
        with autocast(device):
            logits = model.train_logits(rows[:, :-1]).float()
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), rows[:, 1:].reshape(-1), reduction="sum").item()
    return total / (n * seq_len)


@torch.no_grad()
def generate(model, prompts, new_tokens, temperature, gen):
    """Batched continuations with the KV cache; temperature 0 rows are greedy."""
    b, p = prompts.shape
    device = prompts.device
    past = model.empty_past(b, device)
    out = [prompts]
    ids = prompts
    pos = torch.arange(p, device=device)[None].expand(b, p)
    for i in range(new_tokens):
        length = p + i
        mask = torch.ones(b, length if i else p, dtype=torch.long, device=device)
        with autocast(str(device)):
            logits, past = model(ids, mask, pos, past)
        last = logits[:, -1].float()
        greedy = last.argmax(-1)
        t = temperature.clamp_min(1e-4)[:, None]
        sampled = torch.multinomial(torch.softmax(last / t, -1), 1, generator=gen)[:, 0]
        nxt = torch.where(temperature > 0, sampled, greedy)
        out.append(nxt[:, None])
        ids = nxt[:, None]
        pos = torch.full((b, 1), length, device=device, dtype=torch.long)
    return torch.cat(out, dim=1)


def save(model, summary, path, split_mb):
    ck = {"config": model.cfg.to_dict(),
          "model": {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()},
          "opt": {}, "state": {"elapsed_s": summary["seconds"], "tokens": summary["tokens"], "step": summary["step"],
                               "loss_ema": None, "gpu": summary}}
    torch.save(ck, path + ".tmp")
    data = open(path + ".tmp", "rb").read()
    os.remove(path + ".tmp")
    limit = int(split_mb * 1024 * 1024)
    parts = [data[i:i + limit] for i in range(0, len(data), limit)]
    names = [path] if len(parts) == 1 else [f"{path}.part{i}" for i in range(len(parts))]
    for name, part in zip(names, parts):
        with open(name, "wb") as f:
            f.write(part)
    log(f"wrote {names} ({len(data)} bytes)")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--target-seconds", type=float, default=180)
    p.add_argument("--target-epochs", type=float, default=24)
    p.add_argument("--draft-seconds", type=float, default=40)
    p.add_argument("--draft-epochs", type=float, default=12)
    p.add_argument("--distill-seconds", type=float, default=150)
    p.add_argument("--generated-tokens", type=int, default=3_000_000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--eval-every", type=float, default=15)
    p.add_argument("--split-mb", type=float, default=15)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    dev = args.device
    os.makedirs(args.out, exist_ok=True)
    log("arguments", arguments=vars(args))
    torch.manual_seed(args.seed)
    if dev.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        log(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}")  # factory.py's export reads this line
    train_np = np.fromfile(os.path.join(args.data, "train.bin"), dtype=np.uint16)
    held = torch.from_numpy(np.fromfile(os.path.join(args.data, "held_out.bin"), dtype=np.uint16).astype(np.int64)).to(dev)
    corpus = Stream(train_np, dev, args.seed)
    epoch = len(train_np)
    log(f"train {epoch} tokens, held out {len(held)}")
    S = args.seq_len

    def write_log():
        with open(os.path.join(args.out, "gpu-train-log.json"), "w") as f:
            json.dump(LOG, f, indent=1)

    # 1. target
    target = CausalLM(factory.TARGET).to(dev)
    target.set_dropout(args.dropout)
    t_sum = fit("target", target, lambda: corpus.batch(args.batch, S), cross_entropy,
                seconds=args.target_seconds, max_tokens=args.target_epochs * epoch, peak_lr=2e-3,
                evaluate=lambda m: held_out_loss(m, held, S, dev), eval_every_s=args.eval_every,
                higher_is_better=False, device=dev)
    save(target, t_sum, os.path.join(args.out, "target.pt"), args.split_mb)
    write_log()

    # 2. draft, plain next-token training
    draft = CausalLM(factory.DRAFT).to(dev)
    draft.set_dropout(0.0)
    d_sum = fit("draft", draft, lambda: corpus.batch(args.batch, S), cross_entropy,
                seconds=args.draft_seconds, max_tokens=args.draft_epochs * epoch, peak_lr=3e-3,
                evaluate=lambda m: held_out_loss(m, held, S, dev), eval_every_s=args.eval_every,
                higher_is_better=False, device=dev)
    save(draft, d_sum, os.path.join(args.out, "draft.pt"), args.split_mb)
    write_log()

    # 3. the target's own continuations of corpus prompts: half greedy, half sampled at temperature 0.8
    gen = torch.Generator(device=dev)
    gen.manual_seed(args.seed + 5)
    prompt_len, new = 32, 224
    rows = max(2, args.generated_tokens // (prompt_len + new))
    chunks = []
    t0 = time.time()
    for i in range(0, rows, 512):
        b = min(512, rows - i)
        prompts = corpus.batch(b, prompt_len - 1)
        temperature = torch.where(torch.arange(b, device=dev) % 2 == 0, 0.0, 0.8)
        chunks.append(generate(target, prompts, new, temperature, gen))
    generated = torch.cat(chunks)
    log(f"generated {generated.numel()} tokens in {time.time() - t0:.0f}s")
    held_prompts = torch.stack([held[j * 997 % (len(held) - 64): j * 997 % (len(held) - 64) + 48] for j in range(64)])
    along = generate(target, held_prompts, 96, torch.zeros(64, device=dev), gen)

    @torch.no_grad()
    def along_greedy(model):
        with autocast(dev):
            pred = model.train_logits(along[:, :-1]).float().argmax(-1)[:, 47:]
        return (pred == along[:, 48:]).float().mean().item()

    log(f"draft along target greedy before distillation: {along_greedy(draft):.4f}")
    gen_rows = torch.Generator(device=dev)
    gen_rows.manual_seed(args.seed + 6)
    half = args.batch // 2

    def mixed_batch():
        idx = torch.randint(0, generated.shape[0], (args.batch - half,), device=dev, generator=gen_rows)
        g = generated[idx]
        return torch.cat([corpus.batch(half, g.shape[1] - 1), g])

    target.eval()

    def kl(model, x):
        inp = x[:, :-1]
        with torch.no_grad():
            t_logp = F.log_softmax(target.train_logits(inp).float(), -1)
        s_logp = F.log_softmax(model.train_logits(inp).float(), -1)
        return (t_logp.exp() * (t_logp - s_logp)).sum(-1).mean()

    k_sum = fit("distill", draft, mixed_batch, kl, seconds=args.distill_seconds, max_tokens=1e12, peak_lr=1e-3,
                evaluate=along_greedy, eval_every_s=args.eval_every, higher_is_better=True, device=dev)
    k_sum["pretraining"] = d_sum
    save(draft, k_sum, os.path.join(args.out, "draft-distilled.pt"), args.split_mb)
    write_log()
    log("all done")
    write_log()


if __name__ == "__main__":
    main()
