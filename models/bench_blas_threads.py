#!/usr/bin/env python3
"""Benchmark: mgm-tiny's training steps with Debian's OpenBLAS left to its own threads against one BLAS
thread per process (what models/py sets), in one run; prints both step times and their ratio.

Usage: models/py models/bench_blas_threads.py [--steps 12] [--threads 2] [--batch 8]
Each setting runs in a child process started with the bare interpreter, so models/py's setting does not
leak into the "default" one. A step: the visual path of a freshly initialised mgm-tiny (LR ViT, HR
ConvNeXt, mining and projector, the parts the end-to-end stage trains besides the LM) forward and
backward on random 384x384 images, then AdamW.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def child(steps: int, threads: int, batch: int) -> None:
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from mgm.model import Config, MGMTiny
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    cfg = Config(vocab_size=64)
    model = MGMTiny(cfg)
    opt = torch.optim.AdamW([p for n, p in model.named_parameters() if not n.startswith("lm.")], 1e-4)
    hr = torch.randn(batch, 3, cfg.hr_size, cfg.hr_size)
    lr = torch.nn.functional.interpolate(hr, size=cfg.lr_size, mode="bilinear", align_corners=False)
    for i in range(steps + 2):      # two warm-up steps
        if i == 2:
            t0 = time.perf_counter()
        loss = model.visual_tokens(lr, hr).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"{(time.perf_counter() - t0) / steps:.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the end-to-end stage uses 2)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.steps, a.threads, a.batch)
        return
    base = {k: v for k, v in os.environ.items()
            if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GOTO_NUM_THREADS")}
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--steps", str(a.steps),
           "--threads", str(a.threads), "--batch", str(a.batch)]
    times = {}
    settings = (("OpenBLAS's own threads", base), ("OPENBLAS_NUM_THREADS=1", {**base, "OPENBLAS_NUM_THREADS": "1"}))
    for name, env in settings:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        times[name] = float(out.stdout.strip().splitlines()[-1])
        print(f"{name:>24}: {times[name]:.3f} s a step ({a.steps} steps, {a.threads} torch threads, batch {a.batch})",
              flush=True)
    slow, fast = times.values()
    print(f"one BLAS thread is {slow / fast:.2f}x as fast")


if __name__ == "__main__":
    main()
