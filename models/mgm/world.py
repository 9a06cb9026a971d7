"""The synthetic world of shared/world/SPEC.md: scenes, their renderings, and tasks with answers.

Everything is drawn from a `random.Random(seed)`, so a seed names a scene exactly.
"""
from __future__ import annotations

import io
import os
import random
from dataclasses import dataclass, field, replace
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CANVAS = 384
CELL = 128
CELLS = ["top left", "top", "top right", "left", "center", "right",
         "bottom left", "bottom", "bottom right"]
BACKGROUNDS = {"white": (255, 255, 255), "light gray": (235, 235, 235), "cream": (245, 240, 225)}
SHAPES = ["circle", "square", "triangle"]
COLORS = {"red": (220, 40, 40), "green": (40, 160, 60), "blue": (40, 80, 220), "yellow": (230, 190, 20)}
SIZES = {"small": 40, "large": 88}
SIGN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
SIGN_W, SIGN_H, SIGN_BORDER = 72, 28, 2
JITTER = 12
FONT_PATHS = ["/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"]
CAPTION_PROMPT = "Describe the image."


@dataclass(frozen=True)
class Shape:
    cell: int
    shape: str
    color: str
    size: str
    dx: int = 0
    dy: int = 0

    def item(self) -> str:
        return f"a {self.size} {self.color} {self.shape} at the {CELLS[self.cell]}"


@dataclass(frozen=True)
class Sign:
    cell: int
    text: str
    dx: int = 0
    dy: int = 0

    def item(self) -> str:
        return f"a sign that says {self.text} at the {CELLS[self.cell]}"


@dataclass(frozen=True)
class Scene:
    shapes: Tuple[Shape, ...]
    sign: Optional[Sign] = None
    background: str = "white"
    noise: bool = False
    antialias: bool = True
    noise_seed: int = 0

    def items(self, with_sign: bool = True):
        things = list(self.shapes) + ([self.sign] if (self.sign and with_sign) else [])
        return sorted(things, key=lambda t: t.cell)

    def caption(self, with_sign: bool = True) -> str:
        return join_items([t.item() for t in self.items(with_sign)]) + "."

    def shape_at(self, cell: int) -> Optional[Shape]:
        for s in self.shapes:
            if s.cell == cell:
                return s
        return None


# the sign question's wording, which training also matches to find the letters' positions
SIGN_QUESTION = "What does the sign say?"


def join_items(items: List[str]) -> str:
    if not items:
        raise ValueError("a caption needs at least one item")
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def plural(shape: str) -> str:
    return shape + "s"


def random_scene(rng: random.Random, sign_probability: float = 0.5) -> Scene:
    n = rng.randint(1, 4)
    cells = rng.sample(range(9), 9)
    shapes = tuple(sorted((Shape(cells[i], rng.choice(SHAPES), rng.choice(list(COLORS)),
                                 rng.choice(list(SIZES)), rng.randint(-JITTER, JITTER),
                                 rng.randint(-JITTER, JITTER)) for i in range(n)),
                          key=lambda s: s.cell))
    sign = None
    if rng.random() < sign_probability:
        text = "".join(rng.choice(SIGN_ALPHABET) for _ in range(3))
        sign = Sign(cells[n], text, rng.randint(-JITTER, JITTER), rng.randint(-JITTER, JITTER))
    return Scene(shapes, sign, rng.choice(list(BACKGROUNDS)), rng.random() < 0.5,
                 rng.random() < 0.5, rng.randrange(2 ** 31))


def _font() -> ImageFont.FreeTypeFont:
    for p in FONT_PATHS:
        if os.path.exists(p):
            return ImageFont.truetype(p, 14)
    raise FileNotFoundError("DejaVuSansMono-Bold.ttf not found: install Debian's fonts-dejavu-core")


_FONT = None


def cell_centre(cell: int) -> Tuple[int, int]:
    return (cell % 3) * CELL + CELL // 2, (cell // 3) * CELL + CELL // 2


def shape_box(s: Shape) -> Tuple[float, float, float, float]:
    cx, cy = cell_centre(s.cell)
    cx, cy = cx + s.dx, cy + s.dy
    half = SIZES[s.size] / 2
    return cx - half, cy - half, cx + half, cy + half


