"""Writes scaled-down, random-weight checkpoints in the layout of the released Mini-Gemini models.

    models/py models/make_test_checkpoints.py --out DIR [--families gemma,vicuna,llama3]

DIR/model_zoo/OpenAI/clip-vit-large-patch14-336/   config.json (a full CLIPConfig),
    preprocessor_config.json, pytorch_model.bin (vision and a scrap of text tower, as openai's file)
DIR/model_zoo/OpenAI/openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup/
    open_clip_config.json, open_clip_pytorch_model.bin (trunk, head and a scrap of text tower)
DIR/MGM-2B/  Gemma, bfloat16, sharded safetensors + model.safetensors.index.json, lm_head tied
DIR/MGM-7B/  Vicuna (LLaMA, as many KV heads as query heads), float16, sharded pytorch_model-*.bin
    + pytorch_model.bin.index.json
DIR/MGM-8B/  LLaMA-3 (grouped-query attention, rope_theta 500000), bfloat16, sharded safetensors
DIR/MGM-2B-HD/  only with --families gemma-hd: MGM-2B's layout and tokenizer with the HD keys
    (image_grid 2, image_global true, image_size_aux twice MGM-2B's)

The MGM configs carry the official keys and name the towers by the relative paths the released
configs use. The state-dict names are spelled out here from the upstream layouts, not taken from
mgm/official's modules, so loading these files there with strict=True checks those modules' names.
MGM-2B also gets a tokenizer.json in the layout of Gemma's (BPE over the whole text with spaces as
U+2581, byte fallback, <bos> added by the post-processor, the same special tokens and ids 0-3),
its merges learnt from a few sentences so that its 256 ids fill the config's vocabulary. MGM-8B
gets one in the layout of Llama-3's (byte-level BPE after its split regex, <|begin_of_text|> added
by the post-processor, the special tokens after the regular ids: <|begin_of_text|> 128,
<|end_of_text|> 129, <|start_header_id|> 134, <|end_header_id|> 135, <|eot_id|> 137, as at 128000
plus the same offsets there). Both get the tokenizer_config.json their models ship (Gemma's
clean_up_tokenization_spaces false, Llama-3's true). MGM-7B gets what Vicuna ships: a SentencePiece
BPE tokenizer.model (see vicuna_sentencepiece) with its tokenizer_config.json and special_tokens_map.json. Everything is a few hundred kB; nothing here is a real model.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Dict, List, Tuple

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mgm.official.checkpoint import write_sharded  # noqa: E402

Shapes = List[Tuple[str, Tuple[int, ...]]]

CLIP_DIR = "model_zoo/OpenAI/clip-vit-large-patch14-336"
AUX_DIR = "model_zoo/OpenAI/openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup"
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

# scaled-down towers: 56 / 14 = 4 x 4 LR tokens; the ConvNeXt at 64 has stage 0 at 16 x 16, so each
# LR token mines a 4 x 4 window (8 x 8 on the real 768 / 336 pair)
CLIP = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
            image_size=56, patch_size=14, projection_dim=16)
CONVNEXT = dict(dims=(8, 16, 24, 32), depths=(1, 1, 2, 1), image_size_aux=64)
MAX_SHARD_BYTES = 96 * 1024

# every decoder is 64 wide with 4 query heads over 2 layers; the families differ where the real ones do
SIZES = dict(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4)
GEMMA_LM = dict(SIZES, intermediate_size=128, num_key_value_heads=1, head_dim=32, rms_norm_eps=1e-6,
                rope_theta=10000.0, hidden_act="gelu", tie_word_embeddings=True, bos_token_id=2,
                eos_token_id=1, pad_token_id=0, max_position_embeddings=8192)
VICUNA_LM = dict(SIZES, intermediate_size=160, num_key_value_heads=4, rms_norm_eps=1e-5,
                 rope_theta=10000.0, hidden_act="silu", tie_word_embeddings=False, bos_token_id=1,
                 eos_token_id=2, pad_token_id=0, max_position_embeddings=4096)
LLAMA3_LM = dict(VICUNA_LM, num_key_value_heads=2, rope_theta=500000.0, bos_token_id=128,
                 eos_token_id=129, pad_token_id=None, max_position_embeddings=8192)

FAMILIES = {
    "gemma": dict(folder="MGM-2B", model_type="mgm_gemma", arch="MGMGemmaForCausalLM",
                  fmt="safetensors", dtype=torch.bfloat16, lm=GEMMA_LM),
    "vicuna": dict(folder="MGM-7B", model_type="mgm", arch="MGMLlamaForCausalLM",
                   fmt="bin", dtype=torch.float16, lm=VICUNA_LM),
    "llama3": dict(folder="MGM-8B", model_type="mgm", arch="MGMLlamaForCausalLM",
                   fmt="safetensors", dtype=torch.bfloat16, lm=LLAMA3_LM),
}
# HD variants, written only when asked for (--families gemma-hd): the released MGM-*-HD configs
# (7B/13B Vicuna, 8B LLaMA-3, 8x7B Mixtral, 34B Yi; there is no 2B-HD) differ from their plain
# models only in image_grid 2, image_global true, image_size_aux 1536 for 768 and
# tokenizer_model_max_length 4096 (the HD scripts train with model_max_length 4096). Here the aux
# size doubles too (128: a 32 x 32 ConvNeXt map, 16 x 16 per tile and for the global view, 4 x 4
# cells under each of the 4 x 4 LR tokens); Gemma for its tokenizer.json
HD_CONFIG = dict(image_grid=2, image_global=True, image_size_aux=2 * CONVNEXT["image_size_aux"],
                 tokenizer_model_max_length=4096)
VARIANTS = {"gemma-hd": dict(FAMILIES["gemma"], folder="MGM-2B-HD", config=HD_CONFIG)}


# ------------------------------------------------------------------------------ official names

def clip_vision_shapes(c: dict) -> Shapes:
    """HF CLIPVisionModel's parameters (vision_model.*)."""
    h, i, n = c["hidden_size"], c["intermediate_size"], (c["image_size"] // c["patch_size"]) ** 2
    out: Shapes = [("vision_model.embeddings.class_embedding", (h,)),
                   ("vision_model.embeddings.patch_embedding.weight", (h, 3, c["patch_size"], c["patch_size"])),
                   ("vision_model.embeddings.position_embedding.weight", (n + 1, h)),
                   ("vision_model.pre_layrnorm.weight", (h,)), ("vision_model.pre_layrnorm.bias", (h,))]
    for layer in range(c["num_hidden_layers"]):
        p = f"vision_model.encoder.layers.{layer}."
        for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
            out += [(p + f"self_attn.{proj}.weight", (h, h)), (p + f"self_attn.{proj}.bias", (h,))]
        out += [(p + "layer_norm1.weight", (h,)), (p + "layer_norm1.bias", (h,)),
                (p + "mlp.fc1.weight", (i, h)), (p + "mlp.fc1.bias", (i,)),
                (p + "mlp.fc2.weight", (h, i)), (p + "mlp.fc2.bias", (h,)),
                (p + "layer_norm2.weight", (h,)), (p + "layer_norm2.bias", (h,))]
    return out + [("vision_model.post_layernorm.weight", (h,)), ("vision_model.post_layernorm.bias", (h,))]


def clip_extra_shapes(c: dict) -> Shapes:
    """A scrap of what openai's full CLIPModel file holds besides the vision tower."""
    return [("visual_projection.weight", (c["projection_dim"], c["hidden_size"])),
            ("text_projection.weight", (c["projection_dim"], 16)),
            ("text_model.final_layer_norm.weight", (16,)), ("logit_scale", ())]


def convnext_trunk_shapes(dims, depths, stem=4, kernel=7) -> Shapes:
    """timm ConvNeXt trunk parameters as OpenCLIP stores them (stem.*, stages.*), no prefix."""
    out: Shapes = [("stem.0.weight", (dims[0], 3, stem, stem)), ("stem.0.bias", (dims[0],)),
                   ("stem.1.weight", (dims[0],)), ("stem.1.bias", (dims[0],))]
    for s, (d, n) in enumerate(zip(dims, depths)):
        p = f"stages.{s}."
        if s:
            prev = dims[s - 1]
            out += [(p + "downsample.0.weight", (prev,)), (p + "downsample.0.bias", (prev,)),
                    (p + "downsample.1.weight", (d, prev, 2, 2)), (p + "downsample.1.bias", (d,))]
        for b in range(n):
            q = p + f"blocks.{b}."
            out += [(q + "gamma", (d,)),
                    (q + "conv_dw.weight", (d, 1, kernel, kernel)), (q + "conv_dw.bias", (d,)),
                    (q + "norm.weight", (d,)), (q + "norm.bias", (d,)),
                    (q + "mlp.fc1.weight", (4 * d, d)), (q + "mlp.fc1.bias", (4 * d,)),
                    (q + "mlp.fc2.weight", (d, 4 * d)), (q + "mlp.fc2.bias", (d,))]
    return out


def openclip_shapes(dims, depths, embed_dim=16) -> Shapes:
    last = dims[-1]
    trunk = [("visual.trunk." + k, s) for k, s in convnext_trunk_shapes(dims, depths)]
    # parts MGM drops: the trunk's head norm, the MLP projection head and the text tower
    return trunk + [("visual.trunk.head.norm.weight", (last,)), ("visual.trunk.head.norm.bias", (last,)),
                    ("visual.head.mlp.fc1.weight", (2 * embed_dim, last)),
                    ("visual.head.mlp.fc2.weight", (embed_dim, 2 * embed_dim)),
                    ("positional_embedding", (8, embed_dim)), ("ln_final.weight", (embed_dim,)),
                    ("logit_scale", ())]


def lm_shapes(c: dict) -> Shapes:
    """HF LlamaForCausalLM / GemmaForCausalLM parameters; Gemma's tied lm_head is not saved."""
    h, i, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    hd = c.get("head_dim", h // c["num_attention_heads"])
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    out: Shapes = [("model.embed_tokens.weight", (v, h))]
    for layer in range(c["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        out += [(p + "self_attn.q_proj.weight", (q, h)), (p + "self_attn.k_proj.weight", (kv, h)),
                (p + "self_attn.v_proj.weight", (kv, h)), (p + "self_attn.o_proj.weight", (h, q)),
                (p + "mlp.gate_proj.weight", (i, h)), (p + "mlp.up_proj.weight", (i, h)),
                (p + "mlp.down_proj.weight", (h, i)),
                (p + "input_layernorm.weight", (h,)), (p + "post_attention_layernorm.weight", (h,))]
    out.append(("model.norm.weight", (h,)))
    if not c["tie_word_embeddings"]:
        out.append(("lm_head.weight", (v, h)))
    return out


def mgm_module_shapes(hidden: int, d: int, d_aux: int) -> Shapes:
    """mm_projector (mlp2x_gelu: Linear, GELU, Linear) and the three LayerNorm + Linear mining
    projectors of mgm_arch.py."""
    out: Shapes = [("model.mm_projector.0.weight", (hidden, d)), ("model.mm_projector.0.bias", (hidden,)),
                   ("model.mm_projector.2.weight", (hidden, hidden)), ("model.mm_projector.2.bias", (hidden,))]
    for name, width in (("query", d), ("aux", d_aux), ("val", d_aux)):
        p = f"model.vlm_uni_{name}_projector."
        out += [(p + "0.weight", (width,)), (p + "0.bias", (width,)),
                (p + "1.weight", (d, width)), (p + "1.bias", (d,))]
    return out


# ------------------------------------------------------------------------------ values

LM_BLOCK_STD = 0.25


def random_tensors(shapes: Shapes, gen: torch.Generator, dtype: torch.dtype,
                   gemma_norms: bool = False) -> Dict[str, torch.Tensor]:
    out = {}
    for name, shape in shapes:
        noise = torch.randn(shape, generator=gen)
        if _is_norm_weight(name):
            # Gemma's RMSNorm stores weight - 1; every other norm stores the scale itself
            base = 0.0 if gemma_norms and name.startswith("model.") and "vlm_uni" not in name else 1.0
            t = base + 0.1 * noise
        elif name.endswith("gamma"):
            t = 0.5 + 0.1 * noise  # layer scale: large enough that every block matters
        elif name == "logit_scale":
            t = torch.tensor(4.6052)
        elif name.startswith("model.layers."):
            # the decoder blocks outweigh the tied token embedding in the residual stream: with small
            # blocks, greedy decoding just repeats the last prompt token, and a parity test of the
            # answers would compare constant sequences
            t = LM_BLOCK_STD * noise
        else:
            t = 0.05 * noise
        out[name] = t.to(dtype)
    return out


def _is_norm_weight(name: str) -> bool:
    if not name.endswith(".weight"):
        return False
    module = name[: -len(".weight")]
    last = module.rsplit(".", 1)[-1]
    # norms named by index: the stem's and downsamplers' LayerNorm2d, the mining projectors' LayerNorm
    return ("norm" in last or "layrnorm" in last or last.startswith("ln_")
            or module.endswith(("stem.1", "downsample.0"))
            or (".vlm_uni_" in module and last == "0"))


def _write_json(path: str, obj: dict):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_clip(folder: str, gen: torch.Generator) -> Dict[str, torch.Tensor]:
    os.makedirs(folder, exist_ok=True)
    c = CLIP
    vision = random_tensors(clip_vision_shapes(c), gen, torch.float32)
    extra = random_tensors(clip_extra_shapes(c), gen, torch.float32)
    n = (c["image_size"] // c["patch_size"]) ** 2 + 1
    # transformers before 4.31 saved this buffer; released CLIP files still carry it as int64
    extra["vision_model.embeddings.position_ids"] = torch.arange(n, dtype=torch.int64)[None]
    torch.save({**vision, **extra}, os.path.join(folder, "pytorch_model.bin"))
    vision_cfg = {"model_type": "clip_vision_model", "hidden_act": "quick_gelu",
                  "layer_norm_eps": 1e-5, "num_channels": 3, **c}
    _write_json(os.path.join(folder, "config.json"), {
        "architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": c["projection_dim"],
        "text_config": {"model_type": "clip_text_model", "hidden_size": 16},
        "vision_config": vision_cfg})
    _write_json(os.path.join(folder, "preprocessor_config.json"), {
        "crop_size": c["image_size"], "do_center_crop": True, "do_normalize": True,
        "do_resize": True, "image_mean": CLIP_MEAN, "image_std": CLIP_STD, "resample": 3,
        "size": c["image_size"]})
    return vision


def write_openclip(folder: str, gen: torch.Generator) -> Dict[str, torch.Tensor]:
    os.makedirs(folder, exist_ok=True)
    dims, depths = CONVNEXT["dims"], CONVNEXT["depths"]
    tensors = random_tensors(openclip_shapes(dims, depths), gen, torch.float32)
    torch.save(tensors, os.path.join(folder, "open_clip_pytorch_model.bin"))
    _write_json(os.path.join(folder, "open_clip_config.json"), {
        "model_cfg": {"embed_dim": 16, "vision_cfg": {
            "timm_model_name": "convnext_large", "timm_model_pretrained": False, "timm_pool": "",
            "timm_proj": "mlp", "timm_drop": 0.0, "timm_drop_path": 0.1,
            "image_size": CONVNEXT["image_size_aux"]}},
        "preprocess_cfg": {"mean": CLIP_MEAN, "std": CLIP_STD}})
    return tensors


def mgm_config(family: dict) -> dict:
    return {**_mgm_config(family), **family.get("config", {})}


def _mgm_config(family: dict) -> dict:
    lm = family["lm"]
    return {
        "architectures": [family["arch"]], "model_type": family["model_type"], **lm,
        "torch_dtype": str(family["dtype"]).replace("torch.", ""),
        "attention_bias": False, "use_cache": True,
        "mm_vision_tower": CLIP_DIR, "mm_vision_tower_aux": AUX_DIR,
        "mm_hidden_size": CLIP["hidden_size"], "mm_hidden_size_aux": sum(CONVNEXT["dims"]),
        "mm_projector_type": "mlp2x_gelu", "mm_projector_lr": None,
        "mm_vision_select_layer": -2, "mm_vision_select_feature": "patch",
        "mm_use_im_start_end": False, "mm_use_im_patch_token": False, "use_mm_proj": True,
        "image_size_aux": CONVNEXT["image_size_aux"], "image_aspect_ratio": "pad",
        "image_grid": 1, "image_global": False, "image_grid_pinpoints": None,
        "optimize_vision_tower": False, "optimize_vision_tower_aux": False,
        "tune_mm_mlp_adapter": False, "freeze_mm_mlp_adapter": False,
        "tokenizer_model_max_length": 2048, "tokenizer_padding_side": "right",
    }


def write_mgm(folder: str, family: dict, gen: torch.Generator, clip_vision, openclip) -> None:
    dtype = family["dtype"]
    lm = family["lm"]
    shapes = lm_shapes(lm) + mgm_module_shapes(lm["hidden_size"], CLIP["hidden_size"],
                                               sum(CONVNEXT["dims"]))
    tensors = random_tensors(shapes, gen, dtype, gemma_norms=family["model_type"] == "mgm_gemma")
    # the official trainer saves the whole module, frozen towers included
    tensors.update({"model.vision_tower.vision_tower." + k: v.to(dtype) for k, v in clip_vision.items()})
    tensors.update({"model.vision_tower_aux.vision_" + k[len("visual.trunk."):]: v.to(dtype)
                    for k, v in openclip.items()
                    if k.startswith(("visual.trunk.stem.", "visual.trunk.stages."))})
    write_sharded(folder, tensors, family["fmt"], MAX_SHARD_BYTES)
    _write_json(os.path.join(folder, "config.json"), mgm_config(family))
    if family["model_type"] == "mgm_gemma":
        _write_json(os.path.join(folder, "tokenizer.json"), gemma_tokenizer(lm["vocab_size"]))
        # as Gemma's tokenizer_config.json has it: decode without transformers' space clean-up
        _write_json(os.path.join(folder, "tokenizer_config.json"), {
            "tokenizer_class": "GemmaTokenizer", "add_bos_token": True, "add_eos_token": False,
            "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
            "clean_up_tokenization_spaces": False, "model_max_length": 2048, "padding_side": "right"})
        _write_json(os.path.join(folder, "special_tokens_map.json"), {
            "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
            "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]})
    elif family is FAMILIES["llama3"]:
        _write_json(os.path.join(folder, "tokenizer.json"), llama3_tokenizer(lm["vocab_size"]))
        # Llama-3's files: PreTrainedTokenizerFast, whose decode cleans up spaces (" ." -> ".")
        _write_json(os.path.join(folder, "tokenizer_config.json"), {
            "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin_of_text|>",
            "eos_token": "<|end_of_text|>", "clean_up_tokenization_spaces": True,
            "model_input_names": ["input_ids", "attention_mask"], "model_max_length": 2048})
        _write_json(os.path.join(folder, "special_tokens_map.json"), {
            "bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"})
    elif family is FAMILIES["vicuna"]:
        write_vicuna_tokenizer(folder, lm["vocab_size"])


# ------------------------------------------------------------------------------ tokenizer

GEMMA_SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
SPACE = "\u2581"
BPE_TEXT = (
    "<start_of_turn>user\nDescribe the image in detail.<end_of_turn>\n<start_of_turn>model\n"
    "The image shows a red circle to the left of a blue square on a white table. There is a sign "
    "with the letters on it, and the text of the sign is written in black. What is in the picture? "
    "Where is the green triangle? It is above the yellow star, in the top right corner of the image. "
    "Generate a photo of two dogs playing in the snow, with mountains behind them and a bright sky. "
    "How many people are standing near the bus? Three people wait beside it; one holds an umbrella. "
    "Please read the menu board: coffee, tea, juice and sandwiches, each with its price in dollars.")


def _pair_counts(words: List[List[str]], allowed=lambda a, b: True) -> Dict[Tuple[str, str], int]:
    """How often each adjacent pair of symbols occurs, in first-seen order (ties go to the first)."""
    pairs: Dict[Tuple[str, str], int] = {}
    for w in words:
        for a, b in zip(w, w[1:]):
            if allowed(a, b):
                pairs[a, b] = pairs.get((a, b), 0) + 1
    return pairs


def _apply_merge(words: List[List[str]], a: str, b: str) -> None:
    """Joins every a-then-b in place, left to right, as BPE applies a merge."""
    for w in words:
        i = 0
        while i < len(w) - 1:
            if w[i] == a and w[i + 1] == b:
                w[i:i + 2] = [a + b]
            i += 1


def gemma_tokenizer(vocab_size: int) -> dict:
    """A tokenizer.json shaped like Gemma's, with vocab_size ids: the special tokens, every printable
    ASCII character and newline, then merges learnt greedily (most frequent adjacent pair first) on
    BPE_TEXT; the BPE model applies them back in the same order."""
    chars = [SPACE if c == " " else c for c in map(chr, range(32, 127))] + ["\n"]
    vocab = {t: i for i, t in enumerate(GEMMA_SPECIALS + chars)}
    text = BPE_TEXT
    for tok in GEMMA_SPECIALS:
        text = text.replace(tok, " ")
    # learnt within words that start at a space (newlines apart), so that no merge spans two words
    # and applying them to a whole text, with no pre-tokenizer as in Gemma's, splits it the same way
    pieces = re.findall(r"\n| ?[^ \n]+", text)
    words = [list(p.replace(" ", SPACE)) for p in pieces]
    merges = []
    while len(vocab) < vocab_size:
        pairs = _pair_counts(words)
        if not pairs:
            raise ValueError("BPE_TEXT is too short for the vocabulary")
        a, b = max(pairs, key=lambda p: pairs[p])
        merges.append(f"{a} {b}")
        vocab[a + b] = len(vocab)
        _apply_merge(words, a, b)
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, t in enumerate(GEMMA_SPECIALS)]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": SPACE},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<bos>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<bos>": {"id": "<bos>", "ids": [2], "tokens": ["<bos>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "vocab": vocab,
                  "merges": merges},
    }


# Llama-3's special tokens in its order (128000 onwards there, 128 onwards here): 256 in all there,
# 128 here, the reserved ones filling the rest
LLAMA3_NAMED = {0: "<|begin_of_text|>", 1: "<|end_of_text|>", 6: "<|start_header_id|>",
                7: "<|end_header_id|>", 9: "<|eot_id|>"}
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def llama3_tokenizer(vocab_size: int) -> dict:
    """A tokenizer.json in the layout of Llama-3's: byte-level BPE after its Split regex, no
    normaliser, <|begin_of_text|> added by the post-processor, ignore_merges, and the special tokens
    after the regular ids (here 128 regular, 128 special). The regular vocabulary is the byte-level
    characters of printable ASCII and newline plus merges learnt on BPE_TEXT within the regex's
    pieces (so only such text encodes: there is no unk token and no other byte)."""
    from mgm.hf_tokenizer import _compiled, _split, byte_level
    regular = vocab_size // 2
    vocab = {byte_level(c): i for i, c in enumerate(["\n"] + [chr(c) for c in range(32, 127)])}
    text = BPE_TEXT
    for tok in GEMMA_SPECIALS:
        text = text.replace(tok, " ")
    words = [list(byte_level(p)) for p in _split(_compiled(LLAMA3_PATTERN), text, "Isolated", False)]
    merges = []
    while len(vocab) < regular:
        pairs = _pair_counts(words, lambda a, b: f"{a} {b}" not in merges)
        if not pairs:
            raise ValueError("BPE_TEXT is too short for the vocabulary")
        a, b = max(pairs, key=lambda p: pairs[p])
        merges.append(f"{a} {b}")
        vocab.setdefault(a + b, len(vocab))
        _apply_merge(words, a, b)
    specials = [LLAMA3_NAMED.get(i) for i in range(vocab_size - regular)]
    reserved = iter(range(vocab_size))
    specials = [s or f"<|reserved_special_token_{next(reserved)}|>" for s in specials]
    added = [{"id": regular + i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, t in enumerate(specials)]
    bos = specials[0]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {bos: {"id": bos, "ids": [regular], "tokens": [bos]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": True, "vocab": vocab, "merges": merges},
    }


VICUNA_BYTES = (0x09, 0x0A, 0x80, 0x99, 0x9C, 0x9D, 0xA9, 0xC3, 0xE2)  # tab, newline, é ’ “ ”
VICUNA_TEXT = ("A chat between a curious user and an artificial intelligence assistant. The assistant gives "
               "helpful, detailed, and polite answers to the user's questions. USER: \nWhat is in the picture? "
               "ASSISTANT: \nDescribe the image in detail. \nWhat color is the car? \nWhere is the dog? "
               "\nGenerate a cat. " + BPE_TEXT)


def vicuna_sentencepiece(vocab_size: int):
    """A SentencePiece BPE ModelProto laid out as LLaMA's tokenizer.model: <unk> <s> </s> at 0-2,
    then byte pieces (only VICUNA_BYTES: the 256 would not fit), the merged pieces in the order
    learnt (score 0, -1, ...: most frequent adjacent pair first, within words that start at a space
    or a newline, never with < or >), then the characters (U+2581 and printable ASCII) scored
    below them; LLaMA's normaliser (identity, dummy prefix, spaces kept as they are)."""
    from mgm import sentencepiece_model as spm
    chars = [SPACE] + [chr(c) for c in range(33, 127)]
    fixed = 3 + len(VICUNA_BYTES) + len(chars)
    text = VICUNA_TEXT
    for tok in GEMMA_SPECIALS:
        text = text.replace(tok, " ")
    words = [list(p.replace(" ", SPACE)) for p in re.findall(r"(?<=\n)[^ \n]+| ?[^ \n]+", text)]
    learnt: List[str] = []
    while fixed + len(learnt) < vocab_size:
        pairs = _pair_counts(words, lambda a, b: not set(a + b) & set("<>\n"))
        if not pairs:
            raise ValueError("VICUNA_TEXT is too short for the vocabulary")
        a, b = max(pairs, key=lambda p: pairs[p])  # the first seen among the most frequent
        if a + b not in learnt:
            learnt.append(a + b)
        _apply_merge(words, a, b)
    m = spm.ModelProto()
    m.pieces = [spm.Piece.make("<unk>", 0.0, spm.UNKNOWN), spm.Piece.make("<s>", 0.0, spm.CONTROL),
                spm.Piece.make("</s>", 0.0, spm.CONTROL)]
    m.pieces += [spm.Piece.make(spm.byte_piece(b), 0.0, spm.BYTE) for b in VICUNA_BYTES]
    m.pieces += [spm.Piece.make(p, -float(i), spm.NORMAL) for i, p in enumerate(learnt)]
    m.pieces += [spm.Piece.make(c, -float(len(learnt) + i), spm.NORMAL) for i, c in enumerate(chars)]
    ts = m.trainer_spec
    for k, v in (("model_prefix", "tokenizer"), ("model_type", spm.BPE), ("vocab_size", vocab_size),
                 ("character_coverage", 0.99995), ("max_sentencepiece_length", 16), ("split_digits", True),
                 ("byte_fallback", True), ("unk_id", 0), ("bos_id", 1), ("eos_id", 2), ("pad_id", -1)):
        ts.set(k, v)
    ns = m.normalizer_spec
    for k, v in (("name", "identity"), ("precompiled_charsmap", b""), ("add_dummy_prefix", True),
                 ("remove_extra_whitespaces", False), ("escape_whitespaces", True), ("normalization_rule_tsv", "")):
        ns.set(k, v)
    return m


def write_vicuna_tokenizer(folder: str, vocab_size: int) -> None:
    """tokenizer.model, and the tokenizer_config.json / special_tokens_map.json a Vicuna-based MGM
    folder has (transformers 4.36 saving vicuna-7b-v1.5's slow LlamaTokenizer: legacy false, no
    clean-up of spaces, pad <unk>)."""
    vicuna_sentencepiece(vocab_size).save(os.path.join(folder, "tokenizer.model"))
    entry = lambda t: {"content": t, "lstrip": False, "normalized": False, "rstrip": False,  # noqa: E731
                       "single_word": False}
    _write_json(os.path.join(folder, "tokenizer_config.json"), {
        "add_bos_token": True, "add_eos_token": False,
        "added_tokens_decoder": {str(i): {**entry(t), "special": True}
                                 for i, t in enumerate(("<unk>", "<s>", "</s>"))},
        "bos_token": "<s>", "clean_up_tokenization_spaces": False, "eos_token": "</s>", "legacy": False,
        "model_max_length": 2048, "pad_token": "<unk>", "padding_side": "right", "sp_model_kwargs": {},
        "spaces_between_special_tokens": False, "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>",
        "use_default_system_prompt": False})
    _write_json(os.path.join(folder, "special_tokens_map.json"), {
        "bos_token": entry("<s>"), "eos_token": entry("</s>"), "pad_token": "<unk>", "unk_token": entry("<unk>")})


def write_test_checkpoints(out: str, families=tuple(FAMILIES), seed: int = 0) -> Dict[str, str]:
    """Writes the tower folders and one MGM folder per family; returns family -> MGM folder."""
    gen = torch.Generator().manual_seed(seed)
    clip_vision = write_clip(os.path.join(out, CLIP_DIR), gen)
    openclip = write_openclip(os.path.join(out, AUX_DIR), gen)
    folders = {}
    for name in families:
        family = FAMILIES[name] if name in FAMILIES else VARIANTS[name]
        folders[name] = os.path.join(out, family["folder"])
        write_mgm(folders[name], family, gen, clip_vision, openclip)
    return folders


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--families", default=",".join(FAMILIES),
                    help=f"comma-separated, from {', '.join([*FAMILIES, *VARIANTS])}")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    families = [f for f in args.families.split(",") if f]
    unknown = set(families) - set(FAMILIES) - set(VARIANTS)
    if unknown:
        ap.error(f"unknown families {sorted(unknown)}")
    for name, folder in write_test_checkpoints(args.out, families, args.seed).items():
        print(f"{name}: {folder}")


if __name__ == "__main__":
    main()
