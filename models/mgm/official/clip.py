"""The LR tower: CLIP ViT-L/14-336 in the module layout of Hugging Face's CLIPVisionModel.

Only the layout (parameter names and shapes) and the arithmetic matter: the weights come from the
openai/clip-vit-large-patch14-336 folder, whose file also holds the text tower; those keys are
skipped by tower_state_dict.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import Tensors


@dataclass
class CLIPVisionConfig:
    hidden_size: int = 1024
    intermediate_size: int = 4096
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    image_size: int = 336
    patch_size: int = 14
    num_channels: int = 3
    layer_norm_eps: float = 1e-5
    hidden_act: str = "quick_gelu"

    @staticmethod
    def from_hf(config: dict) -> "CLIPVisionConfig":
        # the released folder holds a full CLIPConfig; the vision part sits under vision_config
        d = config.get("vision_config", config)
        defaults = CLIPVisionConfig()
        kw = {k: d.get(k, getattr(defaults, k)) for k in defaults.__dict__}
        return CLIPVisionConfig(**kw)

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


def _activation(name: str):
    if name == "quick_gelu":
        return lambda x: x * torch.sigmoid(1.702 * x)
    if name == "gelu":
        return F.gelu
    raise NotImplementedError(f"CLIP activation {name}")


class CLIPVisionEmbeddings(nn.Module):
    def __init__(self, cfg: CLIPVisionConfig):
        super().__init__()
        self.class_embedding = nn.Parameter(torch.zeros(cfg.hidden_size))
        self.patch_embedding = nn.Conv2d(cfg.num_channels, cfg.hidden_size, cfg.patch_size,
                                         stride=cfg.patch_size, bias=False)
        self.position_embedding = nn.Embedding(cfg.num_patches + 1, cfg.hidden_size)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        patches = self.patch_embedding(pixel_values.to(self.patch_embedding.weight.dtype))
        patches = patches.flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(patches.shape[0], 1, -1)
        x = torch.cat([cls, patches], dim=1)
        return x + self.position_embedding.weight[: x.shape[1]]


class CLIPAttention(nn.Module):
    def __init__(self, cfg: CLIPVisionConfig):
        super().__init__()
        d = cfg.hidden_size
        self.heads = cfg.num_attention_heads
        self.q_proj, self.k_proj = nn.Linear(d, d), nn.Linear(d, d)
        self.v_proj, self.out_proj = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        split = lambda t: t.view(b, n, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        att = (q @ k.transpose(-1, -2)) * (d // self.heads) ** -0.5
        out = att.softmax(-1) @ v  # no mask: every patch sees every patch
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class CLIPMLP(nn.Module):
    def __init__(self, cfg: CLIPVisionConfig):
        super().__init__()
        self.fc1 = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.fc2 = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.act = _activation(cfg.hidden_act)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class CLIPEncoderLayer(nn.Module):
    def __init__(self, cfg: CLIPVisionConfig):
        super().__init__()
        self.self_attn = CLIPAttention(cfg)
        self.layer_norm1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.mlp = CLIPMLP(cfg)
        self.layer_norm2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class CLIPEncoder(nn.Module):
    def __init__(self, cfg: CLIPVisionConfig):
        super().__init__()
        self.layers = nn.ModuleList(CLIPEncoderLayer(cfg) for _ in range(cfg.num_hidden_layers))


class CLIPVisionTransformer(nn.Module):
    def __init__(self, cfg: CLIPVisionConfig):
        super().__init__()
        self.embeddings = CLIPVisionEmbeddings(cfg)
        # "layrnorm" is the upstream spelling, kept because it is the state-dict name
        self.pre_layrnorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.encoder = CLIPEncoder(cfg)
        self.post_layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def hidden_states(self, pixel_values: torch.Tensor, n_layers: int):
        """[embeddings, after layer 1, ..., after layer n_layers], as output_hidden_states counts."""
        x = self.pre_layrnorm(self.embeddings(pixel_values))
        states = [x]
        for layer in self.encoder.layers[:n_layers]:
            x = layer(x)
            states.append(x)
        return states


class CLIPVisionModel(nn.Module):
    def __init__(self, cfg: CLIPVisionConfig):
        super().__init__()
        self.config = cfg
        self.vision_model = CLIPVisionTransformer(cfg)


class CLIPVisionTower(nn.Module):
    """MGM's wrapper: its attribute `vision_tower` is the CLIPVisionModel, which is why the MGM
    state dict names these weights model.vision_tower.vision_tower.vision_model.*."""

    def __init__(self, cfg: CLIPVisionConfig, select_layer: int = -2, select_feature: str = "patch"):
        super().__init__()
        if select_feature not in ("patch", "cls_patch"):
            raise ValueError(f"mm_vision_select_feature {select_feature!r}")
        self.vision_tower = CLIPVisionModel(cfg)
        self.select_layer = select_layer
        self.select_feature = select_feature

    @property
    def config(self) -> CLIPVisionConfig:
        return self.vision_tower.config

    def _layers_to_run(self) -> int:
        # hidden_states has num_hidden_layers + 1 entries; a negative index counts from its end,
        # and everything after the selected entry is never computed
        n = self.config.num_hidden_layers + 1
        idx = self.select_layer + n if self.select_layer < 0 else self.select_layer
        if not 0 <= idx < n:
            raise ValueError(f"mm_vision_select_layer {self.select_layer} out of range")
        return idx

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n = self._layers_to_run()
        feats = self.vision_tower.vision_model.hidden_states(images, n)[n]
        return feats[:, 1:] if self.select_feature == "patch" else feats


def tower_state_dict(full: Tensors) -> Tensors:
    """The CLIPVisionModel weights out of an openai CLIP folder's state dict (text tower, projections
    and the position_ids buffer that older transformers saved are left behind)."""
    return {k: v for k, v in full.items()
            if k.startswith("vision_model.") and not k.endswith("embeddings.position_ids")}