def sign_box(s: Sign) -> Tuple[int, int, int, int]:
    cx, cy = cell_centre(s.cell)
    x0 = cx + s.dx - SIGN_W // 2
    y0 = cy + s.dy - SIGN_H // 2
    return x0, y0, x0 + SIGN_W, y0 + SIGN_H


def _draw_shape(draw: ImageDraw.ImageDraw, s: Shape, k: int) -> None:
    x0, y0, x1, y1 = shape_box(s)
    box = [x0 * k, y0 * k, x1 * k - 1, y1 * k - 1]
    col = COLORS[s.color]
    if s.shape == "circle":
        draw.ellipse(box, fill=col)
    elif s.shape == "square":
        draw.rectangle(box, fill=col)
    else:
        draw.polygon([((x0 + x1) / 2 * k, y0 * k), (x1 * k - 1, y1 * k - 1), (x0 * k, y1 * k - 1)], fill=col)


def render(scene: Scene, aug: Optional["Augment"] = None) -> Image.Image:
    """Draws the scene as a 384 x 384 RGB image, following the spec's drawing rules.

    Without `aug` the drawing is the one every shipped model and golden file was made with; `aug`
    varies what the spec leaves free and what real pipelines do to images (see `Augment`)."""
    global _FONT
    bg = BACKGROUNDS[scene.background]
    if aug is not None:
        bg = tuple(min(255, max(0, c + t)) for c, t in zip(bg, aug.tint))
        k = aug.aa
    else:
        k = 4 if scene.antialias else 1
    if not scene.shapes:
        # nothing to supersample: the box filter of a flat layer is the same flat colour (checked for
        # every value and k in tests/test_augment.py); the HR letter pretraining draws thousands of
        # shapeless sign scenes, and the 8x layer was most of their cost
        k = 1
    shapes_layer = Image.new("RGB", (CANVAS * k, CANVAS * k), bg)
    draw = ImageDraw.Draw(shapes_layer)
    for s in scene.shapes:
        _draw_shape(draw, s, k)
    img = shapes_layer.resize((CANVAS, CANVAS), Image.BOX) if k > 1 else shapes_layer
    if scene.sign is not None:
        if _FONT is None:
            _FONT = _font()
        d = ImageDraw.Draw(img)
        if aug is not None and not aug.text_aa:
            d.fontmode = "1"    # one-bit glyphs: another rasteriser may not anti-alias text
        x0, y0, x1, y1 = sign_box(scene.sign)
        d.rectangle([x0, y0, x1 - 1, y1 - 1], fill=(0, 0, 0))
        d.rectangle([x0 + SIGN_BORDER, y0 + SIGN_BORDER, x1 - 1 - SIGN_BORDER, y1 - 1 - SIGN_BORDER],
                    fill=(255, 255, 255))
        tx, ty = (aug.text_dx, aug.text_dy) if aug is not None else (0, 0)
        if aug is not None and aug.text_scale > 1:
            _draw_supersampled_text(img, scene.sign.text, ((x0 + x1) / 2 + tx, (y0 + y1) / 2 + ty), aug)
        else:
            d.text(((x0 + x1) / 2 + tx, (y0 + y1) / 2 + ty), scene.sign.text, fill=(0, 0, 0), font=_FONT,
                   anchor="mm")
    if aug is not None:
        img = _degrade(img, scene, aug)
    elif scene.noise:
        arr = np.asarray(img).astype(np.int16)
        noise = np.random.default_rng(scene.noise_seed).integers(-6, 7, size=arr.shape, dtype=np.int16)
        img = Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8))
    return img


# ---------------------------------------------------------------- training augmentation

