"""A second rendering of the world, for evaluation only: written from shared/world/SPEC.md, not from
world.py's renderer, and never imported by training code.

A model that scores only on the renderer it was trained with may have learnt that renderer's pixels
rather than the world (issue 20: 90% of signs on its own renderer, 74% on an outside one). This one
takes the spec's free choices differently from the training renderer:
- shapes: analytic coverage on a 5 x 5 grid of samples per pixel when anti-aliased, a single sample
  at the pixel centre when not (the training renderer draws PIL polygons at 4x and box-filters);
- text: glyphs rasterised at 4x the size (56 px) and area-averaged down to 14 px, so hinting and
  anti-aliasing differ, thresholded at half coverage in aliased scenes; "centred in the rectangle"
  read as centring the ink's bounding box, at quarter-pixel precision (the training renderer centres
  PIL's "mm" anchor, on whole pixels);
- noise from its own generator; a third of the scenes re-encoded as JPEG at quality 90 to 98 (the
  spec's floor for tests), half of those without chroma subsampling.
The scenes themselves (what is where) and the answers come from `world`, which is the spec's content.
"""
from __future__ import annotations

import io
import os
import random
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import world

# The spec's numbers, restated here so this renderer does not inherit a slip in world.py's tables
# (tests/test_world_alt.py checks them against SPEC.md's text).
CANVAS = 384
CELL = 128
BACKGROUND = {"white": (255, 255, 255), "light gray": (235, 235, 235), "cream": (245, 240, 225)}
COLOR = {"red": (220, 40, 40), "green": (40, 160, 60), "blue": (40, 80, 220), "yellow": (230, 190, 20)}
SIDE = {"small": 40, "large": 88}
SIGN_SIZE = (72, 28)
BORDER = 2
FONT_PX = 14
FONT_FILE = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
NOISE = 6
SUPER = 5          # samples per pixel side for anti-aliased shapes
TEXT_SCALE = 4     # the text is drawn this many times larger, then area-averaged


def centre(cell: int) -> Tuple[int, int]:
    row, col = divmod(cell, 3)
    return col * CELL + CELL // 2, row * CELL + CELL // 2


def _coverage(shape: world.Shape, antialias: bool) -> Tuple[np.ndarray, int, int]:
    """Fraction of each pixel the shape covers, over its bounding pixels: (mask, x_origin, y_origin)."""
    cx, cy = centre(shape.cell)
    cx, cy = cx + shape.dx, cy + shape.dy
    side = SIDE[shape.size]
    half = side / 2
    x0, y0 = int(np.floor(cx - half)) - 1, int(np.floor(cy - half)) - 1
    n = side + 3
    s = SUPER if antialias else 1
    offs = (np.arange(s) + 0.5) / s
    xs = (x0 + np.arange(n)[:, None] + offs[None, :]).reshape(-1)    # sample x coordinates
    ys = (y0 + np.arange(n)[:, None] + offs[None, :]).reshape(-1)
    X, Y = np.meshgrid(xs, ys)
    if shape.shape == "circle":
        inside = (X - cx) ** 2 + (Y - cy) ** 2 <= half ** 2
    elif shape.shape == "square":
        inside = (X >= cx - half) & (X < cx + half) & (Y >= cy - half) & (Y < cy + half)
    else:
        # apex at the top centre, base at the bottom: the half-width grows from 0 to side / 2
        top, bottom = cy - half, cy + half
        inside = (Y >= top) & (Y < bottom) & (np.abs(X - cx) <= (Y - top) / 2)
    cov = inside.reshape(n, s, n, s).mean(axis=(1, 3))
    return cov, x0, y0


_GLYPHS = {}


