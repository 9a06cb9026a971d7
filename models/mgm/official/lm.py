"""The language models MGM builds on, in Hugging Face's module layout: Gemma (MGM-2B) and LLaMA
(Vicuna for MGM-7B/13B, LLaMA-3 for MGM-8B; Yi, under MGM-34B, has LLaMA's layout but is untested).
Mixtral (MGM-8x7B) is not defined here.

Both are pre-norm decoders with RoPE; they differ in the details that change numbers:
  Gemma: RMSNorm scales by (1 + weight); GeGLU MLP; embeddings multiplied by sqrt(hidden_size);
         head_dim set independently of hidden_size; one KV head on 2B; lm_head tied to embed_tokens.
  LLaMA: RMSNorm scales by weight; SwiGLU MLP; grouped-query attention when num_key_value_heads
         is below num_attention_heads (LLaMA-3); rope_theta from the config (500000 on LLaMA-3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

# model_type values of the official configs (mgm_gemma.py, mgm_llama.py) and of the base LMs
GEMMA_TYPES = {"mgm_gemma", "gemma"}
LLAMA_TYPES = {"mgm", "llama"}
UNSUPPORTED_TYPES = {"mgm_mixtral": "Mixtral (MGM-8x7B)", "mixtral": "Mixtral",
                     "mgm_mistral": "Mistral", "mistral": "Mistral"}


@dataclass
class LMConfig:
    family: str  # "gemma" or "llama"
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    hidden_act: str
    tie_word_embeddings: bool

    @staticmethod
    def from_hf(config: dict) -> "LMConfig":
        model_type = config.get("model_type", "")
        if model_type in UNSUPPORTED_TYPES:
            raise NotImplementedError(f"{UNSUPPORTED_TYPES[model_type]} is not defined yet")
        if model_type in GEMMA_TYPES:
            family = "gemma"
        elif model_type in LLAMA_TYPES:
            family = "llama"
        else:
            raise ValueError(f"model_type {model_type!r}: expected one of "
                             f"{sorted(GEMMA_TYPES | LLAMA_TYPES)}")
        if config.get("rope_scaling"):
            # LLaMA-3.1-style scaling changes every frequency; silently ignoring it would be wrong
            raise NotImplementedError(f"rope_scaling {config['rope_scaling']}")
        if config.get("attention_bias") or config.get("mlp_bias"):
            raise NotImplementedError("biased attention or MLP projections (no MGM release has them)")
        heads = config["num_attention_heads"]
        gemma = family == "gemma"
        return LMConfig(
            family=family,
            vocab_size=config["vocab_size"],
            hidden_size=config["hidden_size"],
            intermediate_size=config["intermediate_size"],
            num_hidden_layers=config["num_hidden_layers"],
            num_attention_heads=heads,
            num_key_value_heads=config.get("num_key_value_heads") or heads,
            head_dim=config.get("head_dim") or config["hidden_size"] // heads,
            rms_norm_eps=config.get("rms_norm_eps", 1e-6),
            rope_theta=float(config.get("rope_theta", 10000.0)),
            # newer Gemma configs add hidden_activation, which transformers prefers over hidden_act
            hidden_act=config.get("hidden_activation") or config.get("hidden_act")
            or ("gelu_pytorch_tanh" if gemma else "silu"),
            tie_word_embeddings=config.get("tie_word_embeddings", gemma),
        )


def activation(name: str):
    table = {"silu": F.silu, "gelu": F.gelu,
             "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
             "gelu_new": lambda x: F.gelu(x, approximate="tanh")}
    if name not in table:
        raise NotImplementedError(f"activation {name}")
    return table[name]


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float, unit_offset: bool):
        super().__init__()
        # Gemma stores weight - 1 (initialised at zero) and scales by (1 + weight)
        self.weight = nn.Parameter(torch.zeros(dim) if unit_offset else torch.ones(dim))
        self.eps = eps
        self.unit_offset = unit_offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # normalised in float32 as both upstream models do, so half-precision weights agree
        xf = x.float()
        normed = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        if self.unit_offset:
            return (normed * (1.0 + self.weight.float())).to(x.dtype)
        return self.weight * normed.to(x.dtype)


def rope_cos_sin(positions: torch.Tensor, head_dim: int, theta: float):
    """cos and sin of shape [B, T, head_dim] in the half-split layout of HF's rotate_half."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = positions.float()[..., None] * inv_freq
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return (x.float() * cos[:, None] + rotated.float() * sin[:, None]).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        h, kv, hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        if h % kv:
            raise ValueError(f"{h} query heads cannot share {kv} KV heads evenly")
        self.q_proj = nn.Linear(cfg.hidden_size, h * hd, bias=False)
        self.k_proj = nn.Linear(cfg.hidden_size, kv * hd, bias=False)
        self.v_proj = nn.Linear(cfg.hidden_size, kv * hd, bias=False)
        self.o_proj = nn.Linear(h * hd, cfg.hidden_size, bias=False)
        self.heads, self.kv_heads, self.head_dim = h, kv, hd

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        group = self.heads // self.kv_heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        scores = scores.float().masked_fill(~mask[:, None], torch.finfo(torch.float32).min)
        out = scores.softmax(-1).to(v.dtype) @ v
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.heads * self.head_dim))


class MLP(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)
        self.act = activation(cfg.hidden_act)

    def forward(self, x):
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        gemma = cfg.family == "gemma"
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, gemma)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, gemma)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class DecoderModel(nn.Module):
    """The `model.` part of *ForCausalLM: embed_tokens, layers, norm."""

    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.lm_config = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, cfg.family == "gemma")

    def decode(self, inputs_embeds: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
               position_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Final hidden states for a whole sequence (no KV cache). attention_mask [B, T] marks real
        positions; padded ones are neither attended to nor counted in position_ids' default."""
        b, t, _ = inputs_embeds.shape
        if attention_mask is None:
            attention_mask = torch.ones(b, t, dtype=torch.bool)
        attention_mask = attention_mask.bool()
        if position_ids is None:
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        x = inputs_embeds
        if self.lm_config.family == "gemma":
            # applied to inputs_embeds, not inside the embedding lookup, so MGM's spliced visual
            # tokens are scaled too; the factor is rounded to the activations' dtype as upstream does
            x = x * torch.tensor(self.lm_config.hidden_size ** 0.5, dtype=x.dtype)
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        mask = causal[None] & attention_mask[:, None, :]
        cos, sin = rope_cos_sin(position_ids, self.lm_config.head_dim, self.lm_config.rope_theta)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.norm(x)


class CausalLMHead(nn.Module):
    """lm_head, or the embedding matrix reused when the config ties them (Gemma), in which case the
    checkpoint carries no lm_head.weight."""

    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.tied = cfg.tie_word_embeddings
        if not self.tied:
            self.weight = nn.Parameter(torch.zeros(cfg.vocab_size, cfg.hidden_size))

    def forward(self, hidden: torch.Tensor, embed: nn.Embedding) -> torch.Tensor:
        return F.linear(hidden, embed.weight if self.tied else self.weight)
