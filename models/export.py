#!/usr/bin/env python3
"""Exports a trained mgm-tiny checkpoint to ONNX with its manifest, tokenizer and golden files.

Usage: models/py models/export.py --checkpoint models/work/main/model.pt --out models/mgm-tiny [--golden]
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mgm import world  # noqa: E402
from mgm.data import MEAN, STD, prompt_ids  # noqa: E402
from mgm.generate import greedy  # noqa: E402
from mgm.io import Loaded  # noqa: E402
from mgm.tokenizer import chat_prompt  # noqa: E402

OPSET = 14
GOLDEN_SEED = 4242
GOLDEN_SCENES = 16
GOLDEN_FULL_HR = 1  # scenes whose pixel inputs and HR feature maps are stored whole (they are large)


class DecoderExport(nn.Module):
    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        logits, present = self.lm(inputs_embeds, attention_mask, position_ids, list(past))
        return (logits, *present)


class GeluFloat32Erf(nn.Module):
    """GELU whose erf runs in float32: ONNX Runtime's CPU Erf has no float64 kernel."""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.erf((x * 0.7071067811865476).float()).to(x.dtype))


def swap_last_two(t):
    """t.transpose(1, 2) of a 3-d tensor, written as a transpose of a 4-d view: ONNX Runtime fuses a
    transpose of the last two axes into the MatMul it feeds (a FusedMatMul), which it has only for
    float32, so a float64 graph with one fails to load."""
    b, m, n = t.shape
    return t.reshape(b, m, n, 1).permute(0, 2, 3, 1).reshape(b, n, m)


class Float64Projector(nn.Module):
    """Mining and projector computed in float64 inside the graph, float32 in and out, with mining's keys
    and values folded out of the per-sub-patch work.

    The trained projector's visual tokens reach magnitudes near 80, where float32's rounding over mining
    and two Linear layers adds up to 1.5e-4: over the 1e-4 the golden parity allows, and enough for a
    batched run to differ from a one-image run by as much. In float64 the graph returns the exact result
    rounded once to float32. Keeping only the keys and values in float32 was tried and is not precise
    enough (2.1e-4 chained, 9e-5 batched against alone).

    Float64 made mining's keys and values (LayerNorm + Linear at every one of the M*M sub-patches of
    every query) twice as slow, so they are not computed: with x^ the normalised sub-patch,
        q . (W_k (g_k x^ + b_k') + b_k) = (g_k * W_k^T q) . x^ + (a constant per query, which softmax drops)
        sum_i p_i (W_v (g_v x^_i + b_v') + b_v) = W_v (g_v * sum_i p_i x^_i + b_v') + b_v     (sum_i p_i = 1)
    so each query is taken into the HR channels once, and the Linear layers run once per query instead of
    once per sub-patch. The HR map is not regrouped into sub-patches either: that float64 transpose was
    half of the graph's time. Every query is scored against every position of the map as it lies
    (channels first, one matrix product), and a constant mask keeps each query's softmax to its own M*M
    sub-patches; the normalisation is folded into the scores and the pooled sum. The same function as
    the checkpoint's mining, in a few passes over the map: 9.5 -> 4.2 ms per image at batch 32
    (docs/benchmarks.md).
    """

    def __init__(self, projector: nn.Module):
        super().__init__()
        p = copy.deepcopy(projector).double()
        for parent in p.modules():
            for name, child in parent.named_children():
                if isinstance(child, nn.GELU):
                    setattr(parent, name, GeluFloat32Erf())
        self.proj = p.proj
        self.mining = p.mining
        if self.mining is not None and self.mining.phi_k[0].eps != self.mining.phi_v[0].eps:
            raise ValueError("folded mining needs phi_k and phi_v to normalise alike")

    def forward(self, lr_features, hr_features=None):
        lr = lr_features.double()
        if hr_features is None:
            return self.proj(lr).float()
        mi = self.mining
        (ln_k, lin_k), (ln_v, lin_v) = mi.phi_k, mi.phi_v
        # The map's size is fixed by the model; as constants, the export has no shape arithmetic to fold.
        ch, hh, ww = (int(d) for d in hr_features.shape[1:])
        x = hr_features.double().reshape(-1, ch, hh * ww)                     # (b, ch, P), channels first
        # Means over the channels as products with a row of 1/ch: ReduceMean over a strided axis is slower.
        avg = torch.full((1, ch), 1.0 / ch, dtype=torch.float64)
        mean = avg @ x                                                         # (b, 1, P)
        inv_std = torch.rsqrt(avg @ (x * x) - mean * mean + ln_k.eps)          # (b, 1, P)
        q = mi.phi_q(lr)                                                       # (b, N, c)
        key_side = (q @ lin_k.weight) * ln_k.weight                            # (b, N, ch)
        # key_side . x^ = (key_side . x - mean * sum(key_side)) * inv_std, at every position at once
        scores = (key_side @ x - key_side.sum(-1, keepdim=True) * mean) * inv_std
        att = torch.softmax(scores / math.sqrt(lin_k.out_features) + self.own_block(hh, ww), dim=-1)
        weights = att * inv_std                                                # (b, N, P), 0 off the block
        pooled = swap_last_two(x @ swap_last_two(weights)) - (weights * mean).sum(-1, keepdim=True)
        mined = lin_v(pooled * ln_v.weight + ln_v.bias)
        return self.proj(lr + mined).float()

    def own_block(self, hh, ww):
        """(N, H*W): 0 where a position is one of the query's own M*M sub-patches, -inf elsewhere, so
        a softmax over the whole map is the softmax over the query's sub-patches."""
        positions = torch.arange(hh * ww, dtype=torch.float64).reshape(1, 1, hh, ww)
        own = self.mining.group(positions)[0, :, :, 0].long()                 # (N, M*M)
        mask = torch.full((own.shape[0], hh * ww), float("-inf"), dtype=torch.float64)
        return mask.scatter(1, own, 0.0)


