#!/usr/bin/env python3
"""Evaluates mgm-tiny (and its LR-only ablation) on a held-out set and writes the model card table.

Usage: models/py models/evaluate.py [--model models/mgm-tiny] [--ablation models/mgm-tiny-lronly]
                                    [--scenes 300] [--card models/mgm-tiny/MODEL_CARD.md]
                                    [--renderer train|alt] [--seed N]
The held-out scenes come from seed 9001, which training never uses (it uses 1000 and 2000).
`--renderer alt` draws them with mgm/world_alt.py, the second rendering path that training never
sees; with `--seed` a fresh seed (see the card for which seeds were used for choices).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from collections import Counter

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mgm import world  # noqa: E402
from mgm.data import from_uint8, lr_from_hr  # noqa: E402
from mgm.io import Loaded  # noqa: E402

EVAL_SEED = 9001
PER_TEMPLATE = 2   # instances of each applicable template per scene


def caption_items(text: str):
    text = text.strip()
    if text.endswith("."):
        text = text[:-1]
    return [tuple(i.split()) for i in re.split(r", | and ", text) if i]


def f1(pred: str, gold: str) -> float:
    p, g = Counter(caption_items(pred)), Counter(caption_items(gold))
    tp = sum((p & g).values())
    if tp == 0:
        return 0.0
    prec, rec = tp / sum(p.values()), tp / sum(g.values())
    return 2 * prec * rec / (prec + rec)


def held_out(n: int, seed: int = EVAL_SEED, renderer: str = "train"):
    if renderer == "alt":
        from mgm import world_alt   # evaluation only: training never imports it
        scenes = world_alt.sample_scenes(seed, n)
    else:
        scenes = world.sample_scenes(seed, n)
    rng = random.Random(seed)
    tasks = []
    for i, (scene, _) in enumerate(scenes):
        by = {}
        for t in world.all_tasks(scene):
            by.setdefault(t.template, []).append(t)
        for tmpl in world.TEMPLATES:
            if tmpl in by:
                for t in rng.sample(by[tmpl], min(PER_TEMPLATE, len(by[tmpl]))):
                    tasks.append((i, t))
    return scenes, tasks


def scene_images(scenes, renderer: str = "train") -> np.ndarray:
    if renderer == "alt":
        from mgm import world_alt
        return np.stack([np.asarray(world_alt.scene_image(s, q)) for s, q in scenes])
    return np.stack([np.asarray(world.scene_image(s, q)) for s, q in scenes])


@torch.no_grad()
def visual_tokens(m: Loaded, image_chunks) -> torch.Tensor:
    """Every image's visual tokens; the images come in uint8 chunks so that only one chunk is in memory."""
    vis = []
    for imgs in image_chunks:
        hr = from_uint8(imgs)
        vis.append(m.model.visual_tokens(lr_from_hr(hr, m.cfg.lr_size), hr if m.cfg.use_hr else None))
    return torch.cat(vis)


@torch.no_grad()
def answer_tasks(m: Loaded, scenes, tasks, batch: int = 64, renderer: str = "train"):
    """The model's greedy answer to every task, in the tasks' order (batched by template)."""
    vis = visual_tokens(m, (scene_images(scenes[i:i + 32], renderer) for i in range(0, len(scenes), 32)))
    order = sorted(range(len(tasks)), key=lambda k: tasks[k][1].template)
    answers = [None] * len(tasks)
    for j in range(0, len(order), batch):
        idx = order[j:j + batch]
        outs = m.answer_many([vis[tasks[k][0]] for k in idx], [tasks[k][1].prompt for k in idx])
        for k, o in zip(idx, outs):
            answers[k] = o
    return answers


