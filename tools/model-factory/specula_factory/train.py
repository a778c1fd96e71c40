"""Time-budgeted, resumable training: plain next-token training and distillation from a teacher."""
import math
import os
import signal
import time

import numpy as np
import torch
import torch.nn.functional as F

from .model import CausalLM, Config


_STOP = {"requested": False}


def _request_stop(signum, frame):
    _STOP["requested"] = True


def install_stop_handler():
    """SIGTERM/SIGINT end training after the current step, with a checkpoint: nothing is lost."""
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)


def lr_at(fraction, peak, warmup_fraction=0.03, floor=0.1):
    if fraction < warmup_fraction:
        return peak * max(fraction / warmup_fraction, 0.02)
    f = min(1.0, (fraction - warmup_fraction) / (1 - warmup_fraction))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * f)))


class Batches:
    """Random windows of seq_len + 1 tokens from one token stream (documents joined by end-of-text)."""

    def __init__(self, tokens, seq_len, batch_size, seed):
        self.tokens = tokens
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)

    def next(self, device):
        starts = self.rng.integers(0, len(self.tokens) - self.seq_len - 1, size=self.batch_size)
        x = np.stack([self.tokens[s:s + self.seq_len + 1] for s in starts]).astype(np.int64)
        return torch.from_numpy(x).to(device)


def save_checkpoint(path, model, opt, state):
    tmp = path + ".tmp"
    torch.save({"config": model.cfg.to_dict(), "model": model.state_dict(), "opt": opt.state_dict(), "state": state}, tmp)
    os.replace(tmp, path)


def load_model(path, device):
    ck = torch.load(path, map_location=device)
    model = CausalLM(Config(**ck["config"])).to(device)
    model.load_state_dict(ck["model"])
    return model, ck


def run(ckpt_path, cfg, tokens, *, minutes, peak_lr, batch_size, seq_len, seed, device, log,
        teacher=None, init_from=None, checkpoint_every_s=600):
    """Trains until `minutes` of cumulative training time are spent (resuming from ckpt_path when present).
    With a teacher, the loss is KL(teacher || student) on the teacher's distributions (distillation)."""
    torch.manual_seed(seed)
    if os.path.exists(ckpt_path):
        model, ck = load_model(ckpt_path, device)
        opt = torch.optim.AdamW(model.parameters(), lr=peak_lr, betas=(0.9, 0.95), weight_decay=0.1)
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        log(f"resumed {ckpt_path}: {state['elapsed_s']:.0f}s, {state['tokens']} tokens, step {state['step']}")
    else:
        model = CausalLM(cfg).to(device)
        if init_from is not None:
            model.load_state_dict(init_from.state_dict())
        opt = torch.optim.AdamW(model.parameters(), lr=peak_lr, betas=(0.9, 0.95), weight_decay=0.1)
        state = {"elapsed_s": 0.0, "tokens": 0, "step": 0, "loss_ema": None}
    budget = minutes * 60.0
    batches = Batches(tokens, seq_len, batch_size, seed + state["step"])
    last_ck = time.time()
    last_log = 0.0
    model.train()
    while state["elapsed_s"] < budget:
        t0 = time.time()
        lr = lr_at(state["elapsed_s"] / budget, peak_lr)
        for g in opt.param_groups:
            g["lr"] = lr
        x = batches.next(device)
        inp, tgt = x[:, :-1], x[:, 1:]
        logits = model.train_logits(inp)
        if teacher is None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))
        else:
            with torch.no_grad():
                t_logp = F.log_softmax(teacher.train_logits(inp), dim=-1)
            s_logp = F.log_softmax(logits, dim=-1)
            loss = (t_logp.exp() * (t_logp - s_logp)).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        state["tokens"] += inp.numel()
        state["elapsed_s"] += time.time() - t0
        l = loss.item()
        state["loss_ema"] = l if state["loss_ema"] is None else 0.9 * state["loss_ema"] + 0.1 * l
        if state["elapsed_s"] - last_log > 60:
            last_log = state["elapsed_s"]
            log(f"step {state['step']} t={state['elapsed_s']:.0f}s/{budget:.0f}s tokens={state['tokens']} "
                f"lr={lr:.2e} loss={state['loss_ema']:.3f} ({inp.numel() / (time.time() - t0):.0f} tok/s)")
        if time.time() - last_ck > checkpoint_every_s:
            save_checkpoint(ckpt_path, model, opt, state)
            last_ck = time.time()
        if _STOP["requested"]:
            save_checkpoint(ckpt_path, model, opt, state)
            log(f"stopped on request at step {state['step']}; checkpoint saved")
            raise SystemExit(3)
    save_checkpoint(ckpt_path, model, opt, state)
    model.eval()
    return model, state
