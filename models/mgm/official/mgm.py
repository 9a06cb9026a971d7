"""Mini-Gemini as released: two vision towers, patch info mining, the projector and the LM, under the
state-dict names of the official MGM*ForCausalLM, with loading from the released folders.

A released model is three folders: the MGM folder (config.json and the LM, projector and mining
weights) and the two tower folders its config names in mm_vision_tower (openai CLIP) and
mm_vision_tower_aux (OpenCLIP ConvNeXt), which the official code loads separately. The MGM folder
may also carry copies of the tower weights (the trainer saves the whole module); like the official
loader, the CLIP copy is ignored and the ConvNeXt copy is used only when optimize_vision_tower_aux
says the aux tower was trained.
"""
from __future__ import annotations

import contextlib
import math
import os
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import checkpoint, clip, convnext
from .checkpoint import Tensors
from .lm import CausalLMHead, DecoderModel, LMConfig

IMAGE_TOKEN_INDEX = -200  # the placeholder id the official prompt code puts where the image goes
CLIP_PREFIX = "model.vision_tower.vision_tower."
AUX_PREFIX = "model.vision_tower_aux."


@dataclass
class MMConfig:
    """The multimodal keys of an MGM config.json."""
    mm_vision_tower: str
    mm_vision_tower_aux: str
    mm_hidden_size: int
    mm_hidden_size_aux: int
    mm_projector_type: str = "mlp2x_gelu"
    mm_vision_select_layer: int = -2
    mm_vision_select_feature: str = "patch"
    image_size_aux: int = 768
    optimize_vision_tower_aux: bool = False
    tokenizer_model_max_length: Optional[int] = None
    tokenizer_padding_side: str = "right"
    # the HD variants (MGM-*-HD): the CLIP side sees image_grid x image_grid tiles of the image at
    # image_grid times the CLIP size plus, with image_global, the whole image at the CLIP size
    image_grid: int = 1
    image_global: bool = False

    @property
    def hd(self) -> bool:
        return self.image_grid > 1

    @staticmethod
    def from_hf(config: dict) -> "MMConfig":
        grid = config.get("image_grid")
        grid = 1 if grid is None else grid
        glob = bool(config.get("image_global") or False)
        if (grid, glob) not in ((1, False), (2, True)):
            # the released models are plain (1, false) or HD (2, true); the official encode_images
            # fails on image_global without a grid, and a grid without the global view was never
            # released (nor can the Java runtime serve it)
            raise NotImplementedError(
                f"image_grid={config.get('image_grid')!r} with image_global={config.get('image_global')!r}: "
                "only image_grid 1 without image_global or image_grid 2 with image_global true (MGM-*-HD) "
                "are supported")
        if config.get("mm_use_im_start_end"):
            raise NotImplementedError("mm_use_im_start_end")
        names = MMConfig.__dataclass_fields__
        fields = {k: config[k] for k in names if k in config}
        fields.update(image_grid=grid, image_global=glob)
        return MMConfig(**fields)


def build_projector(kind: str, in_dim: int, out_dim: int) -> nn.Module:
    if kind == "linear":
        return nn.Linear(in_dim, out_dim)
    if kind == "identity":
        return nn.Identity()
    m = re.fullmatch(r"mlp(\d+)x_gelu", kind)
    if not m:
        raise ValueError(f"mm_projector_type {kind!r}")
    # Linear, then (GELU, Linear) per extra layer: mlp2x_gelu's weights are indices 0 and 2
    mods: List[nn.Module] = [nn.Linear(in_dim, out_dim)]
    for _ in range(int(m.group(1)) - 1):
        mods += [nn.GELU(), nn.Linear(out_dim, out_dim)]
    return nn.Sequential(*mods)


def norm_linear(in_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, out_dim))


def hr_windows(hr: torch.Tensor, grid: int) -> torch.Tensor:
    """[B, C, H, W] -> [B, grid*grid, (H/grid)*(W/grid), C]: the HR cells under each LR patch,
    LR patches in row-major order like the CLIP tokens."""
    b, c, h, w = hr.shape
    if h % grid or w % grid:
        raise ValueError(f"HR map {h}x{w} does not divide into a {grid}x{grid} grid")
    sh, sw = h // grid, w // grid
    x = hr.view(b, c, grid, sh, grid, sw).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, grid * grid, sh * sw, c)


