#!/usr/bin/env python3
"""Exports mgm-gen-tiny to ONNX with SDXL's split, its manifest, tokenizer and golden samples.

Usage: models/py models/export_gen.py --checkpoint models/work-gen/model.pt --out models/mgm-gen-tiny [--golden]
       models/py models/export_gen.py --random-fixture --golden \
           --out model-runtime/src/test/resources/generator-fixture   (the Java tests' small random model)

Graphs (dynamic batch axes): text_encoder.onnx (input_ids -> hidden_states), text_encoder_2.onnx
(input_ids -> hidden_states, text_embeds), unet.onnx (sample, timestep, encoder_hidden_states,
text_embeds, time_ids -> out_sample), vae_decoder.onnx (latent_sample -> sample). `model.json`
(format mgm-stream/generator@1) names them and holds the scheduler, the latent scaling factor, the
time ids and the defaults; models/README.md maps a real SDXL export onto the same fields.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mgm import world  # noqa: E402
from mgm.diffusion import GenConfig, TinyGen  # noqa: E402
from mgm.gen_sampler import euler_schedule, normal_noise, sample, time_ids  # noqa: E402
from mgm.tokenizer import Tokenizer, build_vocab  # noqa: E402
from train_gen import encode_text, shape_scenes  # noqa: E402

OPSET = 14
GOLDEN_SEED = 4343
DEFAULT_STEPS = 20
DEFAULT_GUIDANCE = 5.0


class _TE1(torch.nn.Module):
    def __init__(self, m): super().__init__(); self.m = m
    def forward(self, input_ids): return self.m(input_ids)


class _TE2(torch.nn.Module):
    def __init__(self, m): super().__init__(); self.m = m
    def forward(self, input_ids): return self.m(input_ids)


def load(path: str):
    ck = torch.load(path)
    cfg = GenConfig.from_dict(ck["config"])
    m = TinyGen(cfg, ck["eos_id"])
    missing, unexpected = m.load_state_dict(
        {k: v.float() if v.is_floating_point() else v for k, v in ck["state"].items()}, strict=False)
    # exports drop the VAE encoder, which only training uses
    if unexpected or any(not k.startswith("vae_encoder.") for k in missing):
        raise ValueError(f"checkpoint does not match the model: missing {missing}, unexpected {unexpected}")
    return m.eval(), cfg


@torch.no_grad()
def export_graphs(m: TinyGen, cfg: GenConfig, out: str) -> None:
    ids = torch.zeros(2, cfg.text_len, dtype=torch.long)
    ids[:, 0], ids[:, 3] = 2, 1
    batch = {0: "batch"}
    torch.onnx.export(_TE1(m.text_encoder), (ids,), os.path.join(out, "text_encoder.onnx"), opset_version=OPSET,
                      input_names=["input_ids"], output_names=["hidden_states"],
                      dynamic_axes={"input_ids": batch, "hidden_states": batch})
    torch.onnx.export(_TE2(m.text_encoder_2), (ids,), os.path.join(out, "text_encoder_2.onnx"),
                      opset_version=OPSET, input_names=["input_ids"], output_names=["hidden_states", "text_embeds"],
                      dynamic_axes={"input_ids": batch, "hidden_states": batch, "text_embeds": batch})
    x = torch.randn(2, cfg.latent_channels, cfg.latent, cfg.latent)
    ctx, pooled = m.encode_prompt(ids)
    torch.onnx.export(m.unet, (x, torch.tensor([500.0, 20.0]), ctx, pooled, time_ids(cfg, 2)),
                      os.path.join(out, "unet.onnx"), opset_version=OPSET,
                      input_names=["sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids"],
                      output_names=["out_sample"],
                      dynamic_axes={n: batch for n in ("sample", "timestep", "encoder_hidden_states",
                                                       "text_embeds", "time_ids", "out_sample")})
    torch.onnx.export(m.vae_decoder, (x,), os.path.join(out, "vae_decoder.onnx"), opset_version=OPSET,
                      input_names=["latent_sample"], output_names=["sample"],
                      dynamic_axes={"latent_sample": batch, "sample": batch})


def manifest(cfg: GenConfig, model_id: str) -> dict:
    tokenizer = {"file": "tokenizer.json", "max_length": cfg.text_len, "bos": "<bos>", "eos": "<eos>",
                 "pad": "<pad>", "add_special_tokens": False}
    return {
        "format": "mgm-stream/generator@1",
        "model_id": model_id,
        "image": {"width": cfg.image, "height": cfg.image},
        "latent": {"channels": cfg.latent_channels, "height": cfg.latent, "width": cfg.latent,
                   "scaling_factor": cfg.scaling_factor},
        "text_encoders": [
            {"file": "text_encoder.onnx", "tokenizer": tokenizer, "input": "input_ids",
             "hidden_output": "hidden_states"},
            {"file": "text_encoder_2.onnx", "tokenizer": tokenizer, "input": "input_ids",
             "hidden_output": "hidden_states", "pooled_output": "text_embeds"},
        ],
        "unet": {"file": "unet.onnx", "sample": "sample", "timestep": "timestep", "timestep_dtype": "float32",
                 "encoder_hidden_states": "encoder_hidden_states", "text_embeds": "text_embeds",
                 "time_ids": "time_ids", "output": "out_sample"},
        "vae_decoder": {"file": "vae_decoder.onnx", "input": "latent_sample", "output": "sample"},
        "time_ids": [cfg.image, cfg.image, 0, 0, cfg.image, cfg.image],
        "scheduler": {"type": "euler_discrete", "train_timesteps": cfg.train_timesteps,
                      "beta_start": cfg.beta_start, "beta_end": cfg.beta_end, "beta_schedule": "scaled_linear",
                      "timestep_spacing": "leading", "steps_offset": 1, "prediction_type": "epsilon"},
        "noise": "splitmix64-box-muller",
        "defaults": {"steps": DEFAULT_STEPS, "guidance": DEFAULT_GUIDANCE, "negative_prompt": ""},
    }


@torch.no_grad()
def golden(m: TinyGen, cfg: GenConfig, tok: Tokenizer, out: str, count: int = 4) -> None:
    gdir = os.path.join(out, "golden")
    shutil.rmtree(gdir, ignore_errors=True)
    os.makedirs(gdir)
    prompts = [s.caption(with_sign=False) for s in shape_scenes(GOLDEN_SEED, count)]
    entries = []
    for i, p in enumerate(prompts):
        seed = 1000 + i
        ids = encode_text(tok, [p], cfg.text_len)
        img = sample(m, ids, encode_text(tok, [""], cfg.text_len), [seed], DEFAULT_STEPS, DEFAULT_GUIDANCE)[0]
        name = f"sample-{i:02d}.png"
        Image.fromarray(img).save(os.path.join(gdir, name))
        noise = normal_noise(seed, (cfg.latent_channels, cfg.latent, cfg.latent))
        entries.append({"prompt": p, "seed": seed, "input_ids": ids[0].tolist(), "image": name,
                        "noise_head": [round(float(v), 7) for v in noise.reshape(-1)[:16]]})
    ts, sig = euler_schedule(cfg, DEFAULT_STEPS)
    with open(os.path.join(gdir, "golden.json"), "w") as f:
        json.dump({"steps": DEFAULT_STEPS, "guidance": DEFAULT_GUIDANCE, "negative_prompt": "",
                   "timesteps": ts.tolist(), "sigmas": [float(s) for s in sig], "samples": entries}, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="a trained model.pt (from train_gen.py)")
    ap.add_argument("--random-fixture", action="store_true",
                    help="instead of a checkpoint, a very small random model: a test fixture for the Java side's "
                         "plumbing and parity tests, not a generator")
    ap.add_argument("--out", required=True)
    ap.add_argument("--golden", action="store_true")
    a = ap.parse_args()
    if a.random_fixture:
        tok = Tokenizer(build_vocab())
        cfg = GenConfig(vocab_size=len(tok), unet_dims=(16, 32), vae_dims=(8, 16, 16), te1_dim=16, te2_dim=16,
                        time_dim=32, time_id_dim=8, scaling_factor=0.5)
        torch.manual_seed(0)
        m = TinyGen(cfg, tok.id("<eos>")).eval()
    elif a.checkpoint:
        m, cfg = load(a.checkpoint)
        tok = Tokenizer.load(os.path.join(os.path.dirname(os.path.abspath(a.checkpoint)), "tokenizer.json"))
    else:
        ap.error("give --checkpoint or --random-fixture")
    state = m.state_dict()
    for v in state.values():          # fp16-representable weights: half the checkpoint, same graphs
        if v.is_floating_point():
            v.copy_(v.half().float())
    os.makedirs(a.out, exist_ok=True)
    if not a.random_fixture:
        os.makedirs(os.path.join(a.out, "pytorch"), exist_ok=True)
        torch.save({"config": cfg.to_dict(), "eos_id": m.text_encoder_2.eos_id,
                    "state": {k: v.half() if v.is_floating_point() else v for k, v in state.items()
                              if not k.startswith("vae_encoder.")}},
                   os.path.join(a.out, "pytorch", "model.pt"))
    tok.save(os.path.join(a.out, "tokenizer.json"))
    export_graphs(m, cfg, a.out)
    model_id = os.path.basename(os.path.normpath(a.out))
    with open(os.path.join(a.out, "model.json"), "w") as f:
        json.dump(manifest(cfg, model_id), f, indent=2)
    if a.golden:
        golden(m, cfg, tok, a.out)
    print(f"exported {model_id} to {a.out}")


if __name__ == "__main__":
    main()
