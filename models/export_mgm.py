#!/usr/bin/env python3
"""Exports a released Mini-Gemini checkpoint (the official folders) to the pipeline's ONNX split.

    models/py models/export_mgm.py --model MGM_DIR --out OUT [--dtype float16|float32]
        [--vision-tower DIR] [--vision-tower-aux DIR] [--external-data-threshold BYTES]

OUT gets lr_encoder.onnx, hr_encoder.onnx, projector.onnx (mining + mm_projector), embed_tokens.onnx,
decoder.onnx (inputs_embeds, past KV in the family's shape, last-position logits), model.json
(mgm-stream/manifest@1 plus the fields a released model needs, see models/README.md) and the
tokenizer files the MGM folder ships. A graph whose weights pass the threshold (default 2e9 bytes,
under protobuf's 2 GiB limit) keeps them in GRAPH.onnx.data beside it.

Float16: the graphs are traced in float32 (torch 1.13 has no half-precision CPU kernels to trace
with) and rewritten afterwards. The places where the official model computes in float32 under half
weights are marked in the traced graph (ToFloat32 / ToCompute below) and become Casts; every other
float tensor becomes float16, constants and weights following the op that uses them.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import warnings
from typing import Dict, List, Optional, Sequence

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mgm.official import checkpoint  # noqa: E402
from mgm.official.lm import LMConfig  # noqa: E402
from mgm.official.mgm import (IMAGE_TOKEN_INDEX, MGMForCausalLM, MMConfig, ReleasedFolders,  # noqa: E402
                              assemble_state_dict, resolve_towers, uninitialised)

OPSET = 17  # LayerNormalization as one op, which ONNX Runtime accumulates in float32 under float16
# protobuf cannot serialise 2 GiB; the margin leaves room for the graph itself beside the weights
DEFAULT_EXTERNAL_THRESHOLD = 2_000_000_000
DTYPES = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16}
MARKER_DOMAIN = "mgm.export"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json")
# conversation templates of the official conv_templates, by the names model-runtime's ChatTemplate knows
CHAT = {
    "gemma": dict(template="gemma", stop_tokens=["<end_of_turn>", "<eos>"]),
    "vicuna_v1": dict(template="vicuna_v1", stop_tokens=["</s>"]),
    "llama_3": dict(template="llama_3", stop_tokens=["<|eot_id|>", "<|end_of_text|>"]),
}


# ------------------------------------------------------------------------------ precision markers

def _marker(kind: str, doc: str):
    """An autograd Function that is the identity when run and, in the traced graph, a node of
    MARKER_DOMAIN that finalize() turns into a Cast (float16) or an Identity (float32)."""

    def forward(ctx, x):
        return x.clone()

    def symbolic(g, x):
        out = g.op(f"{MARKER_DOMAIN}::{kind}", x)
        out.setType(x.type())
        return out

    return type(kind, (torch.autograd.Function,),
                {"__doc__": doc, "forward": staticmethod(forward), "symbolic": staticmethod(symbolic)})


# the official model upcasts here (x.float()), which an all-float32 trace cannot record
ToFloat32 = _marker("ToFloat32", "an upcast to float32 in the float16 graph")
# the way back to the weights' dtype (x.to(dtype) upstream), or the cast of a float32 input
ToCompute = _marker("ToCompute", "a cast to the graph's dtype")
f32, compute = ToFloat32.apply, ToCompute.apply


# ------------------------------------------------------------------------------ the five graphs
# Each wrapper keeps the loaded MGMForCausalLM's modules under their own attribute names, so the
# exported initializers carry the official state-dict names (model.layers.0..., lm_head.weight).

class LREncoder(nn.Module):
    def __init__(self, mgm: MGMForCausalLM):
        super().__init__()
        self.model = mgm.model

    def forward(self, pixel_values):
        return self.model.vision_tower(compute(pixel_values))


class HREncoder(nn.Module):
    def __init__(self, mgm: MGMForCausalLM, side: int):
        super().__init__()
        self.model = mgm.model
        self.side = side  # stage 0's grid, fixed by the model: a constant rather than a traced shape

    def forward(self, pixel_values_hr):
        outs = self.model.vision_tower_aux.stage_outputs(compute(pixel_values_hr))
        size = [self.side, self.side]
        resized = [outs[0]] + [compute(F.interpolate(f32(o), size=size, mode="bilinear", align_corners=False))
                               for o in outs[1:]]
        return torch.cat(resized, dim=1)


class Projector(nn.Module):
    """MGMModel.mine followed by mm_projector. nan_to_num is spelled out because torch's export
    writes float32's limits as constants, which are inf in float16."""

    def __init__(self, mgm: MGMForCausalLM, half: bool, grid: int, hr_side: int):
        super().__init__()
        self.model = mgm.model
        self.limit = 65504.0 if half else float(torch.finfo(torch.float32).max)
        self.grid, self.cell = grid, hr_side // grid

    def forward(self, lr_features, hr_features):
        m = self.model
        # hr_windows, with the sizes the model fixes written as constants and only the batch traced
        g, sh = self.grid, self.cell
        ch = hr_features.shape[1]
        cand = hr_features.reshape(-1, ch, g, sh, g, sh).permute(0, 2, 4, 3, 5, 1).reshape(-1, g * g, sh * sh, ch)
        q = m.vlm_uni_query_projector(lr_features)
        k = m.vlm_uni_aux_projector(cand)
        v = m.vlm_uni_val_projector(cand)
        scores = torch.einsum("bnd,bnmd->bnm", q, k) / math.sqrt(m.vlm_uni_aux_projector[1].out_features)
        scores = torch.where(torch.isnan(scores), torch.zeros_like(scores), scores)
        weights = scores.clamp(-self.limit, self.limit).softmax(-1)
        return m.mm_projector(lr_features + torch.einsum("bnm,bnmd->bnd", weights, v))


