"""Preprocessing and sequence building shared by training, export, evaluation and the reference."""
from __future__ import annotations

import random
from typing import List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import world
from .tokenizer import Tokenizer, chat_prompt

MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)


def expand2square(img: Image.Image) -> Image.Image:
    """Pads to a square with the mean colour, centred, as Mini-Gemini's `expand2square` does."""
    w, h = img.size
    if w == h:
        return img
    fill = tuple(int(m * 255) for m in MEAN)
    side = max(w, h)
    out = Image.new("RGB", (side, side), fill)
    out.paste(img, ((side - w) // 2, (side - h) // 2))
    return out


def hr_tensor(img: Image.Image, size: int = 384) -> torch.Tensor:
    """(3, size, size) normalised HR view."""
    img = expand2square(img.convert("RGB"))
    if img.size != (size, size):
        img = img.resize((size, size), Image.BICUBIC)
    return from_uint8(np.asarray(img))


def from_uint8(arr: np.ndarray) -> torch.Tensor:
    """(..., H, W, 3) uint8 -> (..., 3, H, W) normalised float."""
    x = torch.from_numpy(np.ascontiguousarray(arr)).float().div_(255.0)
    x = x.movedim(-1, -3)
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    return (x - mean) / std


def lr_from_hr(hr: torch.Tensor, lr_size: int = 96) -> torch.Tensor:
    """The LR view is the HR view area-averaged down (exact for an integer factor)."""
    squeeze = hr.dim() == 3
    x = hr.unsqueeze(0) if squeeze else hr
    k = x.shape[-1] // lr_size
    x = F.avg_pool2d(x, k)
    return x[0] if squeeze else x


def prompt_ids(tok: Tokenizer, prompt: str, n_tokens: int) -> List[int]:
    """The chat template with `<image>` expanded to N image-token ids (overwritten by visual tokens)."""
    ids = tok.encode(chat_prompt(prompt))
    img = tok.id("<image>")
    out: List[int] = []
    for i in ids:
        out.extend([img] * n_tokens if i == img else [i])
    return out


def answer_ids(tok: Tokenizer, answer: str) -> List[int]:
    return tok.encode(answer) + [tok.id("<end_of_turn>")]


TEMPLATE_WEIGHT = {"caption": 3.0, "sign_text": 2.0, "gen_recolor": 1.5, "gen_remove": 1.5, "gen_describe": 1.5,
                   "where": 1.2, "shape_at": 1.2, "color_of": 1.0, "count_shape": 1.0, "count_objects": 1.0,
                   "is_there": 1.0, "is_sign": 0.6}


def sample_task(rng: random.Random, scene: world.Scene, kinds: Sequence[str] = ()) -> world.Task:
    """A task for the scene, templates balanced by weight rather than by how many instances they have."""
    tasks = world.all_tasks(scene)
    if kinds:
        tasks = [t for t in tasks if t.template in kinds]
    by_t = {}
    for t in tasks:
        by_t.setdefault(t.template, []).append(t)
    names = sorted(by_t)
    w = [TEMPLATE_WEIGHT.get(n, 1.0) for n in names]
    hard = None
    if HARD_WHERE > 0 and "where" in by_t:
        # the distractors come with the scene, so it is the scene's `where` share that grows
        hard = [1.0 + HARD_WHERE * where_distractors(scene, t) for t in by_t["where"]]
        w[names.index("where")] *= sum(hard) / len(hard)
    name = rng.choices(names, w)[0]
    if hard and name == "where":
        return rng.choices(by_t[name], hard)[0]
    return rng.choice(by_t[name])


# Extra weight per distractor of a `where` question (0: every question alike). The trained model's
# `where` errors name the cell of another shape of the same colour or kind, and most questions have none.
HARD_WHERE = 0.0


def where_distractors(scene: world.Scene, task: world.Task) -> int:
    """Shapes that share the asked shape's colour or kind but are not it."""
    col, sh = task.prompt[len("Where is the "):-1].split(" ")
    return sum(1 for s in scene.shapes if (s.color == col) != (s.shape == sh))
