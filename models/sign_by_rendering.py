#!/usr/bin/env python3
"""Which of the independent renderer's choices cost mgm-tiny the sign: its sign reading on the same
alt-renderer scenes drawn with one choice changed at a time.

Usage: models/py models/sign_by_rendering.py [--model models/mgm-tiny] [--seed 7001] [--scenes 1000]
Variants: as drawn; without the JPEG re-encoding; every scene's text anti-aliased; every scene's text
one-bit; the text placed on whole pixels instead of quarter pixels. Use a seed already used for choices
(the card lists them): looking at a fresh seed here would spend it.
"""
from __future__ import annotations

import argparse
import os
import sys
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mgm import world_alt  # noqa: E402  (evaluation only, as in evaluate.py)
import evaluate  # noqa: E402
from mgm.io import Loaded  # noqa: E402

QUESTION = "What does the sign say?"
# the variants below stand in for world_alt._draw_text while a variant is drawn, so they call the original
# saved here: calling world_alt._draw_text would call the variant itself
_DRAW_TEXT = world_alt._draw_text


def whole_pixel_text(img, sign, box, antialias):
    """world_alt's text, its fine-grid position rounded down to whole pixels."""
    _DRAW_TEXT(img, sign, box, antialias, snap=True)


@torch.no_grad()
def read_signs(m: Loaded, images) -> list:
    vis = evaluate.visual_tokens(m, (np.stack(images[i:i + 32]) for i in range(0, len(images), 32)))
    out = []
    for i in range(0, len(vis), 64):
        part = list(vis[i:i + 64])
        out += [a.strip() for a in m.answer_many(part, [QUESTION] * len(part))]
    return out


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(here, "mgm-tiny"))
    ap.add_argument("--seed", type=int, default=7001)
    ap.add_argument("--scenes", type=int, default=1000, help="scenes drawn; about half hold a sign")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    m = Loaded.from_dir(a.model)
    signed = [(s, q) for s, q in world_alt.sample_scenes(a.seed, a.scenes) if s.sign is not None]
    gold = [s.sign.text for s, _ in signed]
    drawn = _DRAW_TEXT

    def text_antialias(on: bool):
        # the text only: the scene's flag also decides the shapes' edges, which the sign does not depend on
        return lambda img, sign, box, _antialias: drawn(img, sign, box, on)

    variants = [("as drawn", True, drawn),
                ("without JPEG", False, drawn),
                ("text anti-aliased", True, text_antialias(True)),
                ("text one-bit", True, text_antialias(False)),
                ("text on whole pixels", True, whole_pixel_text)]
    print(f"{len(signed)} signed scenes of {a.scenes} (seed {a.seed}, alt renderer), model {a.model}")
    for name, jpeg, draw in variants:
        world_alt._draw_text = draw
        try:
            images = [np.asarray(world_alt.scene_image(s, q if jpeg else None)) for s, q in signed]
        finally:
            world_alt._draw_text = drawn
        read = read_signs(m, images)
        ok = sum(r == g for r, g in zip(read, gold))
        wrong = [f"{g}->{r}" for r, g in zip(read, gold) if r != g]
        print(f"{name:22s} {ok}/{len(gold)} {100 * ok / len(gold):5.1f}%   e.g. {' '.join(wrong[:6])}", flush=True)


if __name__ == "__main__":
    main()
