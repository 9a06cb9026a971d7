"""mgm-gen-tiny: a tiny text-to-image latent diffusion model with SDXL's split.

SDXL renders Mini-Gemini's `<h>` prompts. Its export has four graphs, and this model has the same four
with the same inputs and outputs, only small:
  text_encoder   input_ids -> hidden states (prompt embeddings, part 1)
  text_encoder_2 input_ids -> hidden states (part 2) and text_embeds (the pooled embedding)
  unet           sample, timestep, encoder_hidden_states, text_embeds, time_ids -> noise prediction
  vae_decoder    latent_sample -> sample (pixels in [-1, 1])
The prompt embeddings are the two encoders' hidden states concatenated on channels, as in SDXL; the
added conditions are the pooled embedding and six time ids (original size, crop origin, target size).
The VAE encoder is used in training only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GenConfig:
    image: int = 96                      # pixels; the latent is image / 8 on a side, as in SDXL
    latent_channels: int = 4
    vae_dims: Tuple[int, ...] = (16, 32, 64)   # flat colours and simple shapes need few channels
    vocab_size: int = 168
    text_len: int = 40                   # prompts are padded to this length (SDXL: 77)
    te1_dim: int = 64
    te2_dim: int = 96
    te_layers: int = 2
    te_heads: int = 4
    unet_dims: Tuple[int, ...] = (32, 64)      # (64, 128) took ~4 s a step at batch 64 on this machine
    time_dim: int = 256
    time_id_dim: int = 32                # Fourier features per time id (SDXL: 256)
    train_timesteps: int = 1000
    beta_start: float = 0.00085          # SDXL's "scaled_linear" schedule
    beta_end: float = 0.012
    scaling_factor: float = 1.0          # set after the VAE is trained: 1 / std of the latents

    @property
    def latent(self) -> int:
        return self.image // 8

    @property
    def context_dim(self) -> int:
        return self.te1_dim + self.te2_dim

    def to_dict(self) -> dict:
        d = asdict(self)
        d["vae_dims"] = list(self.vae_dims)
        d["unet_dims"] = list(self.unet_dims)
        return d

    @staticmethod
    def from_dict(d: dict) -> "GenConfig":
        d = dict(d)
        d["vae_dims"] = tuple(d["vae_dims"])
        d["unet_dims"] = tuple(d["unet_dims"])
        return GenConfig(**d)

    def alphas_cumprod(self) -> torch.Tensor:
        betas = torch.linspace(self.beta_start ** 0.5, self.beta_end ** 0.5, self.train_timesteps,
                               dtype=torch.float64) ** 2
        return torch.cumprod(1.0 - betas, dim=0)


# ----------------------------------------------------------------- text encoders (CLIP-like, causal)

class Attention(nn.Module):
    """Multi-head attention written out (torch's fused fast path does not export to ONNX)."""

    def __init__(self, dim: int, heads: int, kv_dim: int = 0):
        super().__init__()
        self.h = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(kv_dim or dim, dim)
        self.v = nn.Linear(kv_dim or dim, dim)
        self.o = nn.Linear(dim, dim)

    def forward(self, x, ctx=None, mask=None):
        ctx = x if ctx is None else ctx
        b, t, c = x.shape
        dh = c // self.h
        q = self.q(x).reshape(b, t, self.h, dh).transpose(1, 2)
        k = self.k(ctx).reshape(b, ctx.shape[1], self.h, dh).transpose(1, 2)
        v = self.v(ctx).reshape(b, ctx.shape[1], self.h, dh).transpose(1, 2)
        s = q @ k.transpose(-1, -2) / math.sqrt(dh)
        if mask is not None:
            s = s + mask
        return self.o((torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(b, t, c))


class TextBlock(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x, causal):
        x = x + self.attn(self.ln1(x), mask=causal)
        return x + self.mlp(self.ln2(x))


class TextEncoder(nn.Module):
    """Token and position embeddings, causal transformer blocks, final LayerNorm. Returns the
    penultimate block's hidden states (what SDXL reads) and, with `pooled`, the final-normed state at
    the end-of-text token projected: SDXL's `text_embeds`."""

    def __init__(self, cfg: GenConfig, dim: int, eos_id: int, pooled: bool):
        super().__init__()
        self.eos_id = eos_id
        self.tok = nn.Embedding(cfg.vocab_size, dim)
        self.pos = nn.Parameter(torch.randn(1, cfg.text_len, dim) * 0.02)
        self.blocks = nn.ModuleList(TextBlock(dim, cfg.te_heads) for _ in range(cfg.te_layers + 1))
        self.final_ln = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, dim, bias=False) if pooled else None
        mask = torch.full((cfg.text_len, cfg.text_len), float("-inf")).triu(1)
        self.register_buffer("causal", mask, persistent=False)

    def forward(self, ids):
        x = self.tok(ids) + self.pos[:, :ids.shape[1]]
        causal = self.causal[:ids.shape[1], :ids.shape[1]]
        states = []
        for blk in self.blocks:
            x = blk(x, causal)
            states.append(x)
        hidden = states[-2]
        if self.proj is None:
            return hidden
        # the first end-of-text token of each row (CLIP pools there)
        is_eos = (ids == self.eos_id).long()
        idx = torch.argmax(is_eos, dim=1)
        last = self.final_ln(x)
        pooled = last[torch.arange(ids.shape[0]), idx]
        return hidden, self.proj(pooled)


# ----------------------------------------------------------------- UNet

def timestep_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of a (b,) or (b, k) float tensor, as diffusers' `get_timestep_embedding`
    with flip_sin_to_cos and shift 0 (SDXL's setting): (..., dim) = [cos, sin]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float().unsqueeze(-1) * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb: int):
        super().__init__()
        self.n1 = nn.GroupNorm(8, cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.e = nn.Linear(emb, cout)
        self.n2 = nn.GroupNorm(8, cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.c1(F.silu(self.n1(x)))
        h = h + self.e(F.silu(emb))[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


class CrossAttention(nn.Module):
    """Self-attention over the latent positions, then cross-attention to the prompt embeddings."""

    def __init__(self, dim: int, context: int, heads: int = 4):
        super().__init__()
        self.norm = nn.GroupNorm(8, dim)
        self.ln1 = nn.LayerNorm(dim)
        self.self_attn = Attention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.cross = Attention(dim, heads, kv_dim=context)
        self.ln3 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x, ctx):
        b, c, h, w = x.shape
        y = self.norm(x).flatten(2).transpose(1, 2)
        y = y + self.self_attn(self.ln1(y))
        y = y + self.cross(self.ln2(y), ctx)
        y = y + self.ff(self.ln3(y))
        return x + y.transpose(1, 2).reshape(b, c, h, w)


class TinyUNet(nn.Module):
    def __init__(self, cfg: GenConfig):
        super().__init__()
        self.cfg = cfg
        d0, d1 = cfg.unet_dims
        e = cfg.time_dim
        self.time_mlp = nn.Sequential(nn.Linear(d0, e), nn.SiLU(), nn.Linear(e, e))
        self.add_mlp = nn.Sequential(nn.Linear(cfg.te2_dim + 6 * cfg.time_id_dim, e), nn.SiLU(), nn.Linear(e, e))
        self.conv_in = nn.Conv2d(cfg.latent_channels, d0, 3, padding=1)
        # a learnt position map: a 12 x 12 latent with zero padding alone says too little about where
        # "the top left" is for a net this small
        self.pos = nn.Parameter(torch.zeros(1, d0, cfg.latent, cfg.latent))
        ctx = cfg.context_dim
        self.down1 = ResBlock(d0, d0, e); self.attn1 = CrossAttention(d0, ctx)
        self.downsample = nn.Conv2d(d0, d0, 3, stride=2, padding=1)
        self.down2 = ResBlock(d0, d1, e); self.attn2 = CrossAttention(d1, ctx)
        self.mid1 = ResBlock(d1, d1, e); self.mid_attn = CrossAttention(d1, ctx); self.mid2 = ResBlock(d1, d1, e)
        self.up2 = ResBlock(2 * d1, d1, e); self.attn_up2 = CrossAttention(d1, ctx)
        self.upsample = nn.Conv2d(d1, d1, 3, padding=1)
        self.up1 = ResBlock(d1 + d0, d0, e); self.attn_up1 = CrossAttention(d0, ctx)
        self.out = nn.Sequential(nn.GroupNorm(8, d0), nn.SiLU(), nn.Conv2d(d0, cfg.latent_channels, 3, padding=1))

    def forward(self, sample, timestep, encoder_hidden_states, text_embeds, time_ids):
        b = sample.shape[0]
        t = timestep.reshape(-1).expand(b) if timestep.numel() == 1 else timestep
        emb = self.time_mlp(timestep_features(t, self.cfg.unet_dims[0]))
        tid = timestep_features(time_ids, self.cfg.time_id_dim).reshape(b, -1)
        emb = emb + self.add_mlp(torch.cat([text_embeds, tid], dim=1))
        ctx = encoder_hidden_states
        h = self.conv_in(sample) + self.pos
        s1 = self.attn1(self.down1(h, emb), ctx)
        h = self.attn2(self.down2(self.downsample(s1), emb), ctx)
        s2 = h
        h = self.mid2(self.mid_attn(self.mid1(h, emb), ctx), emb)
        h = self.attn_up2(self.up2(torch.cat([h, s2], 1), emb), ctx)
        h = self.upsample(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.attn_up1(self.up1(torch.cat([h, s1], 1), emb), ctx)
        return self.out(h)


# ----------------------------------------------------------------- VAE

class VAEEncoder(nn.Module):
    def __init__(self, cfg: GenConfig):
        super().__init__()
        d = cfg.vae_dims
        layers = [nn.Conv2d(3, d[0], 3, padding=1)]
        chans = [d[0]] + list(d)
        for i in range(3):
            layers += [nn.GroupNorm(8, chans[i]), nn.SiLU(), nn.Conv2d(chans[i], chans[i + 1], 4, 2, 1)]
        layers += [nn.GroupNorm(8, d[-1]), nn.SiLU(), nn.Conv2d(d[-1], 2 * cfg.latent_channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        mean, logvar = self.net(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30, 20)


class VAEDecoder(nn.Module):
    def __init__(self, cfg: GenConfig):
        super().__init__()
        d = list(reversed(cfg.vae_dims))
        layers = [nn.Conv2d(cfg.latent_channels, d[0], 3, padding=1)]
        chans = d + [d[-1]]
        for i in range(3):
            layers += [nn.GroupNorm(8, chans[i]), nn.SiLU(), nn.Upsample(scale_factor=2.0, mode="nearest"),
                       nn.Conv2d(chans[i], chans[i + 1], 3, padding=1)]
        layers += [nn.GroupNorm(8, d[-1]), nn.SiLU(), nn.Conv2d(d[-1], 3, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


class TinyGen(nn.Module):
    def __init__(self, cfg: GenConfig, eos_id: int):
        super().__init__()
        self.cfg = cfg
        self.text_encoder = TextEncoder(cfg, cfg.te1_dim, eos_id, pooled=False)
        self.text_encoder_2 = TextEncoder(cfg, cfg.te2_dim, eos_id, pooled=True)
        self.unet = TinyUNet(cfg)
        self.vae_encoder = VAEEncoder(cfg)
        self.vae_decoder = VAEDecoder(cfg)

    def encode_prompt(self, ids):
        h1 = self.text_encoder(ids)
        h2, pooled = self.text_encoder_2(ids)
        return torch.cat([h1, h2], dim=-1), pooled