class MGMModel(DecoderModel):
    """The `model.` part: the LM's layers plus the vision towers, projector and mining modules."""

    def __init__(self, lm: LMConfig, mm: MMConfig, clip_cfg: clip.CLIPVisionConfig,
                 cnx_cfg: convnext.ConvNeXtConfig):
        super().__init__(lm)
        if clip_cfg.hidden_size != mm.mm_hidden_size:
            raise ValueError(f"mm_hidden_size {mm.mm_hidden_size} but the CLIP tower is "
                             f"{clip_cfg.hidden_size} wide")
        if cnx_cfg.hidden_size != mm.mm_hidden_size_aux:
            raise ValueError(f"mm_hidden_size_aux {mm.mm_hidden_size_aux} but the ConvNeXt stages "
                             f"concatenate to {cnx_cfg.hidden_size}")
        d, d_aux = mm.mm_hidden_size, mm.mm_hidden_size_aux
        self.mm_config = mm
        self.vision_tower = clip.CLIPVisionTower(clip_cfg, mm.mm_vision_select_layer,
                                                 mm.mm_vision_select_feature)
        self.vision_tower_aux = convnext.ConvNeXtTower(cnx_cfg)
        self.mm_projector = build_projector(mm.mm_projector_type, d, lm.hidden_size)
        self.vlm_uni_query_projector = norm_linear(d, d)
        self.vlm_uni_aux_projector = norm_linear(d_aux, d)
        self.vlm_uni_val_projector = norm_linear(d_aux, d)

    def mine(self, lr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        """Patch info mining: each LR token attends over the HR cells inside its own patch and the
        result is added to it. lr [B, N, D] with N a square; hr [B, C_aux, H, W]."""
        grid = math.isqrt(lr.shape[1])
        if grid * grid != lr.shape[1]:
            raise ValueError(f"{lr.shape[1]} LR tokens do not form a square grid")
        cand = hr_windows(hr.to(lr.dtype), grid)
        q = self.vlm_uni_query_projector(lr)
        k = self.vlm_uni_aux_projector(cand)
        v = self.vlm_uni_val_projector(cand)
        scores = torch.einsum("bnd,bnmd->bnm", q, k) / math.sqrt(k.shape[-1])
        # half-precision overflow turns into NaN here; zeroing it keeps one bad cell from poisoning
        # the token, as the official code does
        weights = scores.nan_to_num().softmax(-1)
        return lr + torch.einsum("bnm,bnmd->bnd", weights, v)

    def encode_images(self, images: torch.Tensor, images_aux: torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] and [B, 3, S_aux, S_aux] -> visual tokens [B, N, hidden_size].

        HD (image_grid g > 1): images is [B, g*g + 1, 3, S, S] as the official serving code stacks
        it, the g x g tiles row-major and then the global view, and the result is [B, (g*g + 1) N,
        hidden_size] in the official order: the global view's tokens, then each tile's. The ConvNeXt
        runs once on the aux image; the global view mines that map resized bilinearly by 1/g, each
        tile mines its own g x g tile of it (mgm_arch.py encode_images)."""
        g = self.mm_config.image_grid
        if g <= 1:
            lr = self.vision_tower(images)
            hr = self.vision_tower_aux(images_aux)
            return self.mm_projector(self.mine(lr, hr.to(lr.dtype)))
        views = g * g + (1 if self.mm_config.image_global else 0)
        if images.dim() != 5 or images.shape[1] != views:
            raise ValueError(f"HD images: expected [B, {views}, 3, S, S] (the {g}x{g} tiles, then the "
                             f"global view), got {list(images.shape)}")
        b = images.shape[0]
        lr = self.vision_tower(images.flatten(0, 1))                     # [B*views, N, C]
        lr = lr.view(b, views, *lr.shape[1:])
        hr = self.vision_tower_aux(images_aux).to(lr.dtype)             # [B, C_aux, H, W]
        c, h, w = hr.shape[1:]
        if h % g or w % g:
            raise ValueError(f"HR map {h}x{w} does not divide into the {g}x{g} HD grid")
        tiles = hr.reshape(b, c, g, h // g, g, w // g).permute(0, 2, 4, 1, 3, 5)
        tiles = tiles.reshape(b * g * g, c, h // g, w // g)
        mined = self.mine(lr[:, :g * g].flatten(0, 1), tiles).view(b, g * g * lr.shape[2], -1)
        if self.mm_config.image_global:
            # the official code resizes in float32 and casts back
            hr_global = F.interpolate(hr.float(), scale_factor=1 / g, mode="bilinear",
                                      align_corners=False).to(hr.dtype)
            mined = torch.cat([self.mine(lr[:, -1], hr_global), mined], dim=1)
        return self.mm_projector(mined)


class MGMForCausalLM(nn.Module):
    def __init__(self, lm: LMConfig, mm: MMConfig, clip_cfg: clip.CLIPVisionConfig,
                 cnx_cfg: convnext.ConvNeXtConfig):
        super().__init__()
        self.model = MGMModel(lm, mm, clip_cfg, cnx_cfg)
        self.lm_head = CausalLMHead(lm)

    @property
    def lm_config(self) -> LMConfig:
        return self.model.lm_config

    def splice(self, input_ids: torch.Tensor, image_features: torch.Tensor,
               attention_mask: Optional[torch.Tensor] = None
               ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Replaces each IMAGE_TOKEN_INDEX by the next image's visual tokens and re-pads the batch.

        Returns inputs_embeds [B, T', D], attention_mask [B, T'] and position_ids [B, T'] (counting
        from 0 over each row's real positions). Images are taken in order, one per placeholder,
        and a row without a placeholder still uses up one image, because the official batching
        pairs every row with an image."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids, dtype=torch.bool)
        embed = self.model.embed_tokens
        rows, next_image = [], 0
        for ids in (r[m.bool()] for r, m in zip(input_ids, attention_mask)):
            at = (ids == IMAGE_TOKEN_INDEX).nonzero().flatten().tolist()
            if not at:
                rows.append(embed(ids))
                next_image += 1
                continue
            parts, start = [], 0
            for pos in at:
                parts += [embed(ids[start:pos]), image_features[next_image].to(embed.weight.dtype)]
                next_image += 1
                start = pos + 1
            parts.append(embed(ids[start:]))
            rows.append(torch.cat(parts))
        limit = self.model.mm_config.tokenizer_model_max_length
        if limit:
            rows = [r[:limit] for r in rows]
        return _pad(rows, self.model.mm_config.tokenizer_padding_side == "left")

    def forward(self, input_ids: torch.Tensor, images: Optional[torch.Tensor] = None,
                images_aux: Optional[torch.Tensor] = None,
                attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits [B, T', vocab] for the prompt with its images spliced in (text only without)."""
        if images is None:
            return self.logits(self.model.embed_tokens(input_ids), attention_mask)
        feats = self.model.encode_images(images, images_aux)
        embeds, mask, positions = self.splice(input_ids, feats, attention_mask)
        return self.logits(embeds, mask, positions)

    def logits(self, inputs_embeds, attention_mask=None, position_ids=None) -> torch.Tensor:
        hidden = self.model.decode(inputs_embeds, attention_mask, position_ids)
        return self.lm_head(hidden, self.model.embed_tokens)


def _pad(rows: Sequence[torch.Tensor], left: bool):
    width = max(r.shape[0] for r in rows)
    b, d = len(rows), rows[0].shape[1]
    embeds = rows[0].new_zeros(b, width, d)
    mask = torch.zeros(b, width, dtype=torch.bool)
    positions = torch.zeros(b, width, dtype=torch.long)
    for i, r in enumerate(rows):
        n = r.shape[0]
        span = slice(width - n, width) if left else slice(0, n)
        embeds[i, span], mask[i, span] = r, True
        positions[i, span] = torch.arange(n)
    return embeds, mask, positions


# ------------------------------------------------------------------------------ loading

@dataclass
class ReleasedFolders:
    mgm: str
    clip: str
    aux: str


def resolve_towers(mgm_folder: str, tower_root: Optional[str] = None) -> ReleasedFolders:
    """Finds the tower folders a config names. Released configs hold paths relative to the
    training checkout (model_zoo/OpenAI/...), so relative paths are tried under tower_root, then
    the MGM folder's parent, then the working directory."""
    cfg = checkpoint.read_config(mgm_folder)
    roots = [r for r in (tower_root, os.path.dirname(os.path.abspath(mgm_folder)), os.getcwd()) if r]

    def find(path: str) -> str:
        candidates = [path] if os.path.isabs(path) else [os.path.join(r, path) for r in roots]
        for c in candidates:
            if os.path.isdir(c):
                return c
        raise FileNotFoundError(f"tower folder {path} not found (tried {', '.join(candidates)})")

    return ReleasedFolders(mgm_folder, find(cfg["mm_vision_tower"]), find(cfg["mm_vision_tower_aux"]))


def assemble_state_dict(folders: ReleasedFolders) -> Tuple[Tensors, dict, clip.CLIPVisionConfig,
                                                           convnext.ConvNeXtConfig]:
    """The full state dict of MGMForCausalLM out of the three folders, plus the configs."""
    cfg = checkpoint.read_config(folders.mgm)
    mm = MMConfig.from_hf(cfg)
    clip_cfg = clip.CLIPVisionConfig.from_hf(checkpoint.read_config(folders.clip))
    clip_sd = clip.tower_state_dict(checkpoint.load_state_dict(folders.clip))
    trunk = convnext.trunk_state_dict(checkpoint.load_state_dict(folders.aux))
    cnx_cfg = convnext.ConvNeXtConfig.from_state_dict(trunk)
    aux_sd = convnext.tower_names(trunk)

    main = checkpoint.load_state_dict(folders.mgm)
    aux_copy = {k[len(AUX_PREFIX):]: v for k, v in main.items() if k.startswith(AUX_PREFIX)}
    state = {k: v for k, v in main.items()
             if not k.startswith((CLIP_PREFIX, AUX_PREFIX)) and not k.endswith("rotary_emb.inv_freq")}
    if LMConfig.from_hf(cfg).tie_word_embeddings:
        state.pop("lm_head.weight", None)  # a tied head may still have been saved
    state.update({CLIP_PREFIX + k: v for k, v in clip_sd.items()})
    if mm.optimize_vision_tower_aux and aux_copy:
        aux_sd = {**aux_sd, **aux_copy}  # the trained stages replace the OpenCLIP ones
    state.update({AUX_PREFIX + k: v for k, v in aux_sd.items()})
    return state, cfg, clip_cfg, cnx_cfg


@contextlib.contextmanager
def uninitialised(dtype: torch.dtype):
    """Modules built inside get parameters of `dtype` with whatever memory held: a strict load
    overwrites every one, and initialising billions of weights first would take minutes on a CPU
    and, in float32, twice the memory of a half-precision checkpoint."""
    names = ("kaiming_uniform_", "uniform_", "normal_", "zeros_", "ones_")
    saved = {n: getattr(nn.init, n) for n in names}
    previous = torch.get_default_dtype()
    try:
        torch.set_default_dtype(dtype)
        for n in names:
            setattr(nn.init, n, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        torch.set_default_dtype(previous)
        for n, fn in saved.items():
            setattr(nn.init, n, fn)


def load_released(mgm_folder: str, tower_root: Optional[str] = None,
                  dtype: torch.dtype = torch.float32) -> MGMForCausalLM:
    """Builds MGMForCausalLM in `dtype` from a released folder layout and loads it with
    strict=True, so a key the checkpoint lacks or a name this code does not define is an error,
    not a random weight."""
    folders = resolve_towers(mgm_folder, tower_root)
    state, cfg, clip_cfg, cnx_cfg = assemble_state_dict(folders)
    with uninitialised(dtype):
        model = MGMForCausalLM(LMConfig.from_hf(cfg), MMConfig.from_hf(cfg), clip_cfg, cnx_cfg)
    model.load_state_dict(state, strict=True)
    return model.eval()