def _text_mask(text: str) -> np.ndarray:
    """The text's ink at TEXT_SCALE times the size, cropped to its bounding box (values 0..1)."""
    if text not in _GLYPHS:
        font = ImageFont.truetype(FONT_FILE, FONT_PX * TEXT_SCALE)
        im = Image.new("L", (FONT_PX * TEXT_SCALE * 4, FONT_PX * TEXT_SCALE * 2), 0)
        ImageDraw.Draw(im).text((FONT_PX * TEXT_SCALE, FONT_PX * TEXT_SCALE // 2), text, fill=255, font=font)
        a = np.asarray(im, dtype=np.float64) / 255.0
        ys, xs = np.nonzero(a > 0)
        _GLYPHS[text] = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return _GLYPHS[text]


def _blend(img: np.ndarray, cov: np.ndarray, x0: int, y0: int, colour) -> None:
    h, w = cov.shape
    xa, ya = max(0, x0), max(0, y0)
    xb, yb = min(CANVAS, x0 + w), min(CANVAS, y0 + h)
    c = cov[ya - y0:yb - y0, xa - x0:xb - x0, None]
    img[ya:yb, xa:xb] = img[ya:yb, xa:xb] * (1 - c) + np.asarray(colour, dtype=np.float64) * c


def _draw_text(img: np.ndarray, sign: world.Sign, box: Tuple[int, int, int, int], antialias: bool,
               snap: bool = False) -> None:
    """snap: round the text's fine-grid position down to whole pixels (sign_by_rendering.py's variant)."""
    k = TEXT_SCALE
    ink = _text_mask(sign.text)
    x0, y0, x1, y1 = box
    # place the ink's centre on the rectangle's centre, on the fine grid, then pad to whole pixels
    fx = int(round((x0 + x1) / 2 * k - ink.shape[1] / 2))
    fy = int(round((y0 + y1) / 2 * k - ink.shape[0] / 2))
    px, py = fx // k, fy // k
    pad_l, pad_t = (0, 0) if snap else (fx - px * k, fy - py * k)
    h = -(-(pad_t + ink.shape[0]) // k) * k
    w = -(-(pad_l + ink.shape[1]) // k) * k
    fine = np.zeros((h, w))
    fine[pad_t:pad_t + ink.shape[0], pad_l:pad_l + ink.shape[1]] = ink
    cov = fine.reshape(h // k, k, w // k, k).mean(axis=(1, 3))
    if not antialias:
        cov = (cov >= 0.5).astype(np.float64)
    _blend(img, cov, px, py, (0, 0, 0))


def sign_rect(sign: world.Sign) -> Tuple[int, int, int, int]:
    cx, cy = centre(sign.cell)
    w, h = SIGN_SIZE
    x0, y0 = cx + sign.dx - w // 2, cy + sign.dy - h // 2
    return x0, y0, x0 + w, y0 + h


def render(scene: world.Scene) -> Image.Image:
    img = np.empty((CANVAS, CANVAS, 3), dtype=np.float64)
    img[:] = BACKGROUND[scene.background]
    for sh in scene.shapes:
        cov, x0, y0 = _coverage(sh, scene.antialias)
        _blend(img, cov, x0, y0, COLOR[sh.color])
    if scene.sign is not None:
        x0, y0, x1, y1 = sign_rect(scene.sign)
        img[y0:y1, x0:x1] = 0
        img[y0 + BORDER:y1 - BORDER, x0 + BORDER:x1 - BORDER] = 255
        _draw_text(img, scene.sign, (x0, y0, x1, y1), scene.antialias)
    out = np.rint(img)
    if scene.noise:
        # its own stream: the training renderer's noise for the same scene is another draw
        rng = np.random.Generator(np.random.PCG64([scene.noise_seed, 20]))
        out = out + rng.integers(-NOISE, NOISE + 1, size=out.shape)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def jpeg_bytes(img: Image.Image, jpeg: Tuple[int, int]) -> bytes:
    """The JPEG file a scene's image is re-encoded as: (quality, PIL subsampling)."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=jpeg[0], subsampling=jpeg[1])
    return buf.getvalue()


def scene_image(scene: world.Scene, jpeg: Optional[Tuple[int, int]]) -> Image.Image:
    """`jpeg`: (quality, PIL subsampling) to re-encode, or None for the lossless image."""
    img = render(scene)
    if jpeg is None:
        return img
    return Image.open(io.BytesIO(jpeg_bytes(img, jpeg))).convert("RGB")


def scene_file(scene: world.Scene, jpeg: Optional[Tuple[int, int]]) -> Tuple[bytes, str]:
    """The scene as an image file and its extension: the JPEG that `scene_image` decodes, or a lossless PNG.

    A decoder outside Python (the Java pipeline's) gets the very bytes PIL decoded for the evaluation, so
    its pixels can differ from the evaluation's only by how it decodes them."""
    img = render(scene)
    if jpeg is None:
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return buf.getvalue(), "png"
    return jpeg_bytes(img, jpeg), "jpg"


def sample_scenes(seed: int, count: int, jpeg_share: float = 1 / 3) -> List[Tuple[world.Scene, Optional[Tuple[int, int]]]]:
    """The scenes of `world.sample_scenes(seed, count)` with this renderer's own encoding choices."""
    rng = random.Random(f"alt-{seed}")
    out = []
    for scene, _ in world.sample_scenes(seed, count):
        jpeg = (rng.randint(90, 98), rng.choice([0, 2])) if rng.random() < jpeg_share else None
        out.append((scene, jpeg))
    return out


if not os.path.exists(FONT_FILE):   # the spec names the Debian file; say so early rather than mid-run
    raise FileNotFoundError(f"{FONT_FILE} not found: install Debian's fonts-dejavu-core")
