#!/usr/bin/env python3
"""Writes held-out scenes of the evaluation-only renderer (mgm/world_alt.py) as image files, with the
PyTorch model's greedy answer to every task the held-out evaluation asks of them.

Usage: models/py models/shifted_answers.py --out DIR [--model models/mgm-tiny] [--seed 4242] [--scenes 12]
                                           [--threads 0]
The scenes, tasks and answers are those of `evaluate.py --renderer alt --seed N --scenes K` (its own
functions produce them). Each image is written as the file the evaluation decoded: the JPEG bytes PIL
re-encoded a scene as, or a lossless PNG of the rendered pixels, so that another runtime (the Java
pipeline, model-runtime's ShiftedRenderParityTest) decodes the same bytes and can be held to the same
answers. DIR/answers.json lists the templates the evaluation asks and, per scene, its image file and
every task: template, kind, prompt, the model's answer and the world's true answer.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402
from mgm import world, world_alt  # noqa: E402
from mgm.io import Loaded  # noqa: E402

RENDERER = "alt"
DEFAULT_SEED = 4242


def write_scenes(scenes, tasks, answers, out_dir: str) -> dict:
    """Writes each scene's image file into `out_dir` and returns the answers document (not yet saved)."""
    os.makedirs(out_dir, exist_ok=True)
    docs = []
    for i, (scene, jpeg) in enumerate(scenes):
        data, ext = world_alt.scene_file(scene, jpeg)
        decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        # the file must be what the evaluation fed the model, or matching answers would prove nothing
        if not np.array_equal(decoded, np.asarray(world_alt.scene_image(scene, jpeg))):
            raise AssertionError(f"scene {i}: the {ext} file does not decode to the evaluation's pixels")
        name = f"scene-{i:04d}.{ext}"
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
        docs.append({"index": i, "image": name,
                     "jpeg": None if jpeg is None else {"quality": jpeg[0], "subsampling": jpeg[1]},
                     "sign": scene.sign is not None, "tasks": []})
    for (i, t), a in zip(tasks, answers):
        docs[i]["tasks"].append({"template": t.template, "kind": t.kind, "prompt": t.prompt, "answer": a,
                                 "truth": t.answer})
    return {"renderer": RENDERER, "templates": list(world.TEMPLATES), "scenes": docs}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(here, "mgm-tiny"))
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED,
                    help="scene seed (never 1000, 2000 or 2001: training's)")
    ap.add_argument("--scenes", type=int, default=12)
    ap.add_argument("--out", required=True, help="folder for the image files and answers.json")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: every core)")
    a = ap.parse_args()
    if a.seed in (1000, 2000, 2001):
        raise SystemExit(f"seed {a.seed} is one training uses")
    t0 = time.time()
    scenes, tasks = evaluate.held_out(a.scenes, a.seed, RENDERER)
    m = Loaded.from_dir(a.model)
    torch.set_num_threads(a.threads or max(1, os.cpu_count() or 1))
    answers = evaluate.answer_tasks(m, scenes, tasks, renderer=RENDERER)
    doc = write_scenes(scenes, tasks, answers, a.out)
    doc.update({"model": os.path.abspath(a.model), "seed": a.seed})
    with open(os.path.join(a.out, "answers.json"), "w") as f:
        json.dump(doc, f, indent=1)
    print(f"{len(scenes)} scenes (seed {a.seed}, {RENDERER} renderer), {len(tasks)} answers in "
          f"{time.time() - t0:.1f}s -> {a.out}", flush=True)


if __name__ == "__main__":
    main()
