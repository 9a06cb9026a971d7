#!/usr/bin/env python3
"""Trains mgm-gen-tiny, the text-to-image model behind the generation stage, in one command.

  1. render shape scenes of the world (signs left out: the generator does not draw text) at the
     model's image size, with their canonical captions as the conditions;
  2. train the VAE (encoder and decoder) on the images, then fix its latent scaling factor;
  3. cache the latents and train the two text encoders and the UNet together on epsilon prediction,
     with the prompt dropped to the empty prompt for a tenth of the examples (classifier-free
     guidance needs the unconditional prediction).

Usage: models/py models/train_gen.py [--work models/work-gen]
Everything is seeded; progress goes to stdout and to WORK/train.log.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from multiprocessing import Pool

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mgm import world  # noqa: E402
from mgm.progress import ProgressLog  # noqa: E402
from mgm.diffusion import GenConfig, TinyGen  # noqa: E402
from mgm.gen_sampler import time_ids, to_uint8  # noqa: E402
from mgm.judge import judge  # noqa: E402
from mgm.tokenizer import Tokenizer, build_vocab  # noqa: E402

TRAIN_SEED = 3000
CHECK_SEED = 3100    # quick checks during training; evaluate_gen.py uses another seed
log = ProgressLog()


def render_small(args):
    scene, size = args
    return np.asarray(world.render(scene).resize((size, size), Image.BOX), dtype=np.uint8)


def shape_scenes(seed: int, count: int):
    rng = random.Random(seed)
    return [world.random_scene(rng, sign_probability=0.0) for _ in range(count)]


def encode_text(tok: Tokenizer, texts, length: int) -> torch.Tensor:
    """<bos> text <eos> then <pad> up to `length`, as the manifest tells the Java side."""
    ids = torch.full((len(texts), length), tok.id("<pad>"), dtype=torch.long)
    for i, t in enumerate(texts):
        seq = [tok.id("<bos>")] + (tok.encode(t) if t else []) + [tok.id("<eos>")]
        if len(seq) > length:
            raise ValueError(f"prompt longer than {length} tokens: {t!r}")
        ids[i, :len(seq)] = torch.tensor(seq)
    return ids


def cosine(step: int, total: int, base: float, warmup: int = 100) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))


def to_tensor(imgs: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def train_vae(model: TinyGen, images: np.ndarray, steps: int, batch: int = 32):
    params = list(model.vae_encoder.parameters()) + list(model.vae_decoder.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(21)
    for step in range(steps):
        for pg in opt.param_groups:
            pg["lr"] = cosine(step, steps, 1e-3)
        x = to_tensor(images[torch.randint(0, len(images), (batch,), generator=g).numpy()])
        mean, logvar = model.vae_encoder(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g)
        rec = model.vae_decoder(z)
        kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).mean()
        loss = F.l1_loss(rec, x) + F.mse_loss(rec, x) + 1e-4 * kl
        opt.zero_grad(); loss.backward(); opt.step()
        if step % 200 == 0 or step == steps - 1:
            log(f"VAE step {step}/{steps} loss {loss.item():.4f} kl {kl.item():.3f}")


@torch.no_grad()
def latents_of(model: TinyGen, images: np.ndarray) -> torch.Tensor:
    return torch.cat([model.vae_encoder(to_tensor(images[i:i + 256]))[0] for i in range(0, len(images), 256)])


def quick_check(model: TinyGen, cfg: GenConfig, tok: Tokenizer, n: int = 24, steps: int = 10) -> str:
    """Cell accuracy of n images from prompts of seed CHECK_SEED, judged as evaluate_gen.py does."""
    from evaluate_gen import held_out_prompts, judge_prompts   # here: evaluate_gen imports this module
    model.eval()
    r = judge_prompts(model, cfg, tok, held_out_prompts(CHECK_SEED, n), steps, 5.0)
    model.train()
    return f"cells {r['cell_accuracy']:.3f} named cells {r['named_accuracy']:.3f} ({n} prompts, {steps} steps)"


@torch.no_grad()
def vae_check(model: TinyGen, images: np.ndarray) -> str:
    """How many cells the judge still reads right after a trip through the VAE."""
    scenes = shape_scenes(CHECK_SEED, 64)
    imgs = np.stack([render_small((s, images.shape[1])) for s in scenes])
    rec = to_uint8(model.vae_decoder(model.vae_encoder(to_tensor(imgs))[0]))
    ok = sum(judge(r, s.caption(with_sign=False))[0] for r, s in zip(rec, scenes))
    return f"{ok / (9 * len(scenes)):.3f}"


def train_unet(model: TinyGen, cfg: GenConfig, latents: torch.Tensor, ids: torch.Tensor, empty: torch.Tensor,
               steps: int, tok: Tokenizer, batch: int = 32, check_every: int = 1000, lr: float = 1e-3):
    params = list(model.unet.parameters()) + list(model.text_encoder.parameters()) \
        + list(model.text_encoder_2.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    ac = cfg.alphas_cumprod().float()
    g = torch.Generator().manual_seed(22)
    tids = time_ids(cfg, batch)
    t_start = time.time()
    for step in range(steps):
        for pg in opt.param_groups:
            pg["lr"] = cosine(step, steps, lr)
        idx = torch.randint(0, len(latents), (batch,), generator=g)
        x0 = latents[idx] * cfg.scaling_factor
        cond = ids[idx].clone()
        drop = torch.rand(batch, generator=g) < 0.1
        cond[drop] = empty
        t = torch.randint(0, cfg.train_timesteps, (batch,), generator=g)
        noise = torch.randn(x0.shape, generator=g)
        a = ac[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        ctx, pooled = model.encode_prompt(cond)
        pred = model.unet(xt, t.float(), ctx, pooled, tids)
        loss = F.mse_loss(pred, noise)
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 250 == 0 or step == steps - 1:
            el = time.time() - t_start
            log(f"UNet step {step}/{steps} loss {loss.item():.4f} elapsed {el / 60:.1f} min "
                f"eta {el / (step + 1) * (steps - step - 1) / 60:.1f} min")
        if (step + 1) % check_every == 0 or step == steps - 1:
            log(f"UNet quick check at step {step + 1}: {quick_check(model, cfg, tok)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "work-gen"))
    ap.add_argument("--scenes", type=int, default=12000)
    ap.add_argument("--vae-steps", type=int, default=500)
    ap.add_argument("--unet-steps", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (for mgm-tiny's small layers two threads ran slower than one)")
    ap.add_argument("--lr", type=float, default=1e-3, help="UNet and text encoders' peak learning rate")
    ap.add_argument("--reuse-vae", metavar="MODEL_PT",
                    help="take the VAE and its scaling factor from an earlier model.pt instead of training one")
    ap.add_argument("--resume", metavar="MODEL_PT",
                    help="continue an earlier model.pt: its VAE, text encoders and UNet, for --unet-steps more "
                         "steps on a fresh learning-rate schedule")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    log.path = os.path.join(a.work, "train.log")
    torch.set_num_threads(a.threads)
    random.seed(0); np.random.seed(0); torch.manual_seed(0)
    tok = Tokenizer(build_vocab())
    tok.save(os.path.join(a.work, "tokenizer.json"))
    cfg = GenConfig(vocab_size=len(tok))
    earlier = torch.load(a.resume or a.reuse_vae, map_location="cpu") if (a.resume or a.reuse_vae) else None
    if a.resume:
        cfg = GenConfig.from_dict(earlier["config"])
    log(f"rendering {a.scenes} shape scenes at {cfg.image} px (seed {TRAIN_SEED})")
    scenes = shape_scenes(TRAIN_SEED, a.scenes)
    with Pool(2) as p:
        images = np.stack(p.map(render_small, [(s, cfg.image) for s in scenes], chunksize=64))
    model = TinyGen(cfg, tok.id("<eos>"))
    if a.resume:
        model.load_state_dict(earlier["state"])
        log(f"resuming {a.resume}")
    elif a.reuse_vae:
        vae = {k: v for k, v in earlier["state"].items() if k.startswith("vae_")}
        model.load_state_dict(vae, strict=False)
        log(f"VAE from {a.reuse_vae}")
    else:
        train_vae(model, images, a.vae_steps)
    model.eval()
    log(f"VAE round trip: {vae_check(model, images)} of held-out cells judged right")
    latents = latents_of(model, images)
    cfg.scaling_factor = float(earlier["config"]["scaling_factor"]) if earlier else float(1.0 / latents.std())
    log(f"latent scaling factor {cfg.scaling_factor:.4f}")
    ids = encode_text(tok, [s.caption(with_sign=False) for s in scenes], cfg.text_len)
    empty = encode_text(tok, [""], cfg.text_len)[0]
    model.train()
    train_unet(model, cfg, latents, ids, empty, a.unet_steps, tok, lr=a.lr)
    torch.save({"config": cfg.to_dict(), "eos_id": tok.id("<eos>"), "state": model.state_dict()},
               os.path.join(a.work, "model.pt"))
    log(f"saved {a.work}/model.pt")


if __name__ == "__main__":
    main()