@dataclass(frozen=True)
class Augment:
    """One draw of the rendering choices the spec leaves open, and of what pipelines do to images.

    The shipped model read the sign in 90% of its own renderer's scenes and 74% of an independent
    renderer's: it had learnt one rasteriser's pixels. Training on many rasterisations makes the
    letters' shapes, not their exact pixels, what stays constant."""
    aa: int = 4                              # supersampling of the shapes; 1 = aliased edges
    text_aa: bool = True                     # glyphs anti-aliased, or one-bit
    text_scale: int = 1                      # 1: FreeType's hinted 14 px glyphs; k: drawn k times larger
    text_filter: str = "box"                 # and resized down with this filter (unhinted, heavier strokes)
    text_dx: int = 0                         # the text's offset inside the sign, -1..1 px
    text_dy: int = 0
    tint: Tuple[int, int, int] = (0, 0, 0)   # added to the background colour, per channel
    noise: int = 0                           # uniform noise in [-noise, +noise] on every pixel
    noise_seed: int = 0
    resample: int = 0                        # side the image is resized to and back (0: none)
    resample_filter: str = "bicubic"
    jpeg: Optional[int] = None               # JPEG quality on save; None: PNG (lossless)


RESAMPLE_FILTERS = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
                    "lanczos": Image.LANCZOS, "box": Image.BOX, "hamming": Image.HAMMING}
_BIG_FONTS = {}


def _draw_supersampled_text(img: Image.Image, text: str, centre: Tuple[float, float], aug: "Augment") -> None:
    k = aug.text_scale
    if k not in _BIG_FONTS:
        _BIG_FONTS[k] = ImageFont.truetype(FONT_PATHS[0], 14 * k)
    cx, cy = centre
    w, h = SIGN_W, SIGN_H
    ox, oy = int(cx) - w // 2, int(cy) - h // 2        # a window around the text, on whole pixels
    mask = Image.new("L", (w * k, h * k), 0)
    ImageDraw.Draw(mask).text(((cx - ox) * k, (cy - oy) * k), text, fill=255, font=_BIG_FONTS[k], anchor="mm")
    mask = mask.resize((w, h), RESAMPLE_FILTERS[aug.text_filter])
    if not aug.text_aa:
        mask = mask.point(lambda v: 255 if v >= 128 else 0)
    img.paste((0, 0, 0), (ox, oy), mask)


def random_augment(rng: random.Random) -> Augment:
    """Every choice independent, so each degradation is also seen alone and in every combination."""
    return Augment(
        aa=rng.choice([1, 1, 2, 3, 4, 4, 8]),
        # half one-bit: with 30% the shifted renderer's one-bit signs were the ones misread (session 18);
        # 50% cost counting until the LR ViT trained longer (train.py --lr-steps, the model card)
        text_aa=rng.random() < 0.5,
        # measured on the shipped model: glyphs drawn 4x larger and area-averaged (world_alt.py) read
        # 1% of signs, hinted glyphs 57%: the hinting was part of what it had learnt
        text_scale=rng.choice([1, 1, 2, 3, 3, 5, 6]),
        text_filter=rng.choice(["box", "bilinear", "lanczos", "hamming"]),
        text_dx=rng.randint(-1, 1), text_dy=rng.randint(-1, 1),
        tint=tuple(rng.randint(-6, 6) for _ in range(3)) if rng.random() < 0.5 else (0, 0, 0),
        noise=rng.choice([0, 0, 2, 4, 6, 8]),
        noise_seed=rng.randrange(2 ** 31),
        resample=rng.choice([320, 352, 416, 448, 512]) if rng.random() < 0.3 else 0,
        resample_filter=rng.choice(sorted(RESAMPLE_FILTERS)),
        jpeg=rng.randint(60, 95) if rng.random() < 0.5 else None,
    )


def augment_for(seed: int, index: int) -> Augment:
    """The augmentation of training image `index` of the pool drawn from `seed`: a pure function of
    both, so a pool rendered in worker processes, in any order, is the same pool."""
    return random_augment(random.Random(seed * 1_000_003 + index))


def _degrade(img: Image.Image, scene: Scene, aug: Augment) -> Image.Image:
    if aug.noise > 0:
        arr = np.asarray(img).astype(np.int16)
        noise = np.random.default_rng(aug.noise_seed).integers(-aug.noise, aug.noise + 1, size=arr.shape,
                                                               dtype=np.int16)
        img = Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8))
    if aug.resample:
        # saved at another size and brought back to the canvas by the reader's own resize
        f = RESAMPLE_FILTERS[aug.resample_filter]
        img = img.resize((aug.resample, aug.resample), f).resize((CANVAS, CANVAS), Image.BICUBIC)
    if aug.jpeg is not None:
        img = reencode_jpeg(img, aug.jpeg)
    return img