class EmbedTokens(nn.Module):
    def __init__(self, mgm: MGMForCausalLM):
        super().__init__()
        self.model = mgm.model

    def forward(self, input_ids):
        return self.model.embed_tokens(input_ids)


def rms_norm(norm, x):
    xf = f32(x)
    normed = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + norm.eps)
    if norm.unit_offset:
        return compute(normed * (1.0 + f32(norm.weight)))
    return norm.weight * compute(normed)


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return compute(f32(x) * cos[:, None] + f32(rotated) * sin[:, None])


class Decoder(nn.Module):
    """The official decoder (mgm/official/lm.py) with a KV cache: the step's inputs_embeds [B, T, D],
    attention_mask [B, P+T] over past and new positions, position_ids [B, T], and per layer the past
    keys and values [B, kv_heads, P, head_dim] as they are after RoPE. Returns the last position's
    logits [B, 1, vocab] in float32 (a prefill's other positions are never sampled, and their logits
    would be the largest tensor of a step) and the presents [B, kv_heads, P+T, head_dim].
    Gemma's sqrt(hidden) factor is applied here to the whole spliced sequence, as the official model
    does, in the activations' dtype."""

    def __init__(self, mgm: MGMForCausalLM):
        super().__init__()
        self.model = mgm.model
        self.lm_head = mgm.lm_head
        self.cfg = cfg = mgm.lm_config
        # an initializer rather than arange in forward, which the tracer would bake in with a warning
        self.register_buffer("inv_freq", 1.0 / cfg.rope_theta ** (
            torch.arange(0, cfg.head_dim, 2, dtype=torch.float32) / cfg.head_dim), persistent=False)

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        cfg, m = self.cfg, self.model
        x = inputs_embeds
        if cfg.family == "gemma":
            x = x * cfg.hidden_size ** 0.5
        t, total = x.shape[1], attention_mask.shape[1]
        query_at = torch.arange(total - t, total)
        causal = torch.arange(total)[None, :] <= query_at[:, None]
        mask = (causal[None] & attention_mask.bool()[:, None, :])[:, None]   # [B, 1, T, P+T]
        angles = position_ids.float()[..., None] * self.inv_freq
        angles = torch.cat([angles, angles], dim=-1)
        cos, sin = angles.cos(), angles.sin()
        presents = []
        for i, layer in enumerate(m.layers):
            h = rms_norm(layer.input_layernorm, x)
            attn, kv = self.attention(layer.self_attn, h, cos, sin, mask, past[2 * i], past[2 * i + 1])
            presents += kv
            x = x + attn
            x = x + layer.mlp(rms_norm(layer.post_attention_layernorm, x))
        last = rms_norm(m.norm, x[:, -1:])
        weight = m.embed_tokens.weight if self.lm_head.tied else self.lm_head.weight
        return (f32(F.linear(last, weight)), *presents)

    @staticmethod
    def attention(a, x, cos, sin, mask, past_k, past_v):
        b, t, _ = x.shape
        q = a.q_proj(x).view(b, t, a.heads, a.head_dim).transpose(1, 2)
        k = a.k_proj(x).view(b, t, a.kv_heads, a.head_dim).transpose(1, 2)
        v = a.v_proj(x).view(b, t, a.kv_heads, a.head_dim).transpose(1, 2)
        k = torch.cat([past_k, rope(k, cos, sin)], dim=2)
        v = torch.cat([past_v, v], dim=2)
        q = rope(q, cos, sin)
        # the query heads sharing a KV head are stacked on the sequence axis instead of repeating
        # the cache: head i uses KV head i // group, as repeat_interleave upstream
        group = a.heads // a.kv_heads
        qg = q.reshape(b, a.kv_heads, group * t, a.head_dim)
        scores = (qg @ k.transpose(-1, -2)) / math.sqrt(a.head_dim)
        scores = f32(scores).reshape(b, a.heads, t, -1)
        scores = scores.masked_fill(~mask, torch.finfo(torch.float32).min)
        probs = compute(scores.softmax(-1)).reshape(b, a.kv_heads, group * t, -1)
        out = (probs @ v).reshape(b, a.heads, t, a.head_dim)
        out = a.o_proj(out.transpose(1, 2).reshape(b, t, a.heads * a.head_dim))
        return out, [k, v]


