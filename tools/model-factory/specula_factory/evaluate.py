"""Checks written to metrics.json: held-out loss, draft/target greedy agreement, verify == sequential."""
import numpy as np
import torch
import torch.nn.functional as F


def windows(tokens, seq_len, count, seed=7):
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(tokens) - seq_len - 1, size=count)
    return torch.from_numpy(np.stack([tokens[s:s + seq_len + 1] for s in starts]).astype(np.int64))


@torch.no_grad()
def held_out_loss(model, tokens, seq_len=256, count=96, device="cpu"):
    x = windows(tokens, seq_len, count).to(device)
    total = 0.0
    for i in range(0, count, 16):
        b = x[i:i + 16]
        logits = model.train_logits(b[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b[:, 1:].reshape(-1), reduction="sum").item()
    return total / (count * seq_len)


@torch.no_grad()
def teacher_forced_agreement(draft, target, tokens, seq_len=256, count=64, device="cpu"):
    x = windows(tokens, seq_len, count, seed=11).to(device)[:, :-1]
    agree = 0
    for i in range(0, count, 16):
        b = x[i:i + 16]
        agree += (draft.train_logits(b).argmax(-1) == target.train_logits(b).argmax(-1)).sum().item()
    return agree / x.numel()


@torch.no_grad()
def greedy_generate(model, prompt_ids, new_tokens, device="cpu"):
    """Greedy continuation with the KV cache, exactly as the exported graph is used (prefill, then one token)."""
    ids = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    past = model.empty_past(1, device)
    pos = torch.arange(ids.shape[1], device=device)[None]
    mask = torch.ones(1, ids.shape[1], dtype=torch.long, device=device)
    logits, past = model(ids, mask, pos, past)
    out = []
    nxt = int(logits[0, -1].argmax())
    for _ in range(new_tokens):
        out.append(nxt)
        length = len(prompt_ids) + len(out)
        mask = torch.ones(1, length, dtype=torch.long, device=device)
        pos = torch.tensor([[length - 1]], device=device)
        logits, past = model(torch.tensor([[nxt]], device=device), mask, pos, past)
        nxt = int(logits[0, -1].argmax())
    return out


@torch.no_grad()
def continuation_agreement(draft, target, tokens, prompts=24, prompt_len=48, new_tokens=64, device="cpu"):
    """Agreement of the draft's greedy choice with the target's, along the target's own greedy continuations:
    the per-token acceptance a greedy speculative decoder sees."""
    x = windows(tokens, prompt_len, prompts, seed=13)[:, :prompt_len]
    agree = 0
    total = 0
    for row in x.tolist():
        cont = greedy_generate(target, row, new_tokens, device)
        seq = torch.tensor([row + cont], device=device)
        d = draft.train_logits(seq[:, :-1]).argmax(-1)[0, prompt_len - 1:]
        agree += (d == seq[0, prompt_len:]).sum().item()
        total += new_tokens
    return agree / total


@torch.no_grad()
def verify_equals_sequential(model, tokens, device="cpu"):
    """Max |difference| between the logits of one call over k+1 new tokens (after a cached prefix with a
    masked, rolled-back slot) and one-token calls over the same tokens."""
    seq = torch.from_numpy(tokens[1000:1040].astype(np.int64))[None].to(device)
    prefix, new = seq[:, :30], seq[:, 30:]
    past = model.empty_past(1, device)
    mask = torch.ones(1, 30, dtype=torch.long, device=device)
    _, past = model(prefix, mask, torch.arange(30, device=device)[None], past)
    # one extra cached slot that is rolled back by masking (position 30 gets reused below)
    garbage = torch.tensor([[5]], device=device)
    _, past_g = model(garbage, torch.ones(1, 31, dtype=torch.long, device=device), torch.tensor([[30]], device=device), past)
    n = new.shape[1]
    mask_v = torch.cat([torch.ones(1, 30, dtype=torch.long), torch.zeros(1, 1, dtype=torch.long),
                        torch.ones(1, n, dtype=torch.long)], dim=1).to(device)
    verify, _ = model(new, mask_v, (torch.arange(n, device=device) + 30)[None], past_g)
    seq_logits = []
    p = past
    for i in range(n):
        m = torch.ones(1, 30 + i + 1, dtype=torch.long, device=device)
        l, p = model(new[:, i:i + 1], m, torch.tensor([[30 + i]], device=device), p)
        seq_logits.append(l)
    sequential = torch.cat(seq_logits, dim=1)
    return (verify - sequential).abs().max().item()
