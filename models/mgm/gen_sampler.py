"""The reference sampler for mgm-gen-tiny, written so that the Java generation stage can match it.

Three things have to agree bit for bit (or nearly) between here and Java:
- the initial noise: a counter-based generator (SplitMix64 over seed + counter, Box-Muller in double
  precision), not torch's, because Java cannot reproduce torch's generator;
- the schedule: diffusers' EulerDiscreteScheduler as SDXL configures it ("scaled_linear" betas,
  "leading" timestep spacing with steps_offset 1, epsilon prediction);
- classifier-free guidance: eps = eps_negative + scale * (eps_prompt - eps_negative).
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np
import torch

from .diffusion import GenConfig, TinyGen

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(GOLDEN_GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def normal_noise(seed: int, shape: Sequence[int]) -> np.ndarray:
    """Standard normal float32 noise: value k comes from the SplitMix64 outputs for counters 2j and
    2j + 1 (j = k // 2) of state seed + counter * golden gamma; even k takes the cosine branch."""
    n = int(np.prod(shape))
    pairs = (n + 1) // 2
    with np.errstate(over="ignore"):
        counters = np.arange(2 * pairs, dtype=np.uint64)
        states = np.uint64(seed & MASK64) + counters * np.uint64(GOLDEN_GAMMA)
    z = _splitmix64(states)
    u = ((z >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / (1 << 53))
    u1, u2 = u[0::2], u[1::2]
    r = np.sqrt(-2.0 * np.log(u1))
    out = np.empty(2 * pairs, dtype=np.float64)
    out[0::2] = r * np.cos(2.0 * np.pi * u2)
    out[1::2] = r * np.sin(2.0 * np.pi * u2)
    return out[:n].astype(np.float32).reshape(shape)


def euler_schedule(cfg: GenConfig, steps: int, steps_offset: int = 1):
    """(timesteps, sigmas) for `steps` Euler steps; sigmas has one more entry, the final 0."""
    ac = cfg.alphas_cumprod().numpy()
    full = np.sqrt((1.0 - ac) / ac)
    ratio = cfg.train_timesteps // steps
    timesteps = (np.arange(0, steps) * ratio).round()[::-1].astype(np.float64) + steps_offset
    sigmas = np.interp(timesteps, np.arange(len(full)), full)
    return timesteps.astype(np.float32), np.concatenate([sigmas, [0.0]]).astype(np.float32)


def time_ids(cfg: GenConfig, batch: int) -> torch.Tensor:
    s = float(cfg.image)
    return torch.tensor([[s, s, 0.0, 0.0, s, s]]).expand(batch, 6).contiguous()


@torch.no_grad()
def sample(model: TinyGen, prompt_ids: torch.Tensor, negative_ids: torch.Tensor, seeds: List[int],
           steps: int = 20, guidance: float = 5.0) -> np.ndarray:
    """(b, L) prompt ids and negative ids -> (b, H, W, 3) uint8 images."""
    cfg = model.cfg
    b = prompt_ids.shape[0]
    ctx_p, pool_p = model.encode_prompt(prompt_ids)
    ctx_n, pool_n = model.encode_prompt(negative_ids)
    ctx = torch.cat([ctx_n, ctx_p]); pooled = torch.cat([pool_n, pool_p]); tids = time_ids(cfg, 2 * b)
    timesteps, sigmas = euler_schedule(cfg, steps)
    shape = (cfg.latent_channels, cfg.latent, cfg.latent)
    x = torch.from_numpy(np.stack([normal_noise(s, shape) for s in seeds]))
    x = x * float(np.sqrt(sigmas.max() ** 2 + 1.0))
    for i, t in enumerate(timesteps):
        sigma = float(sigmas[i])
        x_in = x / float(np.sqrt(sigma ** 2 + 1.0))
        eps = model.unet(torch.cat([x_in, x_in]), torch.full((2 * b,), float(t)), ctx, pooled, tids)
        eps_n, eps_p = eps[:b], eps[b:]
        eps = eps_n + guidance * (eps_p - eps_n)
        x = x + (float(sigmas[i + 1]) - sigma) * eps
    img = model.vae_decoder(x / cfg.scaling_factor)
    return to_uint8(img)


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """(b, 3, H, W) in [-1, 1] -> (b, H, W, 3) uint8, rounding half up as the Java side does."""
    x = ((img / 2 + 0.5).clamp(0, 1) * 255.0 + 0.5).floor()
    return x.permute(0, 2, 3, 1).to(torch.uint8).numpy()