class EmbedExport(nn.Module):
    def __init__(self, lm):
        super().__init__()
        self.embed = lm.embed

    def forward(self, input_ids):
        return self.embed(input_ids)


def spec(shape, dtype="float32"):
    return {"shape": shape, "dtype": dtype}


def export_all(loaded: Loaded, out: str) -> dict:
    m, cfg = loaded.model, loaded.cfg
    n, d, c = cfg.n_tokens, cfg.lm_dim, cfg.vit_dim
    h, dh, L = cfg.lm_heads, cfg.lm_dim // cfg.lm_heads, cfg.lm_layers
    files = {}

    def onnx_export(module, args, name, inputs, outputs, dyn):
        path = os.path.join(out, name)
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs,
                          dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=True)
        files[name] = path

    lr = torch.randn(2, 3, cfg.lr_size, cfg.lr_size)
    onnx_export(m.lr_encoder, (lr,), "lr_encoder.onnx", ["pixel_values"], ["lr_features"],
                {"pixel_values": {0: "batch"}, "lr_features": {0: "batch"}})
    lr_f = m.lr_encoder(lr)
    if cfg.use_hr:
        hr = torch.randn(2, 3, cfg.hr_size, cfg.hr_size)
        onnx_export(m.hr_encoder, (hr,), "hr_encoder.onnx", ["pixel_values_hr"], ["hr_features"],
                    {"pixel_values_hr": {0: "batch"}, "hr_features": {0: "batch"}})
        onnx_export(Float64Projector(m.projector), (lr_f, m.hr_encoder(hr)), "projector.onnx",
                    ["lr_features", "hr_features"],
                    ["visual_tokens"], {"lr_features": {0: "batch"}, "hr_features": {0: "batch"},
                                        "visual_tokens": {0: "batch"}})
    else:
        onnx_export(Float64Projector(m.projector), (lr_f,), "projector.onnx", ["lr_features"], ["visual_tokens"],
                    {"lr_features": {0: "batch"}, "visual_tokens": {0: "batch"}})
    ids = torch.randint(0, cfg.vocab_size, (2, 5))
    onnx_export(EmbedExport(m.lm), (ids,), "embed_tokens.onnx", ["input_ids"], ["inputs_embeds"],
                {"input_ids": {0: "batch", 1: "sequence"}, "inputs_embeds": {0: "batch", 1: "sequence"}})
    p, t = 3, 2
    past = []
    names_in, names_out = ["inputs_embeds", "attention_mask", "position_ids"], ["logits"]
    dyn = {"inputs_embeds": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total"},
           "position_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}}
    for i in range(L):
        for kv in ("key", "value"):
            past.append(torch.randn(2, h, p, dh))
            names_in.append(f"past_key_values.{i}.{kv}")
            names_out.append(f"present.{i}.{kv}")
            dyn[f"past_key_values.{i}.{kv}"] = {0: "batch", 2: "past"}
            dyn[f"present.{i}.{kv}"] = {0: "batch", 2: "total"}
    args = (torch.randn(2, t, d), torch.ones(2, p + t, dtype=torch.long),
            torch.arange(p, p + t).expand(2, t).contiguous(), *past)
    onnx_export(DecoderExport(m.lm), args, "decoder.onnx", names_in, names_out, dyn)
    return files


def manifest(loaded: Loaded, model_id: str) -> dict:
    cfg, tok = loaded.cfg, loaded.tok
    n, d, c = cfg.n_tokens, cfg.lm_dim, cfg.vit_dim
    h, dh = cfg.lm_heads, cfg.lm_dim // cfg.lm_heads
    vision = {
        "image_token_count": n,
        "hd_grid": 0,
        "mining": {"enabled": cfg.use_hr, "sub_patch_side": cfg.mining_m if cfg.use_hr else 0},
        "preprocess": {
            "pad_to_square": True,
            "pad_color": [int(x * 255) for x in MEAN],
            "hr": {"size": cfg.hr_size, "resize": "bicubic"},
            "lr": {"size": cfg.lr_size, "source": "hr", "resize": "area"},
            "rescale": 1 / 255,
            "mean": list(MEAN), "std": list(STD),
            "layout": "NCHW",
        },
        "lr_encoder": {"file": "lr_encoder.onnx",
                       "inputs": {"pixel_values": spec([-1, 3, cfg.lr_size, cfg.lr_size])},
                       "outputs": {"lr_features": spec([-1, n, c])}},
        "projector": {"file": "projector.onnx",
                      "inputs": {"lr_features": spec([-1, n, c])},
                      "outputs": {"visual_tokens": spec([-1, n, d])}},
        "visual_tokens_dtype": "float16",
    }
    if cfg.use_hr:
        hr_shape = [-1, cfg.hr_channels, cfg.hr_map, cfg.hr_map]
        vision["hr_encoder"] = {"file": "hr_encoder.onnx",
                                "inputs": {"pixel_values_hr": spec([-1, 3, cfg.hr_size, cfg.hr_size])},
                                "outputs": {"hr_features": spec(hr_shape)}}
        vision["projector"]["inputs"]["hr_features"] = spec(hr_shape)
    decoder_inputs = {"inputs_embeds": spec([-1, -1, d]), "attention_mask": spec([-1, -1], "int64"),
                      "position_ids": spec([-1, -1], "int64")}
    decoder_outputs = {"logits": spec([-1, -1, cfg.vocab_size])}
    return {
        "format": "mgm-stream/manifest@1",
        "model_id": model_id,
        "family": "mgm-tiny",
        "vision": vision,
        "language_model": {
            "embed_tokens": {"file": "embed_tokens.onnx", "inputs": {"input_ids": spec([-1, -1], "int64")},
                             "outputs": {"inputs_embeds": spec([-1, -1, d])}},
            "decoder": {"file": "decoder.onnx", "inputs": decoder_inputs, "outputs": decoder_outputs,
                        "past_key": "past_key_values.{layer}.key", "past_value": "past_key_values.{layer}.value",
                        "present_key": "present.{layer}.key", "present_value": "present.{layer}.value",
                        "kv_shape": ["batch", h, "past", dh]},
            "hidden_size": d, "num_layers": cfg.lm_layers, "num_kv_heads": h, "head_dim": dh,
            "vocab_size": cfg.vocab_size, "context_length": cfg.max_len, "embeddings_scale": 1.0,
        },
        "tokenizer": {"file": "tokenizer.json", "image_token": "<image>", "pad_token": "<pad>",
                      "bos_token": "<bos>", "add_bos": False},
        "chat": {"template": "gemma",
                 "prompt_format": chat_prompt("{prompt}"),
                 "stop_tokens": ["<end_of_turn>", "<eos>"],
                 "stop_strings": ["<end_of_turn>"],
                 "generation_tags": ["<h>", "</h>"],
                 "default_prompts": {"caption": world.CAPTION_PROMPT}},
        "generation_defaults": {"max_new_tokens": 96, "temperature": 0.0, "top_p": 1.0},
    }


def write_bin(path: str, t: torch.Tensor) -> dict:
    a = t.detach().numpy().astype("<f4") if t.dtype.is_floating_point else t.detach().numpy().astype("<i8")
    a.tofile(path)
    return {"file": os.path.basename(path), "shape": list(a.shape), "dtype": "float32" if a.dtype.kind == "f" else "int64"}


@torch.no_grad()
def save_half(loaded: Loaded, path: str) -> None:
    """Rounds the weights to fp16 in place and stores them so: the checkpoint is half the size (the
    models' history in git has a budget), and the ONNX graphs exported next hold exactly these values."""
    state = loaded.model.state_dict()
    for v in state.values():
        if v.is_floating_point():
            v.copy_(v.half().float())
    torch.save({"config": loaded.cfg.to_dict(),
                "state": {k: v.half() if v.is_floating_point() else v for k, v in state.items()}}, path)


@torch.no_grad()
def golden(loaded: Loaded, out: str) -> None:
    """Inputs and every component's outputs for a set of scenes, and the greedy answers."""
    gdir = os.path.join(out, "golden")
    shutil.rmtree(gdir, ignore_errors=True)
    os.makedirs(gdir)
    m, tok, cfg = loaded.model, loaded.tok, loaded.cfg
    # The components' outputs are the exported weights' function computed in float64. Float32 results
    # (PyTorch's or ONNX Runtime's) each stray from it by rounding alone; with activations up to ~60
    # that is ~1e-4 (session 6: PyTorch's float32 visual tokens 1.3e-4 from float64), so a float32
    # golden would hold the Java side to PyTorch's rounding rather than to the model.
    exact = copy.deepcopy(m).double()
    scenes = world.sample_scenes(GOLDEN_SEED, GOLDEN_SCENES, jpeg_share=0.0)
    entries = []
    from PIL import Image
    for i, (scene, _) in enumerate(scenes):
        name = f"scene-{i:02d}"
        img = world.render(scene)
        img.save(os.path.join(gdir, name + ".png"))
        img = Image.open(os.path.join(gdir, name + ".png")).convert("RGB")
        lr, hr = loaded.views(img)
        lr_f = exact.lr_encoder(lr.double())
        hr_f = exact.hr_encoder(hr.double()) if cfg.use_hr else None
        vis = exact.projector(lr_f, hr_f)
        e = {"id": name, "image": name + ".png", "caption": scene.caption(),
             "lr_features": write_bin(os.path.join(gdir, name + ".lr_features.bin"), lr_f),
             "visual_tokens": write_bin(os.path.join(gdir, name + ".visual_tokens.bin"), vis)}
        if i < GOLDEN_FULL_HR:
            e["lr_pixel_values"] = write_bin(os.path.join(gdir, name + ".lr_pixels.bin"), lr)
            e["hr_pixel_values"] = write_bin(os.path.join(gdir, name + ".hr_pixels.bin"), hr)
            if hr_f is not None:
                e["hr_features"] = write_bin(os.path.join(gdir, name + ".hr_features.bin"), hr_f)
        tasks = world.all_tasks(scene)
        pick = [tasks[0]] + [t for t in tasks if t.template == "sign_text"] + \
               [t for t in tasks if t.kind == "generate"][:1] + [t for t in tasks if t.template == "where"][:1]
        e["tasks"] = []
        for t in pick:
            ids = prompt_ids(tok, t.prompt, cfg.n_tokens)
            emb = loaded.prompt_embeds(t.prompt, vis.float())
            tt = emb.shape[0]
            logits, _ = exact.lm(emb.double().unsqueeze(0), torch.ones(1, tt, dtype=torch.long),
                                 torch.arange(tt).unsqueeze(0))
            gen_ids = greedy(m.lm, [emb], tok.id("<end_of_turn>"), 96)[0]
            answer = tok.decode(gen_ids)
            e["tasks"].append({"kind": t.kind, "template": t.template, "prompt": t.prompt,
                               "chat_text": chat_prompt(t.prompt), "prompt_ids": ids,
                               "last_logits": [round(float(x), 6) for x in logits[0, -1]],
                               "expected": t.answer, "greedy_answer": answer,
                               "greedy_ids": gen_ids})
        entries.append(e)
    with open(os.path.join(gdir, "golden.json"), "w") as f:
        json.dump({"model_dir": "..", "scenes": entries}, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--tokenizer", default=None, help="default: tokenizer.json beside the checkpoint's folder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--model-id", default=None)
    ap.add_argument("--golden", action="store_true")
    ap.add_argument("--pytorch-only", action="store_true",
                    help="checkpoint and tokenizer only (the ablation: evaluated in PyTorch, not served)")
    a = ap.parse_args()
    tok_path = a.tokenizer or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(a.checkpoint))),
                                           "tokenizer.json")
    loaded = Loaded.from_checkpoint(a.checkpoint, tok_path)
    os.makedirs(os.path.join(a.out, "pytorch"), exist_ok=True)
    for f in os.listdir(a.out):
        if f.endswith(".onnx"):
            os.remove(os.path.join(a.out, f))
    save_half(loaded, os.path.join(a.out, "pytorch", "model.pt"))
    out_tok = os.path.join(a.out, "tokenizer.json")
    # re-exporting into the folder the tokenizer comes from (a new checkpoint over the shipped model)
    if not (os.path.exists(out_tok) and os.path.samefile(tok_path, out_tok)):
        shutil.copy(tok_path, out_tok)
    if a.pytorch_only:
        print(f"exported the PyTorch checkpoint to {a.out}")
        return
    export_all(loaded, a.out)
    model_id = a.model_id or os.path.basename(os.path.normpath(a.out))
    with open(os.path.join(a.out, "model.json"), "w") as f:
        json.dump(manifest(loaded, model_id), f, indent=2)
    if a.golden:
        golden(loaded, a.out)
    print(f"exported {model_id} to {a.out}")


if __name__ == "__main__":
    main()
