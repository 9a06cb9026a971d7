"""Loading a trained checkpoint and running it the way the pipeline does, one task at a time."""
from __future__ import annotations

import os
from typing import List, Tuple

import torch
from PIL import Image

from .data import hr_tensor, lr_from_hr, prompt_ids
from .generate import greedy
from .model import Config, MGMTiny
from .tokenizer import Tokenizer


class Loaded:
    def __init__(self, model: MGMTiny, tok: Tokenizer):
        self.model = model.eval()
        self.tok = tok
        self.cfg = model.cfg

    @staticmethod
    def from_checkpoint(path: str, tokenizer_path: str) -> "Loaded":
        ck = torch.load(path)
        cfg = Config.from_dict(ck["config"])
        m = MGMTiny(cfg)
        m.load_state_dict(ck["state"])
        return Loaded(m, Tokenizer.load(tokenizer_path))

    @staticmethod
    def from_dir(model_dir: str) -> "Loaded":
        return Loaded.from_checkpoint(os.path.join(model_dir, "pytorch", "model.pt"),
                                      os.path.join(model_dir, "tokenizer.json"))

    @torch.no_grad()
    def views(self, img: Image.Image) -> Tuple[torch.Tensor, torch.Tensor]:
        hr = hr_tensor(img, self.cfg.hr_size).unsqueeze(0)
        return lr_from_hr(hr, self.cfg.lr_size), hr

    @torch.no_grad()
    def visual_tokens(self, img: Image.Image) -> torch.Tensor:
        lr, hr = self.views(img)
        return self.model.visual_tokens(lr, hr if self.cfg.use_hr else None)    # (1, N, d)

    @torch.no_grad()
    def prompt_embeds(self, prompt: str, vis: torch.Tensor) -> torch.Tensor:
        ids = torch.tensor(prompt_ids(self.tok, prompt, self.cfg.n_tokens)).unsqueeze(0)
        emb = self.model.lm.embed(ids)
        m = ids == self.tok.id("<image>")
        return emb.masked_scatter(m.unsqueeze(-1), vis.reshape(-1, vis.shape[-1]))[0]

    @torch.no_grad()
    def answer(self, img: Image.Image, prompt: str, max_new_tokens: int = 96) -> str:
        vis = self.visual_tokens(img)
        out = greedy(self.model.lm, [self.prompt_embeds(prompt, vis)], self.tok.id("<end_of_turn>"),
                     max_new_tokens)[0]
        return self.tok.decode(out)

    @torch.no_grad()
    def answer_many(self, vis_rows: List[torch.Tensor], prompts: List[str], max_new_tokens: int = 96) -> List[str]:
        embeds = [self.prompt_embeds(p, v.unsqueeze(0)) for p, v in zip(prompts, vis_rows)]
        outs = greedy(self.model.lm, embeds, self.tok.id("<end_of_turn>"), max_new_tokens)
        return [self.tok.decode(o) for o in outs]


def generation_prompt(answer: str):
    """The text between <h> and </h>, or None when the tags are missing or malformed."""
    a = answer.strip()
    if not (a.startswith("<h>") and a.endswith("</h>")):
        return None
    inner = a[3:-4]
    if "<h>" in inner or "</h>" in inner or not inner.strip():
        return None
    return inner
