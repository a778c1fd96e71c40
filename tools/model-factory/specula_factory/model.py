"""A small Llama-style decoder: RMSNorm, rotary positions from position_ids, grouped-query attention,
SwiGLU MLP, tied embeddings. One forward serves training, prefill, one-token decode and multi-token
verification: new tokens attend causally to each other and to every unmasked cached position."""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

MASK_VALUE = -1e9  # not -inf: a fully masked row must not become NaN


@dataclass
class Config:
    vocab_size: int = 4096
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 6
    num_key_value_heads: int = 2
    intermediate_size: int = 1024
    max_position_embeddings: int = 2048
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5

    @property
    def head_dim(self):
        return self.hidden_size // self.num_attention_heads

    def to_dict(self):
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        hd = cfg.head_dim
        self.q_proj = nn.Linear(cfg.hidden_size, cfg.num_attention_heads * hd, bias=False)
        self.k_proj = nn.Linear(cfg.hidden_size, cfg.num_key_value_heads * hd, bias=False)
        self.v_proj = nn.Linear(cfg.hidden_size, cfg.num_key_value_heads * hd, bias=False)
        self.o_proj = nn.Linear(cfg.num_attention_heads * hd, cfg.hidden_size, bias=False)

    def forward(self, x, cos, sin, bias, past_k, past_v):
        b, s, _ = x.shape
        cfg = self.cfg
        hd = cfg.head_dim
        q = self.q_proj(x).view(b, s, cfg.num_attention_heads, hd).transpose(1, 2)
        k = self.k_proj(x).view(b, s, cfg.num_key_value_heads, hd).transpose(1, 2)
        v = self.v_proj(x).view(b, s, cfg.num_key_value_heads, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        present = (k, v)
        groups = cfg.num_attention_heads // cfg.num_key_value_heads
        t = k.shape[2]
        kk = k[:, :, None].expand(b, cfg.num_key_value_heads, groups, t, hd).reshape(b, cfg.num_attention_heads, t, hd)
        vv = v[:, :, None].expand(b, cfg.num_key_value_heads, groups, t, hd).reshape(b, cfg.num_attention_heads, t, hd)
        scores = torch.matmul(q, kk.transpose(2, 3)) * (1.0 / math.sqrt(hd)) + bias
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, vv).transpose(1, 2).reshape(b, s, cfg.num_attention_heads * hd)
        return self.o_proj(out), present


class MLP(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)
        self.dropout = 0.0  # residual dropout while training (set by the trainer); inactive in eval and export

    def forward(self, x, cos, sin, bias, past_k, past_v):
        a, present = self.self_attn(self.input_layernorm(x), cos, sin, bias, past_k, past_v)
        x = x + F.dropout(a, self.dropout, self.training)
        x = x + F.dropout(self.mlp(self.post_attention_layernorm(x)), self.dropout, self.training)
        return x, present


class CausalLM(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float32) / cfg.head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.num_hidden_layers))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def set_dropout(self, p):
        for layer in self.layers:
            layer.dropout = p

    def num_parameters(self):
        return sum(p.numel() for p in self.parameters())

    def forward(self, input_ids, attention_mask, position_ids, past):
        """past: list of (key, value) per layer, each [batch, kv_heads, past_len, head_dim] (past_len may be 0).
        attention_mask: [batch, past_len + new_len], 1 = attend, 0 = masked (padding or rolled-back slot).
        Returns logits [batch, new_len, vocab] and the presents."""
        b, s = input_ids.shape
        x = self.embed_tokens(input_ids)
        freqs = position_ids.to(torch.float32)[..., None] * self.inv_freq  # [b, s, hd/2]
        emb = torch.cat([freqs, freqs], dim=-1)
        cos = emb.cos()[:, None]
        sin = emb.sin()[:, None]
        past_len = past[0][0].shape[2]
        total = past_len + s
        key_idx = torch.arange(total, device=input_ids.device)[None, :]
        query_idx = (torch.arange(s, device=input_ids.device) + past_len)[:, None]
        allowed = (key_idx <= query_idx)[None, None] & (attention_mask[:, None, None, :] > 0)
        bias = torch.where(allowed, torch.zeros((), dtype=x.dtype), torch.full((), MASK_VALUE, dtype=x.dtype))
        presents = []
        for layer, (pk, pv) in zip(self.layers, past):
            x, present = layer(x, cos, sin, bias, pk, pv)
            presents.append(present)
        x = self.norm(x)
        logits = torch.matmul(x, self.embed_tokens.weight.t())  # tied head
        return logits, presents

    def empty_past(self, batch, device=None):
        c = self.cfg
        z = torch.zeros(batch, c.num_key_value_heads, 0, c.head_dim, device=device)
        return [(z, z) for _ in range(c.num_hidden_layers)]

    def train_logits(self, input_ids):
        b, s = input_ids.shape
        pos = torch.arange(s, device=input_ids.device)[None].expand(b, s)
        mask = torch.ones(b, s, dtype=torch.long, device=input_ids.device)
        logits, _ = self.forward(input_ids, mask, pos, self.empty_past(b, input_ids.device))
        return logits