@torch.no_grad()
def evaluate(model_dir: str, scenes, tasks, batch: int = 64, renderer: str = "train", threads: int = 0):
    m = Loaded.from_dir(model_dir)
    torch.set_num_threads(threads or max(1, os.cpu_count() or 1))
    answers = answer_tasks(m, scenes, tasks, batch, renderer)
    per, cap_f1 = {}, []
    for (i, t), a in zip(tasks, answers):
        ok, n = per.get(t.template, (0, 0))
        per[t.template] = (ok + (a.strip() == t.answer), n + 1)
        if t.template == "caption":
            cap_f1.append(f1(a, t.answer))
    gen = [per[k] for k in ("gen_recolor", "gen_remove", "gen_describe") if k in per]
    summary = {k: {"correct": v[0], "total": v[1], "accuracy": v[0] / v[1]} for k, v in per.items()}
    summary["caption_f1"] = {"mean": float(np.mean(cap_f1)) if cap_f1 else 0.0, "total": len(cap_f1)}
    summary["generation_all"] = {"correct": sum(g[0] for g in gen), "total": sum(g[1] for g in gen),
                                 "accuracy": sum(g[0] for g in gen) / max(1, sum(g[1] for g in gen))}
    return summary


BARS = {"caption": 0.80, "sign_text": 0.85, "generation_all": 0.90}


def card_table(results: dict) -> str:
    names = list(results)
    lines = ["| template | " + " | ".join(names) + " | bar |", "|---|" + "---|" * len(names) + "---|"]
    rows = world.TEMPLATES + ["generation_all"]
    for r in rows:
        cells = []
        for n in names:
            s = results[n].get(r)
            cells.append(f"{s['accuracy'] * 100:.1f}% ({s['correct']}/{s['total']})" if s else "-")
        bar = BARS.get(r, 0.95 if not r.startswith("gen_") and r != "caption" else None)
        bar_s = f">= {bar * 100:.0f}%" if bar else ""
        if r == "sign_text":
            bar_s += " (LR-only <= 25%)"
        lines.append(f"| {r} | " + " | ".join(cells) + f" | {bar_s} |")
    lines.append("| caption object F1 | " + " | ".join(f"{results[n]['caption_f1']['mean']:.3f}" for n in names) + " | |")
    return "\n".join(lines)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(here, "mgm-tiny"))
    ap.add_argument("--ablation", default=os.path.join(here, "mgm-tiny-lronly"))
    ap.add_argument("--scenes", type=int, default=300)
    ap.add_argument("--json", default=None, help="also write the full results here")
    ap.add_argument("--card", default=None, help="replace the table between the EVAL markers in this file")
    ap.add_argument("--renderer", choices=["train", "alt"], default="train",
                    help="draw the scenes with the training renderer or the independent one (mgm/world_alt.py)")
    ap.add_argument("--seed", type=int, default=EVAL_SEED, help="scene seed (never 1000 or 2000: training's)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: every core)")
    a = ap.parse_args()
    if a.seed in (1000, 2000, 2001):
        raise SystemExit(f"seed {a.seed} is one training uses")
    scenes, tasks = held_out(a.scenes, a.seed, a.renderer)
    print(f"held-out set: {len(scenes)} scenes (seed {a.seed}, {a.renderer} renderer), {len(tasks)} tasks",
          flush=True)
    results = {}
    for name, d in (("mgm-tiny", a.model), ("mgm-tiny-lronly", a.ablation)):
        if d and os.path.exists(os.path.join(d, "pytorch", "model.pt")):
            t = time.time()
            results[name] = evaluate(d, scenes, tasks, renderer=a.renderer, threads=a.threads)
            print(f"{name}: evaluated in {time.time() - t:.0f}s", flush=True)
    table = card_table(results)
    print(table)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    if a.card:
        text = open(a.card).read()
        start, end = "<!-- EVAL:START -->", "<!-- EVAL:END -->"
        head, rest = text.split(start)
        _, tail = rest.split(end)
        with open(a.card, "w") as f:
            f.write(head + start + "\n" + table + "\n" + end + tail)


if __name__ == "__main__":
    main()