# ------------------------------------------------------------------------------ float16 rewrite

def _light_copy(model: onnx.ModelProto) -> onnx.ModelProto:
    """The graph with its initializers declared as inputs instead of held: shape inference
    serialises the model, which fails past 2 GB."""
    light = onnx.ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    g = light.graph
    g.node.extend(model.graph.node)
    g.input.extend(model.graph.input)
    g.output.extend(model.graph.output)
    declared = {v.name for v in model.graph.input}
    g.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                   for t in model.graph.initializer if t.name not in declared)
    return light


def tensor_types(model: onnx.ModelProto) -> Dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(_light_copy(model), strict_mode=True)
    g = inferred.graph
    types = {v.name: v.type.tensor_type.elem_type for v in list(g.input) + list(g.output) + list(g.value_info)}
    types.update({t.name: t.data_type for t in model.graph.initializer})
    return types


def _grouped(node: onnx.NodeProto):
    """The inputs and outputs of a node that ONNX requires to share one float type."""
    if node.op_type == "Resize":  # roi and scales have types of their own
        return [node.input[0]], list(node.output)
    if node.op_type == "LayerNormalization":
        return list(node.input[:3]), list(node.output[:1])
    return list(node.input), list(node.output)


def finalize(model: onnx.ModelProto, dtype: str, float32_io: Sequence[str] = ()) -> onnx.ModelProto:
    """Replaces the precision markers and, for float16, retypes the graph: markers become Casts,
    graph inputs and outputs become float16 except float32_io, and every other float tensor takes
    the type of the tensors an op ties it to (ONNX's ops take one float type), float16 where
    nothing ties it to float32. Weights therefore become float16, while a constant inside a float32
    stretch (RoPE's frequencies, RMSNorm's epsilon) stays float32."""
    g = model.graph
    markers = {}
    for node in g.node:
        if node.domain == MARKER_DOMAIN:
            markers[node.output[0]] = (node, node.op_type == "ToFloat32")
            node.domain, node.op_type = "", "Identity"
    del model.opset_import[:]
    model.opset_import.append(helper.make_opsetid("", OPSET))
    if dtype != "float16":
        return model

    # types of the float32 graph, the markers still identities
    types = tensor_types(model)
    floats = {n for n, t in types.items() if t == TensorProto.FLOAT}
    parent = {n: n for n in floats}

    def find(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    fixed: Dict[str, int] = {}

    def fix(name, t):
        root = find(name)
        if fixed.setdefault(root, t) != t:
            raise ValueError(f"{name} is tied to both float16 and float32 (a precision marker is missing)")

    for node in g.node:
        if node.op_type == "Cast" or node.output[0] in markers:
            continue  # a Cast's input and output are free; markers are fixed below
        ins, outs = _grouped(node)
        members = [n for n in ins + outs if n in floats]
        for a in members[1:]:
            parent[find(a)] = find(members[0])
    for out, (node, upcast) in markers.items():
        fix(out, TensorProto.FLOAT if upcast else TensorProto.FLOAT16)
        node.op_type = "Cast"
        node.attribute.append(helper.make_attribute("to", TensorProto.FLOAT if upcast else TensorProto.FLOAT16))
    for node in g.node:
        if node.op_type == "LayerNormalization":
            for o in node.output[1:]:
                if o:
                    fix(o, TensorProto.FLOAT)
    for v in list(g.input) + list(g.output):
        if v.name in floats:
            fix(v.name, TensorProto.FLOAT if v.name in float32_io else TensorProto.FLOAT16)

    def is_half(name):
        return name in floats and fixed.get(find(name), TensorProto.FLOAT16) == TensorProto.FLOAT16

    for i, t in enumerate(g.initializer):
        if is_half(t.name):
            g.initializer[i].CopyFrom(_to_half(t))
    for node in g.node:
        if not node.output or not is_half(node.output[0]):
            continue
        if node.op_type in ("Constant", "ConstantOfShape"):
            for a in node.attribute:
                if a.name == "value" and a.t.data_type == TensorProto.FLOAT:
                    a.t.CopyFrom(_to_half(a.t))
        elif node.op_type == "Cast":
            for a in node.attribute:
                if a.name == "to":
                    a.i = TensorProto.FLOAT16
    for v in list(g.input) + list(g.output):
        if is_half(v.name):
            v.type.tensor_type.elem_type = TensorProto.FLOAT16
    del g.value_info[:]
    return model


def _to_half(t: onnx.TensorProto) -> onnx.TensorProto:
    a = numpy_helper.to_array(t)
    h = a.astype(np.float16)
    if not np.isfinite(h).all() and np.isfinite(a).all():
        raise ValueError(f"{t.name or 'a constant'} overflows float16 (largest magnitude {np.abs(a).max():g}); "
                         f"export with --dtype float32")
    return numpy_helper.from_array(h, t.name)


# ------------------------------------------------------------------------------ export

def initializer_bytes(model: onnx.ModelProto) -> int:
    return sum(len(t.raw_data) or t.ByteSize() for t in model.graph.initializer)


def save(model: onnx.ModelProto, path: str, threshold: int) -> Optional[str]:
    """Writes the graph; past the threshold its weights go to PATH.data (returned). onnx appends to
    an existing data file, so a stale one is removed first."""
    data = os.path.basename(path) + ".data"
    for p in (path, path + ".data"):
        if os.path.exists(p):
            os.remove(p)
    external = initializer_bytes(model) > threshold
    onnx.save_model(model, path, save_as_external_data=external, all_tensors_to_one_file=True,
                    location=data, size_threshold=1024)
    onnx.checker.check_model(path, full_check=True)
    return data if external else None


def set_output_shapes(model: onnx.ModelProto, shapes: Dict[str, list]) -> None:
    """The outputs' shapes as the manifest states them: the exporter's inference leaves generated
    names (ToFloat32logits_dim_1) where the model fixes a size."""
    for v in model.graph.output:
        if v.name in shapes:
            dims = v.type.tensor_type.shape.dim
            del dims[:]
            for d in shapes[v.name]:
                dim = dims.add()
                if isinstance(d, str):
                    dim.dim_param = d
                else:
                    dim.dim_value = d


def export_graph(module: nn.Module, args, path: str, inputs: List[str], outputs: List[str], dyn: dict,
                 dtype: str, float32_io: Sequence[str], threshold: int, markers: bool = True,
                 out_shapes: Optional[Dict[str, list]] = None) -> Optional[str]:
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # A TracerWarning means a size was read as a Python number and baked into the graph
        warnings.simplefilter("error", torch.jit.TracerWarning)
        # the markers have no shape function; finalize's inference types them instead
        warnings.filterwarnings("ignore", message="The shape inference of")
        warnings.filterwarnings("ignore", category=FutureWarning)
        raw = os.path.join(tmp, "graph.onnx")
        torch.onnx.export(module, args, raw, input_names=inputs, output_names=outputs, dynamic_axes=dyn,
                          opset_version=OPSET, do_constant_folding=False,
                          custom_opsets={MARKER_DOMAIN: 1} if markers else None)
        model = onnx.load(raw)
    model = finalize(model, dtype, float32_io)
    set_output_shapes(model, out_shapes or {})
    return save(model, path, threshold)


def spec(shape, dtype):
    return {"shape": list(shape), "dtype": dtype}


@torch.no_grad()
def export(mgm_dir: str, out: str, dtype: str = "float16", vision_tower: Optional[str] = None,
           vision_tower_aux: Optional[str] = None, threshold: int = DEFAULT_EXTERNAL_THRESHOLD,
           chat_template: Optional[str] = None, model_id: Optional[str] = None,
           trace=(2, 3, 2)) -> dict:
    """Writes the five graphs, the tokenizer files and model.json into out; returns the manifest.
    trace: the batch, past and new lengths the decoder is traced at (all dynamic in the graph)."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype}: float16 or float32")
    cfg = checkpoint.read_config(mgm_dir)
    hd_grid(cfg)  # an HD layout the Java runtime cannot serve is refused before anything loads
    found = resolve_towers(mgm_dir) if not (vision_tower and vision_tower_aux) else None
    folders = ReleasedFolders(mgm_dir, vision_tower or found.clip, vision_tower_aux or found.aux)
    # traced in float32 whatever the checkpoint holds: bfloat16 and float16 widen exactly
    mgm = load_released_from(folders)
    mm = MMConfig.from_hf(cfg)
    if mm.mm_vision_select_feature != "patch":
        raise NotImplementedError("mm_vision_select_feature cls_patch: the class token breaks mining's grid")
    lm, clip_cfg = mgm.lm_config, mgm.model.vision_tower.config
    cnx = mgm.model.vision_tower_aux.config
    half = dtype == "float16"
    os.makedirs(out, exist_ok=True)

    s, s_aux = clip_cfg.image_size, mm.image_size_aux
    n, c, c_aux, d = clip_cfg.num_patches, clip_cfg.hidden_size, cnx.hidden_size, lm.hidden_size
    grid = math.isqrt(n)
    hr_side = s_aux // cnx.stem_patch
    hd = hd_grid(cfg)
    # the projector sees one LR view's HR map: the whole map, or with HD (hd_grid g) one of the
    # g x g tiles the Java side cuts from it, or the whole map pooled by g for the global view
    proj_side = hr_side // max(hd, 1)
    if hd and hr_side % hd:
        raise ValueError(f"the HR map ({hr_side}) does not divide into the {hd} x {hd} HD grid")
    if proj_side % grid:
        raise ValueError(f"the HR map per LR view ({proj_side}) does not divide into the {grid} x {grid} LR grid")
    kv, hd, layers = lm.num_key_value_heads, lm.head_dim, lm.num_hidden_layers
    external = {}

    def graph(name, module, args, inputs, outputs, dyn, float32_io=(), markers=True, shapes=None):
        data = export_graph(module, args, os.path.join(out, name), inputs, outputs, dyn, dtype,
                            float32_io, threshold, markers, shapes)
        if data:
            external[name] = data

    batch = {0: "batch"}
    px, px_aux = torch.randn(2, 3, s, s), torch.randn(2, 3, s_aux, s_aux)
    graph("lr_encoder.onnx", LREncoder(mgm), (px,), ["pixel_values"], ["lr_features"],
          {"pixel_values": batch, "lr_features": batch}, ["pixel_values"],
          shapes={"lr_features": ["batch", n, c]})
    graph("hr_encoder.onnx", HREncoder(mgm, hr_side), (px_aux,), ["pixel_values_hr"], ["hr_features"],
          {"pixel_values_hr": batch, "hr_features": batch}, ["pixel_values_hr"],
          shapes={"hr_features": ["batch", c_aux, hr_side, hr_side]})
    lr_f, hr_f = mgm.model.vision_tower(px), HREncoder(mgm, hr_side)(px_aux)
    if hd:
        hr_f = hr_f[:, :, :proj_side, :proj_side].contiguous()  # a tile-sized map to trace with
    graph("projector.onnx", Projector(mgm, half, grid, proj_side), (lr_f, hr_f), ["lr_features", "hr_features"],
          ["visual_tokens"], {"lr_features": batch, "hr_features": batch, "visual_tokens": batch},
          markers=False, shapes={"visual_tokens": ["batch", n, d]})
    seq = {0: "batch", 1: "sequence"}
    graph("embed_tokens.onnx", EmbedTokens(mgm), (torch.randint(0, lm.vocab_size, (2, 3)),),
          ["input_ids"], ["inputs_embeds"], {"input_ids": seq, "inputs_embeds": seq}, markers=False)
    b, p, t = trace
    names_in, names_out = ["inputs_embeds", "attention_mask", "position_ids"], ["logits"]
    dyn = {"inputs_embeds": seq, "attention_mask": {0: "batch", 1: "total"}, "position_ids": seq,
           "logits": {0: "batch"}}
    past, shapes = [], {"logits": ["batch", 1, lm.vocab_size]}
    for i in range(layers):
        for part in ("key", "value"):
            past.append(torch.randn(b, kv, p, hd))
            names_in.append(f"past_key_values.{i}.{part}")
            names_out.append(f"present.{i}.{part}")
            dyn[names_in[-1]] = {0: "batch", 2: "past"}
            dyn[names_out[-1]] = {0: "batch", 2: "total"}
            shapes[names_out[-1]] = ["batch", kv, "total", hd]
    args = (torch.randn(b, t, d), torch.ones(b, p + t, dtype=torch.long),
            torch.arange(p, p + t).expand(b, t).contiguous(), *past)
    graph("decoder.onnx", Decoder(mgm), args, names_in, names_out, dyn, ["logits"], shapes=shapes)

    tokenizer = copy_tokenizer(mgm_dir, out)
    manifest = build_manifest(cfg, mm, mgm, folders, dtype, tokenizer, external,
                              chat_template or default_chat(cfg, lm.family),
                              model_id or os.path.basename(os.path.normpath(mgm_dir)))
    with open(os.path.join(out, "model.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest


def hd_grid(cfg: dict) -> int:
    """The manifest's hd_grid: 0 for a plain model, image_grid for an HD one (image_grid > 1 with
    image_global, the released MGM-*-HD). The Java runtime always gives the LR encoder the global
    view before the tiles, so a grid without image_global is refused."""
    grid = cfg.get("image_grid") or 1
    if grid > 1 and not cfg.get("image_global"):
        raise NotImplementedError(f"image_grid {grid} without image_global: the Java runtime serves HD "
                                  "models only with the global view (image_global true, as released)")
    return grid if grid > 1 else 0


def load_released_from(folders: ReleasedFolders) -> MGMForCausalLM:
    """load_released with the tower folders given rather than looked up, in float32."""
    state, cfg, clip_cfg, cnx_cfg = assemble_state_dict(folders)
    with uninitialised(torch.float32):
        model = MGMForCausalLM(LMConfig.from_hf(cfg), MMConfig.from_hf(cfg), clip_cfg, cnx_cfg)
    model.load_state_dict(state, strict=True)
    return model.eval()


def copy_tokenizer(mgm_dir: str, out: str) -> List[str]:
    """The tokenizer files as the checkpoint ships them, copied unchanged; a tokenizer.json converted
    from tokenizer.model when the folder has no tokenizer.json."""
    copied = []
    for name in TOKENIZER_FILES:
        src = os.path.join(mgm_dir, name)
        if os.path.isfile(src):
            shutil.copyfile(src, os.path.join(out, name))
            copied.append(name)
    if "tokenizer.model" in copied and "tokenizer.json" not in copied:
        # Vicuna ships SentencePiece only; the Java side reads tokenizer.json: convert as
        # transformers' LlamaConverter does (mgm/llama_tokenizer.py)
        from mgm.llama_tokenizer import convert_dir
        convert_dir(mgm_dir, os.path.join(out, "tokenizer.json"))
        copied.insert(0, "tokenizer.json")
    return copied


def default_chat(cfg: dict, family: str) -> str:
    if family == "gemma":
        return "gemma"
    # LLaMA-3's vocabulary (128256) and rope_theta set it apart from Vicuna's LLaMA-2 base
    return "llama_3" if cfg.get("vocab_size", 0) > 100000 or cfg.get("rope_theta") == 500000.0 else "vicuna_v1"


def special_tokens(mgm_dir: str, family: str, chat: str) -> dict:
    defaults = {"gemma": ("<bos>", "<pad>"), "vicuna_v1": ("<s>", "<unk>"),
                "llama_3": ("<|begin_of_text|>", "<|end_of_text|>")}
    bos, pad = defaults["gemma" if family == "gemma" else chat]
    path = os.path.join(mgm_dir, "special_tokens_map.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            m = json.load(f)
        text = lambda v: v.get("content") if isinstance(v, dict) else v  # noqa: E731
        bos = text(m.get("bos_token")) or bos
        pad = text(m.get("pad_token")) or pad
    # transformers cleans spaces before punctuation when decoding unless tokenizer_config.json turns it
    # off (its default is on); the Rust tokenizer the Java side uses never does, so the manifest says
    clean = True
    config = os.path.join(mgm_dir, "tokenizer_config.json")
    if os.path.isfile(config):
        with open(config, encoding="utf-8") as f:
            clean = bool(json.load(f).get("clean_up_tokenization_spaces", True))
    return {"bos_token": bos, "pad_token": pad, "clean_up_tokenization_spaces": clean}


def build_manifest(cfg: dict, mm: MMConfig, mgm: MGMForCausalLM, folders: ReleasedFolders, dtype: str,
                   tokenizer_files: List[str], external: Dict[str, str], chat: str, model_id: str) -> dict:
    lm, clip_cfg = mgm.lm_config, mgm.model.vision_tower.config
    cnx = mgm.model.vision_tower_aux.config
    s, s_aux = clip_cfg.image_size, mm.image_size_aux
    n, c, c_aux, d = clip_cfg.num_patches, clip_cfg.hidden_size, cnx.hidden_size, lm.hidden_size
    hr_side, grid = s_aux // cnx.stem_patch, math.isqrt(n)
    hd = hd_grid(cfg)
    proj_side = hr_side // max(hd, 1)  # the HR map one LR view mines: a tile of it with HD
    pre = _preprocessor(folders.clip)
    mean, std = pre.get("image_mean", [0.48145466, 0.4578275, 0.40821073]), \
        pre.get("image_std", [0.26862954, 0.26130258, 0.27577711])
    hr_shape = [-1, c_aux, hr_side, hr_side]
    kv_names = {"past_key": "past_key_values.{layer}.key", "past_value": "past_key_values.{layer}.value",
                "present_key": "present.{layer}.key", "present_value": "present.{layer}.value"}
    scale = lm.hidden_size ** 0.5 if lm.family == "gemma" else 1.0
    tok = special_tokens(folders.mgm, lm.family, chat)
    return {
        "format": "mgm-stream/manifest@1",
        "model_id": model_id,
        "family": f"mgm-{lm.family}",
        "dtype": dtype,
        "source": {"config": cfg.get("architectures", [None])[0], "model_type": cfg.get("model_type"),
                   "checkpoint_dtype": cfg.get("torch_dtype"),
                   "vision_tower": cfg.get("mm_vision_tower"), "vision_tower_aux": cfg.get("mm_vision_tower_aux")},
        "external_data": external,
        "vision": {
            # per LR view: with hd_grid g the runtime gives an image (g*g + 1) * n tokens, the
            # global view's first, then the tiles' row-major, as the official encode_images
            "image_token_count": n,
            "hd_grid": hd,
            "mining": {"enabled": True, "sub_patch_side": proj_side // grid},
            "preprocess": {
                "pad_to_square": mm_aspect(cfg) == "pad",
                "pad_color": [int(x * 255) for x in mean],
                "hr": {"size": s_aux, "resize": "bicubic"},
                # the official code makes the CLIP view from the normalised HR tensor:
                # F.interpolate(bilinear, align_corners=False), which never antialiases
                "lr": {"size": s, "source": "hr", "resize": "bilinear", "antialias": False,
                       "align_corners": False},
                "rescale": pre.get("rescale_factor", 1 / 255),
                "mean": list(mean), "std": list(std),
                "layout": "NCHW",
            },
            "lr_encoder": {"file": "lr_encoder.onnx",
                           "inputs": {"pixel_values": spec([-1, 3, s, s], "float32")},
                           "outputs": {"lr_features": spec([-1, n, c], dtype)}},
            "hr_encoder": {"file": "hr_encoder.onnx",
                           "inputs": {"pixel_values_hr": spec([-1, 3, s_aux, s_aux], "float32")},
                           "outputs": {"hr_features": spec(hr_shape, dtype)}},
            "projector": {"file": "projector.onnx",
                          "inputs": {"lr_features": spec([-1, n, c], dtype),
                                     "hr_features": spec([-1, c_aux, proj_side, proj_side], dtype)},
                          "outputs": {"visual_tokens": spec([-1, n, d], dtype)}},
            "visual_tokens_dtype": "float16",
        },
        "language_model": {
            "embed_tokens": {"file": "embed_tokens.onnx", "inputs": {"input_ids": spec([-1, -1], "int64")},
                             "outputs": {"inputs_embeds": spec([-1, -1, d], dtype)}},
            "decoder": {"file": "decoder.onnx",
                        "inputs": {"inputs_embeds": spec([-1, -1, d], dtype),
                                   "attention_mask": spec([-1, -1], "int64"),
                                   "position_ids": spec([-1, -1], "int64")},
                        "outputs": {"logits": spec([-1, 1, lm.vocab_size], "float32")},
                        **kv_names,
                        "kv_shape": ["batch", lm.num_key_value_heads, "past", lm.head_dim],
                        "kv_dtype": dtype,
                        "logits": "last"},
            "hidden_size": d, "num_layers": lm.num_hidden_layers, "num_kv_heads": lm.num_key_value_heads,
            "num_attention_heads": lm.num_attention_heads, "head_dim": lm.head_dim,
            "vocab_size": lm.vocab_size,
            # the official builder's context length: max_sequence_length, else 2048; an HD image alone
            # brings 5 x 576 tokens, so HD takes the official splice's limit, tokenizer_model_max_length
            # (the trainer stores its model_max_length there: 4096 in the official HD training scripts)
            "context_length": cfg.get("max_sequence_length") or (
                cfg.get("tokenizer_model_max_length") or 2048 if hd else 2048),
            "max_position_embeddings": cfg.get("max_position_embeddings"),
            "embeddings_scale": 1.0,
            "embeddings_scale_in_decoder": scale,
            "embeddings_scale_applies_to": "spliced",
        },
        "tokenizer": {
            "file": "tokenizer.json" if "tokenizer.json" in tokenizer_files else None,
            "files": tokenizer_files,
            "image_token": "<image>",
            # the official prompt code splits the text at <image> and puts IMAGE_TOKEN_INDEX there;
            # the tokenizer never sees the placeholder and no embedding row exists for it
            "image_token_in_vocab": False,
            "image_token_id": IMAGE_TOKEN_INDEX,
            "add_bos": True,
            **tok,
        },
        # a generate request carries " <GEN>" as the official demos append it, and the answer may talk
        # around the tagged prompt: the last <h>...</h> is the one the official code hands to SDXL
        "chat": {**CHAT[chat], "stop_strings": [], "generation_tags": ["<h>", "</h>"],
                 "generation_suffix": " <GEN>", "generation_prompt": "last", "strip_answer": True,
                 "default_prompts": {"caption": "Describe the image in detail."}},
        "generation_defaults": {"max_new_tokens": 512, "temperature": 0.0, "top_p": 1.0},
    }


def mm_aspect(cfg: dict) -> str:
    return cfg.get("image_aspect_ratio", "pad")


def _preprocessor(clip_dir: str) -> dict:
    path = os.path.join(clip_dir, "preprocessor_config.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="the MGM folder (config.json and the LM weights)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="float16")
    ap.add_argument("--vision-tower", help="the CLIP folder (default: mm_vision_tower of config.json)")
    ap.add_argument("--vision-tower-aux", help="the OpenCLIP ConvNeXt folder (default: mm_vision_tower_aux)")
    ap.add_argument("--external-data-threshold", type=int, default=DEFAULT_EXTERNAL_THRESHOLD,
                    help="weight bytes past which a graph keeps them in GRAPH.onnx.data")
    ap.add_argument("--chat-template", choices=sorted(CHAT), help="default: from the LM family")
    ap.add_argument("--model-id")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    m = export(a.model, a.out, a.dtype, a.vision_tower, a.vision_tower_aux, a.external_data_threshold,
               a.chat_template, a.model_id)
    print(f"exported {m['model_id']} ({a.dtype}) to {a.out}")


if __name__ == "__main__":
    main()
