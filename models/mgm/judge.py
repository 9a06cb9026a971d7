"""Judges a generated image against its prompt cell by cell, as the world spec says, without a model.

A cell the prompt names must show a shape of the named colour: the dominant non-background colour in
that cell. A cell it does not name must be background. Each pixel is assigned to the nearest palette
colour (the three backgrounds and the four shape colours); a cell's dominant colour is the shape
colour with most pixels, if those cover at least `min_share` of the cell, else the cell is background.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import world

PALETTE_NAMES = list(world.BACKGROUNDS) + list(world.COLORS)
PALETTE = np.array(list(world.BACKGROUNDS.values()) + list(world.COLORS.values()), dtype=np.float32)
N_BG = len(world.BACKGROUNDS)
ITEM = re.compile(r"a (small|large) (red|green|blue|yellow) (circle|square|triangle) at the ([a-z ]+)")


def named_cells(prompt: str) -> Dict[int, str]:
    """Cell index -> colour named by a generation prompt (a caption without a sign)."""
    text = prompt.strip().rstrip(".")
    out = {}
    for part in re.split(r", | and ", text):
        m = ITEM.fullmatch(part.strip())
        if not m:
            raise ValueError(f"not a caption item: {part!r}")
        out[world.CELLS.index(m.group(4))] = m.group(2)
    return out


def cell_colours(img: np.ndarray, min_share: float = 0.02) -> List[Optional[str]]:
    """(H, W, 3) uint8 -> the dominant shape colour of each of the 9 cells, or None for background."""
    h, w, _ = img.shape
    px = img.astype(np.float32)
    d = ((px[:, :, None, :] - PALETTE[None, None]) ** 2).sum(-1)
    nearest = d.argmin(-1)
    out = []
    for cell in range(9):
        r, c = divmod(cell, 3)
        block = nearest[r * h // 3:(r + 1) * h // 3, c * w // 3:(c + 1) * w // 3]
        counts = np.bincount(block.ravel(), minlength=len(PALETTE))[N_BG:]
        k = int(counts.argmax())
        out.append(PALETTE_NAMES[N_BG + k] if counts[k] >= min_share * block.size else None)
    return out


def judge(img: np.ndarray, prompt: str) -> Tuple[int, int]:
    """(cells right, 9) for one image."""
    want = named_cells(prompt)
    got = cell_colours(img)
    return sum(got[c] == want.get(c) for c in range(9)), 9
