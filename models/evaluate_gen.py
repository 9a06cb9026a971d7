#!/usr/bin/env python3
"""Judges mgm-gen-tiny on held-out prompts, cell by cell as the world spec says.

Usage: models/py models/evaluate_gen.py [--model models/mgm-gen-tiny] [--prompts 100] [--steps 20]
                                        [--guidance 5] [--card models/mgm-gen-tiny/MODEL_CARD.md]
The prompts are canonical captions of shape scenes from seed 9101, which training (3000), its quick
checks (3100) and the golden samples (4343) never use. Each image is sampled with the reference
sampler (mgm/gen_sampler.py, the one the Java stage matches) and judged by mgm/judge.py, which looks
at colours only and uses no model.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from typing import List

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mgm.diffusion import TinyGen, GenConfig  # noqa: E402
from mgm.gen_sampler import sample  # noqa: E402
from mgm.judge import cell_colours, judge, named_cells  # noqa: E402
from mgm.tokenizer import Tokenizer  # noqa: E402
from train_gen import encode_text, shape_scenes  # noqa: E402

EVAL_SEED = 9101
BAR = 0.80


def held_out_prompts(seed: int, n: int) -> List[str]:
    return [s.caption(with_sign=False) for s in shape_scenes(seed, n)]


@torch.no_grad()
def judge_prompts(m: TinyGen, cfg: GenConfig, tok: Tokenizer, prompts: List[str], steps: int, guidance: float,
                  seed0: int = 5000, batch: int = 25) -> dict:
    """Samples one image per prompt (seed seed0 + i) and totals the judge's verdicts."""
    right = named_ok = named = images_ok = 0
    negative = encode_text(tok, [""], cfg.text_len)
    for i in range(0, len(prompts), batch):
        chunk = prompts[i:i + batch]
        ids = encode_text(tok, chunk, cfg.text_len)
        imgs = sample(m, ids, negative.expand(len(chunk), -1), [seed0 + i + k for k in range(len(chunk))],
                      steps, guidance)
        for img, p in zip(imgs, chunk):
            ok, _ = judge(img, p)
            want, got = named_cells(p), cell_colours(img)
            right += ok
            images_ok += ok == 9
            named += len(want)
            named_ok += sum(got[c] == col for c, col in want.items())
    n = len(prompts)
    return {"prompts": n, "cells_right": right, "cells": 9 * n, "cell_accuracy": right / (9 * n),
            "named_cells_right": named_ok, "named_cells": named, "named_accuracy": named_ok / max(1, named),
            "images_all_right": images_ok, "steps": steps, "guidance": guidance}


def load_model(path: str):
    """An exported folder (its pytorch/model.pt and tokenizer.json) or a train_gen.py checkpoint."""
    from export_gen import load
    if os.path.isdir(path):
        ck, tok_file = os.path.join(path, "pytorch", "model.pt"), os.path.join(path, "tokenizer.json")
    else:
        ck, tok_file = path, os.path.join(os.path.dirname(path), "tokenizer.json")
    m, cfg = load(ck)
    return m, cfg, Tokenizer.load(tok_file)


def card_table(r: dict) -> str:
    return "\n".join([
        "| measure | mgm-gen-tiny | bar |",
        "|---|---|---|",
        f"| cells right | {100 * r['cell_accuracy']:.1f}% ({r['cells_right']}/{r['cells']}) | >= {100 * BAR:.0f}% |",
        f"| named cells right (a shape of the named colour) | {100 * r['named_accuracy']:.1f}% "
        f"({r['named_cells_right']}/{r['named_cells']}) | |",
        f"| images with all 9 cells right | {r['images_all_right']}/{r['prompts']} | |",
    ])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(here, "mgm-gen-tiny"),
                    help="an exported model folder or a train_gen.py checkpoint")
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=5.0)
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--card", default=None, help="replace the table between the EVAL markers in this file")
    a = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    m, cfg, tok = load_model(a.model)
    t0 = time.time()
    r = judge_prompts(m, cfg, tok, held_out_prompts(EVAL_SEED, a.prompts), a.steps, a.guidance)
    r["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(r, indent=1))
    print(card_table(r))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)
    if a.card:
        with open(a.card) as f:
            text = f.read()
        text, found = re.subn(r"(<!-- EVAL:START -->\n).*?(<!-- EVAL:END -->)",
                              lambda mt: mt.group(1) + card_table(r) + "\n" + mt.group(2), text, flags=re.S)
        if not found:
            raise SystemExit(f"{a.card} has no <!-- EVAL:START --> ... <!-- EVAL:END --> markers")
        with open(a.card, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
