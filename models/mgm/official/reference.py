"""The one-by-one reference on a released Mini-Gemini checkpoint: what the official MGM code
(dvlab-research/MGM: mgm/serve/cli.py, mgm/mm_utils.py, mgm/conversation.py) does for one image and
one question at batch size 1, in float32 on the CPU, greedy.

  image     mm_utils.process_images with image_aspect_ratio "pad": expand2square on the processor's
            mean colour (int(x*255)), then the CLIP processor with its sizes set to image_size_aux
            (resize the shortest edge, bicubic through PIL; centre crop; rescale; normalise) gives
            the HR tensor; the LR tensor is F.interpolate(HR, CLIP size, bilinear,
            align_corners=False), as cli.py and model_worker.py make it. HD (image_grid 2,
            image_global): F.interpolate(HR, 2 x CLIP size), its 2 x 2 tiles row-major, then the
            global view F.interpolate(that, CLIP size), stacked [1, 5, 3, S, S] as cli.py does
  prompt    conv_templates[template] with the user turn "<image>\\n" + question (cli.py's first
            message), plus " <GEN>" appended to the question for a generation request (cli.py --gen)
  ids       mm_utils.tokenizer_image_token: every chunk between <image>s tokenised with the special
            tokens, BOS kept once at the front, IMAGE_TOKEN_INDEX (-200) between chunks
  decode    greedy with a KV cache over the spliced embeddings (MGMForCausalLM.splice), stopping at
            the stop tokens export_mgm.py writes to model.json or at max_new_tokens; the answer is
            batch_decode(skip_special_tokens=True).strip()
  <h>       cli.py's extraction: answer.split("</h>")[-2].split("<h>")[-1] when both tags occur
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..hf_tokenizer import HFTokenizer
from ..llama_tokenizer import load_official_tokenizer
from . import checkpoint, clip
from .lm import apply_rope, rope_cos_sin
from .mgm import IMAGE_TOKEN_INDEX, MGMForCausalLM, MMConfig, load_released, resolve_towers

IMAGE_TOKEN = "<image>"
# a caption task without a prompt asks what model.json's chat.default_prompts.caption says
OFFICIAL_CAPTION_PROMPT = "Describe the image in detail."
GEN_SUFFIX = " <GEN>"  # cli.py: inp = inp + ' <GEN>' before the image line is put in front
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]  # CLIPImageProcessor's defaults (OPENAI_CLIP_*)
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
# the stop tokens and default chat templates are export_mgm.py's (CHAT, default_chat), repeated
# here so this module needs no ONNX; tests/test_reference.py checks that they agree
STOP_TOKENS = {"gemma": ["<end_of_turn>", "<eos>"], "vicuna_v1": ["</s>"],
               "llama_3": ["<|eot_id|>", "<|end_of_text|>"]}

VICUNA_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
                 "The assistant gives helpful, detailed, and polite answers to the user's questions.")
LLAMA3_SYSTEM = ("<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful language and vision "
                 "assistant. You are able to understand the visual content that the user provides, "
                 "and assist the user with a variety of tasks using natural language.")


def chat_prompt(template: str, question: str, generate: bool = False) -> str:
    """Conversation.get_prompt() after append_message(roles[0], "<image>\\n" + question) and
    append_message(roles[1], None), for the three templates of the released checkpoints."""
    message = IMAGE_TOKEN + "\n" + question + (GEN_SUFFIX if generate else "")
    if template == "gemma":
        # SeparatorStyle.GEMMA, system "", sep "", sep2 "<eos>": the user turn ends with seps[0] = ""
        return "<start_of_turn>user\n" + message + "<end_of_turn>\n" + "<start_of_turn>model\n"
    if template == "vicuna_v1":
        # SeparatorStyle.TWO, sep " ", sep2 "</s>", roles USER / ASSISTANT
        return VICUNA_SYSTEM + " " + "USER: " + message + " " + "ASSISTANT:"
    if template == "llama_3":
        # SeparatorStyle.LLAMA_3, sep "<|eot_id|>"; the official roles[1] is the header with
        # "system", not "assistant" (conversation.py's conv_llama_3 as released)
        return (LLAMA3_SYSTEM + "<|eot_id|>" + "<|start_header_id|>user<|end_header_id|>\n\n" + message
                + "<|eot_id|>" + "<|start_header_id|>system<|end_header_id|>\n\n")
    raise ValueError(f"chat template {template!r}: expected gemma, vicuna_v1 or llama_3")


def tokenizer_image_token(prompt: str, tokenizer: HFTokenizer,
                          image_token_index: int = IMAGE_TOKEN_INDEX) -> List[int]:
    """mm_utils.tokenizer_image_token: with offset 1 (the first chunk starts with BOS) the
    separators are [index, index] and every element of the interleaved list loses its first id,
    which drops the BOS of each chunk and leaves one index per separator."""
    chunks = [tokenizer.encode(c, add_special_tokens=True) for c in prompt.split(IMAGE_TOKEN)]
    ids: List[int] = []
    offset = 0
    if chunks and chunks[0] and chunks[0][0] == tokenizer.bos_token_id:
        offset = 1
        ids.append(chunks[0][0])
    sep = [image_token_index] * (offset + 1)
    interleaved = [x for c in chunks for x in (c, sep)][:-1]
    for x in interleaved:
        ids.extend(x[offset:])
    return ids


def official_generation_prompt(answer: str) -> Optional[str]:
    """cli.py: when '<h>' and '</h>' are both in the output, the text after the last <h> of the
    part before the last </h>."""
    if "<h>" in answer and "</h>" in answer:
        return answer.split("</h>")[-2].split("<h>")[-1]
    return None


# ------------------------------------------------------------------------------ images

def _read_json(path: str) -> dict:
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _side(v) -> int:
    if isinstance(v, dict):
        for key in ("shortest_edge", "height"):
            if key in v:
                return int(v[key])
        raise ValueError(f"size {v}")
    return int(v)


def preprocess_spec(mgm_dir: str, clip_dir: str) -> dict:
    """What export_mgm.py writes as model.json's vision.preprocess, from the same files: the MGM
    config (image_size_aux, image_aspect_ratio) and the CLIP folder (config.json's image size,
    preprocessor_config.json's crop size, mean, std and rescale factor)."""
    cfg = checkpoint.read_config(mgm_dir)
    mm = MMConfig.from_hf(cfg)
    clip_cfg = clip.CLIPVisionConfig.from_hf(checkpoint.read_config(clip_dir))
    pre = _read_json(os.path.join(clip_dir, "preprocessor_config.json"))
    s = clip_cfg.image_size
    if "crop_size" in pre and _side(pre["crop_size"]) != s:
        # the official LR size is the processor's crop size, the tower's position table is s
        raise ValueError(f"preprocessor crop_size {pre['crop_size']} but the CLIP tower takes {s}")
    if pre.get("resample", 3) != 3:
        raise NotImplementedError(f"resample {pre['resample']} (CLIP's processor is bicubic, 3)")
    mean, std = pre.get("image_mean", CLIP_MEAN), pre.get("image_std", CLIP_STD)
    return {
        "pad_to_square": cfg.get("image_aspect_ratio", "pad") == "pad",
        "pad_color": [int(x * 255) for x in mean],
        "hr": {"size": mm.image_size_aux, "resize": "bicubic"},
        "lr": {"size": s, "source": "hr", "resize": "bilinear", "antialias": False, "align_corners": False},
        "rescale": pre.get("rescale_factor", 1 / 255),
        "mean": list(mean), "std": list(std),
        "layout": "NCHW",
    }


def expand2square(img: Image.Image, color) -> Image.Image:
    w, h = img.size
    if w == h:
        return img
    side = max(w, h)
    out = Image.new(img.mode, (side, side), tuple(color))
    out.paste(img, (0, (w - h) // 2) if w > h else ((h - w) // 2, 0))
    return out


def clip_process(img: Image.Image, size: int, rescale: float, mean, std) -> np.ndarray:
    """CLIPImageProcessor.preprocess with shortest_edge and crop size `size`: [3, size, size]
    float32. Resize through PIL on the uint8 image (transformers' resize), centre crop, then
    rescale in float64 cast to float32 and normalise in float32, as transformers 4.36 does."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    if short != size:
        new_short, new_long = size, int(size * long / short)
        nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
        img = img.resize((nw, nh), resample=Image.BICUBIC, reducing_gap=None)
    a = np.asarray(img, dtype=np.uint8)
    top, left = (a.shape[0] - size) // 2, (a.shape[1] - size) // 2
    a = a[top:top + size, left:left + size]
    x = (a.astype(np.float64) * rescale).astype(np.float32)
    x = (x - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def preprocess(img: Image.Image, spec: dict, grid: int = 1) -> Tuple[torch.Tensor, torch.Tensor]:
    """(LR [1, 3, S, S], HR [1, 3, S_aux, S_aux]) float32 tensors for one image.

    With an HD grid g > 1 (image_grid, image_global true) the LR side is [1, g*g + 1, 3, S, S] as
    cli.py and model_vqa_loader.py build it: the HR tensor resized bilinearly to g*S, cut into g x g
    tiles row-major, then the global view, that g*S tensor resized bilinearly to S."""
    img = img.convert("RGB")
    if spec["pad_to_square"]:
        img = expand2square(img, spec["pad_color"])
    hr = torch.from_numpy(clip_process(img, spec["hr"]["size"], spec["rescale"], spec["mean"], spec["std"]))[None]
    s = spec["lr"]["size"]
    lr = F.interpolate(hr, size=[s * grid, s * grid], mode="bilinear", align_corners=False)
    if grid > 1:
        tiles = lr.reshape(3, grid, s, grid, s).permute(1, 3, 0, 2, 4).reshape(grid * grid, 3, s, s)
        whole = F.interpolate(lr, size=[s, s], mode="bilinear", align_corners=False)
        lr = torch.cat([tiles, whole], dim=0)[None]
    return lr, hr


# ------------------------------------------------------------------------------ decoding

def _cached_logits(mgm: MGMForCausalLM, embeds: torch.Tensor, positions: torch.Tensor,
                   cache: List[Optional[Tuple[torch.Tensor, torch.Tensor]]]) -> torch.Tensor:
    """The decoder of mgm/official/lm.py over new positions with the keys and values of the earlier
    ones in `cache` (updated in place); the last position's logits [vocab]."""
    m, cfg = mgm.model, mgm.lm_config
    x = embeds
    if cfg.family == "gemma":
        x = x * torch.tensor(cfg.hidden_size ** 0.5, dtype=x.dtype)
    cos, sin = rope_cos_sin(positions, cfg.head_dim, cfg.rope_theta)
    b, t, _ = x.shape
    for i, layer in enumerate(m.layers):
        a = layer.self_attn
        h = layer.input_layernorm(x)
        q = a.q_proj(h).view(b, t, a.heads, a.head_dim).transpose(1, 2)
        k = a.k_proj(h).view(b, t, a.kv_heads, a.head_dim).transpose(1, 2)
        v = a.v_proj(h).view(b, t, a.kv_heads, a.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache[i] is not None:
            k, v = torch.cat([cache[i][0], k], dim=2), torch.cat([cache[i][1], v], dim=2)
        cache[i] = (k, v)
        total = k.shape[2]
        group = a.heads // a.kv_heads
        kk, vv = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        scores = (q @ kk.transpose(-1, -2)) / math.sqrt(a.head_dim)
        mask = torch.arange(total)[None, :] <= torch.arange(total - t, total)[:, None]
        scores = scores.float().masked_fill(~mask[None, None], torch.finfo(torch.float32).min)
        out = scores.softmax(-1).to(vv.dtype) @ vv
        x = x + a.o_proj(out.transpose(1, 2).reshape(b, t, a.heads * a.head_dim))
        x = x + layer.mlp(layer.post_attention_layernorm(x))
    last = m.norm(x[:, -1:])
    return mgm.lm_head(last, m.embed_tokens)[0, 0]


@dataclass
class Generation:
    tokens: List[int]          # generated ids, the stop token left out
    finish: str                # "stop" or "length"
    logits: List[torch.Tensor]  # one [vocab] float32 row per step, the stop token's step included


@torch.no_grad()
def greedy(mgm: MGMForCausalLM, input_ids: List[int], lr: torch.Tensor, hr: torch.Tensor,
           stop_ids, max_new_tokens: int) -> Generation:
    feats = mgm.model.encode_images(lr, hr)
    embeds, _, positions = mgm.splice(torch.tensor([input_ids], dtype=torch.long), feats)
    cache: List = [None] * len(mgm.model.layers)
    logits = _cached_logits(mgm, embeds, positions, cache)
    n = embeds.shape[1]
    tokens, rows = [], []
    while len(tokens) < max_new_tokens:
        rows.append(logits.float().clone())
        nxt = int(torch.argmax(logits))
        if nxt in stop_ids:
            return Generation(tokens, "stop", rows)
        tokens.append(nxt)
        if len(tokens) == max_new_tokens:
            break
        emb = mgm.model.embed_tokens(torch.tensor([[nxt]]))
        logits = _cached_logits(mgm, emb, torch.tensor([[n]]), cache)
        n += 1
    return Generation(tokens, "length", rows)


# ------------------------------------------------------------------------------ the reference

def default_chat(cfg: dict, family: str) -> str:
    """export_mgm.default_chat."""
    if family == "gemma":
        return "gemma"
    return "llama_3" if cfg.get("vocab_size", 0) > 100000 or cfg.get("rope_theta") == 500000.0 else "vicuna_v1"


class Reference:
    def __init__(self, mgm_dir: str, tower_root: Optional[str] = None, chat_template: Optional[str] = None):
        folders = resolve_towers(mgm_dir, tower_root)
        self.cfg = checkpoint.read_config(mgm_dir)
        self.model = load_released(mgm_dir, tower_root, torch.float32)
        # use_fast=False: Vicuna's tokenizer.model through the slow LlamaTokenizer, not a converted json
        self.tokenizer = load_official_tokenizer(mgm_dir, self.model.lm_config.family)
        self.template = chat_template or default_chat(self.cfg, self.model.lm_config.family)
        self.spec = preprocess_spec(mgm_dir, folders.clip)
        self.grid = self.model.model.mm_config.image_grid  # 2 for the HD variants (with the global view)
        self.stop_ids = {i for i in (self.tokenizer.token_to_id(t) for t in STOP_TOKENS[self.template])
                         if i is not None}

    def prompt(self, question: str, generate: bool) -> str:
        return chat_prompt(self.template, question, generate)

    def input_ids(self, question: str, generate: bool) -> List[int]:
        return tokenizer_image_token(self.prompt(question, generate), self.tokenizer)

    def run(self, img: Image.Image, question: str, generate: bool, max_new_tokens: int) -> Dict:
        if IMAGE_TOKEN in question:
            # one image per task: a second placeholder would have no image to take its place
            raise ValueError(f"the prompt contains {IMAGE_TOKEN}")
        ids = self.input_ids(question, generate)
        lr, hr = preprocess(img, self.spec, self.grid)
        g = greedy(self.model, ids, lr, hr, self.stop_ids, max_new_tokens)
        answer = self.tokenizer.decode(g.tokens, skip_special_tokens=True).strip()
        return {"input_ids": ids, "generation": g, "answer": answer}
