"""The HR (aux) tower: the ConvNeXt trunk of OpenCLIP's convnext_large_d_320, as MGM uses it.

MGM keeps only the trunk's stem and its four stages (the head, the final norm and the text tower of
the OpenCLIP file are unused), runs an image of image_size_aux, and returns every stage's output
resized bilinearly to stage 0's grid and concatenated on channels: for ConvNeXt-L at 768 that is
192 + 384 + 768 + 1536 = 2880 channels at 192 x 192. Block and stage names follow timm, which
OpenCLIP wraps, so the weights load under MGM's names model.vision_tower_aux.vision_stem.* and
model.vision_tower_aux.vision_stages.*.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import Tensors

TRUNK = "visual.trunk."


@dataclass
class ConvNeXtConfig:
    dims: Tuple[int, ...] = (192, 384, 768, 1536)
    depths: Tuple[int, ...] = (3, 3, 27, 3)
    stem_patch: int = 4
    kernel_size: int = 7
    eps: float = 1e-6

    @property
    def hidden_size(self) -> int:
        return sum(self.dims)

    @staticmethod
    def from_state_dict(trunk: Tensors) -> "ConvNeXtConfig":
        """Reads the widths and depths off the weights: OpenCLIP's config names a timm model
        ('convnext_large') rather than listing them, and a scaled-down test tower shares the name."""
        n_stages = 1 + max(int(m.group(1)) for k in trunk
                           if (m := re.match(r"stages\.(\d+)\.", k)))
        dims, depths = [], []
        for s in range(n_stages):
            dims.append(trunk[f"stages.{s}.blocks.0.conv_dw.weight"].shape[0])
            depths.append(1 + max(int(m.group(1)) for k in trunk
                                  if (m := re.match(rf"stages\.{s}\.blocks\.(\d+)\.", k))))
        stem = trunk["stem.0.weight"]
        return ConvNeXtConfig(dims=tuple(dims), depths=tuple(depths), stem_patch=stem.shape[-1],
                              kernel_size=trunk["stages.0.blocks.0.conv_dw.weight"].shape[-1])


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW map."""

    def forward(self, x):
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                            self.eps).permute(0, 3, 1, 2)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, cfg: ConvNeXtConfig):
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, cfg.kernel_size, padding=cfg.kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=cfg.eps)
        self.mlp = Mlp(dim, 4 * dim)
        self.gamma = nn.Parameter(torch.ones(dim))  # layer scale

    def forward(self, x):
        y = self.conv_dw(x).permute(0, 2, 3, 1)  # the norm and MLP work channels-last
        y = self.mlp(self.norm(y)) * self.gamma
        return x + y.permute(0, 3, 1, 2)


class ConvNeXtStage(nn.Module):
    def __init__(self, in_dim: int, dim: int, depth: int, cfg: ConvNeXtConfig, first: bool):
        super().__init__()
        # the stem already reduced by stem_patch, so the first stage keeps its resolution
        self.downsample = (nn.Identity() if first else
                           nn.Sequential(LayerNorm2d(in_dim, eps=cfg.eps),
                                         nn.Conv2d(in_dim, dim, kernel_size=2, stride=2)))
        self.blocks = nn.Sequential(*(ConvNeXtBlock(dim, cfg) for _ in range(depth)))

    def forward(self, x):
        return self.blocks(self.downsample(x))


class ConvNeXtTower(nn.Module):
    def __init__(self, cfg: ConvNeXtConfig):
        super().__init__()
        self.config = cfg
        d0 = cfg.dims[0]
        self.vision_stem = nn.Sequential(
            nn.Conv2d(3, d0, kernel_size=cfg.stem_patch, stride=cfg.stem_patch),
            LayerNorm2d(d0, eps=cfg.eps))
        ins = (d0,) + tuple(cfg.dims[:-1])
        self.vision_stages = nn.Sequential(*(
            ConvNeXtStage(i, d, n, cfg, first=(s == 0))
            for s, (i, d, n) in enumerate(zip(ins, cfg.dims, cfg.depths))))

    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    def stage_outputs(self, images: torch.Tensor) -> List[torch.Tensor]:
        x = self.vision_stem(images.to(self.vision_stem[0].weight.dtype))
        outs = []
        for stage in self.vision_stages:
            x = stage(x)
            outs.append(x)
        return outs

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        outs = self.stage_outputs(images)
        size = outs[0].shape[-2:]
        # resizing runs in float32 because half-precision bilinear kernels are missing on some CPUs
        resized = [outs[0]] + [F.interpolate(o.float(), size=size, mode="bilinear",
                                             align_corners=False).to(o.dtype) for o in outs[1:]]
        return torch.cat(resized, dim=1)


def trunk_state_dict(full: Tensors) -> Tensors:
    """stem.* and stages.* of the trunk out of an OpenCLIP state dict, prefix removed."""
    return {k[len(TRUNK):]: v for k, v in full.items()
            if k.startswith(TRUNK + "stem.") or k.startswith(TRUNK + "stages.")}


def tower_names(trunk: Tensors) -> Tensors:
    """Trunk keys (stem.*, stages.*) renamed to ConvNeXtTower's (vision_stem.*, vision_stages.*)."""
    return {"vision_" + k: v for k, v in trunk.items()}