def encode(img: Image.Image, jpeg_quality: Optional[int] = None) -> bytes:
    buf = io.BytesIO()
    if jpeg_quality is None:
        img.save(buf, format="PNG")
    else:
        img.save(buf, format="JPEG", quality=jpeg_quality)
    return buf.getvalue()


def reencode_jpeg(img: Image.Image, quality: int) -> Image.Image:
    return Image.open(io.BytesIO(encode(img, quality))).convert("RGB")


# ---------------------------------------------------------------- tasks

@dataclass(frozen=True)
class Task:
    kind: str       # caption | vqa | generate
    template: str   # a short name of the template, for per-template accuracy
    prompt: str
    answer: str


def _h(text: str) -> str:
    return f"<h>{text}</h>"


def all_tasks(scene: Scene) -> List[Task]:
    """Every task the spec allows for the scene, with its exact answer."""
    tasks = [Task("caption", "caption", CAPTION_PROMPT, scene.caption())]
    by_kind = {sh: [s for s in scene.shapes if s.shape == sh] for sh in SHAPES}
    for sh in SHAPES:
        if len(by_kind[sh]) == 1:
            tasks.append(Task("vqa", "color_of", f"What color is the {sh}?", by_kind[sh][0].color))
    for c, name in enumerate(CELLS):
        s = scene.shape_at(c)
        tasks.append(Task("vqa", "shape_at", f"What shape is at the {name}?", s.shape if s else "nothing"))
    for sh in SHAPES:
        tasks.append(Task("vqa", "count_shape", f"How many {plural(sh)} are there?", str(len(by_kind[sh]))))
    tasks.append(Task("vqa", "count_objects", "How many objects are there?", str(len(scene.shapes))))
    for col in COLORS:
        for sh in SHAPES:
            present = any(s.color == col and s.shape == sh for s in scene.shapes)
            tasks.append(Task("vqa", "is_there", f"Is there a {col} {sh}?", "yes" if present else "no"))
            matches = [s for s in scene.shapes if s.color == col and s.shape == sh]
            if len(matches) == 1:
                tasks.append(Task("vqa", "where", f"Where is the {col} {sh}?", CELLS[matches[0].cell]))
    if scene.sign is not None:
        tasks.append(Task("vqa", "sign_text", SIGN_QUESTION, scene.sign.text))
    tasks.append(Task("vqa", "is_sign", "Is there a sign?", "yes" if scene.sign else "no"))
    for sh in SHAPES:
        if len(by_kind[sh]) != 1:
            continue
        target = by_kind[sh][0]
        for col in COLORS:
            if col == target.color:
                continue
            edited = replace(scene, shapes=tuple(replace(s, color=col) if s is target else s
                                                 for s in scene.shapes), sign=None)
            tasks.append(Task("generate", "gen_recolor",
                              f"Generate an image like this one, but with the {sh} in {col}.",
                              _h(edited.caption())))
        if len(scene.shapes) >= 2:
            rest = replace(scene, shapes=tuple(s for s in scene.shapes if s is not target), sign=None)
            tasks.append(Task("generate", "gen_remove",
                              f"Generate an image like this one, but without the {sh}.", _h(rest.caption())))
    if scene.sign is None:
        cap = scene.caption()
        tasks.append(Task("generate", "gen_describe", f"Generate an image of {cap[:-1]}.", _h(cap)))
    return tasks


TEMPLATES = ["caption", "color_of", "shape_at", "count_shape", "count_objects", "is_there", "where",
             "sign_text", "is_sign", "gen_recolor", "gen_remove", "gen_describe"]


def scene_image(scene: Scene, jpeg_quality: Optional[int]) -> Image.Image:
    img = render(scene)
    return reencode_jpeg(img, jpeg_quality) if jpeg_quality else img


def sample_scenes(seed: int, count: int, jpeg_share: float = 0.25):
    """`count` scenes from `seed`; a share of them re-encoded as JPEG at quality 90..98."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        scene = random_scene(rng)
        q = rng.randint(90, 98) if rng.random() < jpeg_share else None
        out.append((scene, q))
    return out
