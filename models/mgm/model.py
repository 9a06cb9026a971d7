"""mgm-tiny: Mini-Gemini's structure in miniature.

LR ViT (N visual queries) + HR ConvNeXt (candidate keys and values) -> patch info mining ->
projector -> a small decoder-only LM (RMSNorm, rotary positions, causal attention, KV cache).
"""
from __future__ import annotations

import math
import dataclasses
from dataclasses import dataclass, asdict
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    hr_size: int = 384
    lr_size: int = 96
    patch: int = 32              # LR ViT patch: 96 / 32 = 3 -> N = 9 queries, one per grid cell
    vit_dim: int = 128
    vit_depth: int = 4           # features are read from layer vit_depth - 1 (the penultimate)
    vit_heads: int = 4
    cnx_dims: Tuple[int, ...] = (32, 48, 64, 96)
    cnx_depths: Tuple[int, ...] = (1, 1, 2, 1)
    cnx_stem_stride: int = 8     # stage 1 at 384 / 8 = 48 -> M = 48 / 3 = 16
    lm_dim: int = 128
    lm_layers: int = 4
    lm_heads: int = 4
    lm_ffn: int = 384
    vocab_size: int = 168
    max_len: int = 160
    rope_theta: float = 10000.0
    use_hr: bool = True

    @property
    def n_tokens(self) -> int:
        return (self.lr_size // self.patch) ** 2

    @property
    def hr_map(self) -> int:
        return self.hr_size // self.cnx_stem_stride

    @property
    def hr_channels(self) -> int:
        return sum(self.cnx_dims)

    @property
    def mining_m(self) -> int:
        return self.hr_map // int(math.isqrt(self.n_tokens))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cnx_dims"] = list(self.cnx_dims)
        d["cnx_depths"] = list(self.cnx_depths)
        return d

    @staticmethod
    def from_dict(d: dict) -> "Config":
        # switches of removed experiments (session 3's visual_pos) may sit in cached encoders.pt files
        known = {f.name for f in dataclasses.fields(Config)}
        d = {k: v for k, v in d.items() if k in known}
        d["cnx_dims"] = tuple(d["cnx_dims"])
        d["cnx_depths"] = tuple(d["cnx_depths"])
        return Config(**d)


# ----------------------------------------------------------------- LR encoder: a small ViT

class ViTBlock(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.heads = heads

    def forward(self, x):
        b, t, c = x.shape
        h = self.heads
        qkv = self.qkv(self.ln1(x)).reshape(b, t, 3, h, c // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                       # (b, h, t, dh)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(c // h), dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.ln2(x))


class LRViT(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Conv2d(3, cfg.vit_dim, cfg.patch, cfg.patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.vit_dim))
        self.pos = nn.Parameter(torch.randn(1, cfg.n_tokens + 1, cfg.vit_dim) * 0.02)
        self.pre_ln = nn.LayerNorm(cfg.vit_dim)
        self.blocks = nn.ModuleList(ViTBlock(cfg.vit_dim, cfg.vit_heads) for _ in range(cfg.vit_depth))

    def hidden_states(self, x) -> List[torch.Tensor]:
        x = self.embed(x).flatten(2).transpose(1, 2)           # (b, n, c)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = self.pre_ln(x)
        states = []
        for blk in self.blocks:
            x = blk(x)
            states.append(x)
        return states

    def forward(self, x):
        """Penultimate layer, class token dropped, as Mini-Gemini reads CLIP: (b, N, vit_dim)."""
        return self.hidden_states(x)[-2][:, 1:]


# ----------------------------------------------------------------- HR encoder: a small ConvNeXt

class ChannelsLN(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.ln = nn.LayerNorm(dim)

    def forward(self, x):
        return self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.ln = nn.LayerNorm(dim)
        self.pw1 = nn.Linear(dim, 4 * dim)
        self.pw2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 0.1))

    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.pw2(F.gelu(self.pw1(self.ln(y)))) * self.gamma
        return x + y.permute(0, 3, 1, 2)


class HRConvNeXt(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        d = cfg.cnx_dims
        # A small convolutional stem (3x3/2, 3x3/2, then 2x2/2 to stride 8) rather than one
        # patchify layer: measured here, a patchify stem left the 14 px letters at chance after
        # 800 steps, while stacked 3x3 convolutions are what small letter-reading CNNs use.
        self.stem = nn.Sequential(nn.Conv2d(3, d[0] // 2, 3, 2, 1), nn.GELU(),
                                  nn.Conv2d(d[0] // 2, d[0], 3, 2, 1), nn.GELU(),
                                  nn.Conv2d(d[0], d[0], cfg.cnx_stem_stride // 4, cfg.cnx_stem_stride // 4),
                                  ChannelsLN(d[0]))
        self.downs = nn.ModuleList([nn.Identity()] + [
            nn.Sequential(ChannelsLN(d[i - 1]), nn.Conv2d(d[i - 1], d[i], 2, 2)) for i in range(1, 4)])
        self.stages = nn.ModuleList(nn.Sequential(*[ConvNeXtBlock(d[i]) for _ in range(cfg.cnx_depths[i])])
                                    for i in range(4))

    def stage_maps(self, x) -> List[torch.Tensor]:
        x = self.stem(x)
        maps = []
        for down, stage in zip(self.downs, self.stages):
            x = stage(down(x))
            maps.append(x)
        return maps

    @staticmethod
    def concat(maps: List[torch.Tensor]) -> torch.Tensor:
        """Stages 2..4 upsampled bilinearly to stage 1's size and concatenated on channels."""
        size = maps[0].shape[-2:]
        ups = [maps[0]] + [F.interpolate(m, size=size, mode="bilinear", align_corners=False) for m in maps[1:]]
        return torch.cat(ups, dim=1)

    def forward(self, x):
        return self.concat(self.stage_maps(x))                 # (b, sum(dims), H1, W1)


# ----------------------------------------------------------------- patch info mining + projector

class PatchInfoMining(nn.Module):
    """Each LR query attends to its own M x M HR sub-patches; the result is added to the query."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        c, ch = cfg.vit_dim, cfg.hr_channels
        self.phi_q = nn.Sequential(nn.LayerNorm(c), nn.Linear(c, c))
        self.phi_k = nn.Sequential(nn.LayerNorm(ch), nn.Linear(ch, c))
        self.phi_v = nn.Sequential(nn.LayerNorm(ch), nn.Linear(ch, c))

    def group(self, hr):
        """(b, ch, H, W) -> (b, N, M*M, ch): the sub-patches under each LR query, row-major."""
        b, ch, hh, ww = hr.shape
        g = int(math.isqrt(self.cfg.n_tokens))
        m = hh // g
        x = hr.reshape(b, ch, g, m, g, m).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, g * g, m * m, ch)

    def forward(self, lr, hr):
        return self.mine(lr, hr)[0]

    def mine(self, lr, hr):
        """The mined features and the attention scores before the softmax, (b, N, M*M), which
        training supervises where it knows which sub-patch holds the detail."""
        q = self.phi_q(lr).unsqueeze(2)                        # (b, N, 1, c)
        sub = self.group(hr)
        k, v = self.phi_k(sub), self.phi_v(sub)                # (b, N, M*M, c)
        scores = (q * k).sum(-1) / math.sqrt(q.shape[-1])
        att = torch.softmax(scores, dim=-1)                    # (b, N, M*M)
        return lr + (att.unsqueeze(-1) * v).sum(2), scores


class VisualProjector(nn.Module):
    """Mining (when the HR branch is on) then Linear-GELU-Linear into the LM width."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.mining = PatchInfoMining(cfg) if cfg.use_hr else None
        self.proj = nn.Sequential(nn.Linear(cfg.vit_dim, cfg.lm_dim), nn.GELU(), nn.Linear(cfg.lm_dim, cfg.lm_dim))

    def forward(self, lr, hr: Optional[torch.Tensor] = None):
        return self.project(lr, hr)[0]

    def project(self, lr, hr: Optional[torch.Tensor] = None):
        """Visual tokens and the mining's attention scores (None without the HR branch)."""
        if self.mining is None:
            return self.proj(lr), None
        x, scores = self.mining.mine(lr, hr)
        return self.proj(x), scores


# ----------------------------------------------------------------- the language model

class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.h = cfg.lm_heads
        self.dh = cfg.lm_dim // cfg.lm_heads
        self.q = nn.Linear(cfg.lm_dim, cfg.lm_dim, bias=False)
        self.k = nn.Linear(cfg.lm_dim, cfg.lm_dim, bias=False)
        self.v = nn.Linear(cfg.lm_dim, cfg.lm_dim, bias=False)
        self.o = nn.Linear(cfg.lm_dim, cfg.lm_dim, bias=False)
        # training only: keep the attention probabilities of the last call, which train.py supervises
        self.keep_probs = False
        self.probs: Optional[torch.Tensor] = None

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        b, t, _ = x.shape
        q = self.q(x).reshape(b, t, self.h, self.dh).transpose(1, 2)   # (b, h, t, dh)
        k = self.k(x).reshape(b, t, self.h, self.dh).transpose(1, 2)
        v = self.v(x).reshape(b, t, self.h, self.dh).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)                  # (b, h, p + t, dh)
            v = torch.cat([past_v, v], dim=2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.dh) + mask
        probs = torch.softmax(scores, dim=-1)
        if self.keep_probs:
            self.probs = probs                                 # (b, h, t, p + t)
        out = probs @ v
        return self.o(out.transpose(1, 2).reshape(b, t, -1)), k, v


class DecoderLayer(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.n1 = RMSNorm(cfg.lm_dim)
        self.attn = Attention(cfg)
        self.n2 = RMSNorm(cfg.lm_dim)
        self.gate = nn.Linear(cfg.lm_dim, cfg.lm_ffn, bias=False)
        self.up = nn.Linear(cfg.lm_dim, cfg.lm_ffn, bias=False)
        self.down = nn.Linear(cfg.lm_ffn, cfg.lm_dim, bias=False)

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        a, k, v = self.attn(self.n1(x), cos, sin, mask, past_k, past_v)
        x = x + a
        h = self.n2(x)
        return x + self.down(F.gelu(self.gate(h)) * self.up(h)), k, v


NEG = -1e9  # finite, so that a fully masked padding row gives no NaN


class TinyLM(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.lm_dim)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.lm_layers))
        self.norm = RMSNorm(cfg.lm_dim)
        self.head = nn.Linear(cfg.lm_dim, cfg.vocab_size, bias=False)
        dh = cfg.lm_dim // cfg.lm_heads
        self.register_buffer("inv_freq", 1.0 / (cfg.rope_theta ** (torch.arange(0, dh, 2).float() / dh)),
                             persistent=False)

    def rope(self, position_ids):
        f = position_ids.unsqueeze(-1).float() * self.inv_freq            # (b, t, dh/2)
        emb = torch.cat([f, f], dim=-1).unsqueeze(1)                       # (b, 1, t, dh)
        return emb.cos(), emb.sin()

    def forward(self, inputs_embeds, attention_mask, position_ids, past: Optional[List[torch.Tensor]] = None):
        """inputs_embeds (b, t, d); attention_mask (b, p + t) with 1 for real tokens; position_ids (b, t);
        past: [k0, v0, k1, v1, ...] each (b, h, p, dh). Returns logits (b, t, V) and the present list."""
        b, t, _ = inputs_embeds.shape
        p = past[0].shape[2] if past is not None else 0
        s = p + t
        cos, sin = self.rope(position_ids)
        key_idx = torch.arange(s, device=inputs_embeds.device)
        query_idx = torch.arange(t, device=inputs_embeds.device) + (s - t)
        allowed = (key_idx.unsqueeze(0) <= query_idx.unsqueeze(1)).unsqueeze(0) \
            & (attention_mask[:, None, :] > 0)                              # (b, t, s)
        mask = torch.where(allowed, torch.zeros((), dtype=inputs_embeds.dtype),
                           torch.full((), NEG, dtype=inputs_embeds.dtype)).unsqueeze(1)
        x = inputs_embeds
        present = []
        for i, layer in enumerate(self.layers):
            pk = past[2 * i] if past is not None else None
            pv = past[2 * i + 1] if past is not None else None
            x, k, v = layer(x, cos, sin, mask, pk, pv)
            present += [k, v]
        return self.head(self.norm(x)), present


class MGMTiny(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.lr_encoder = LRViT(cfg)
        self.hr_encoder = HRConvNeXt(cfg) if cfg.use_hr else None
        self.projector = VisualProjector(cfg)
        self.lm = TinyLM(cfg)

    def visual_tokens(self, lr_img, hr_img=None):
        lr = self.lr_encoder(lr_img)
        hr = self.hr_encoder(hr_img) if self.hr_encoder is not None else None
        return self.projector(lr, hr)
