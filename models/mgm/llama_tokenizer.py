"""Vicuna's tokenizer (a SentencePiece BPE tokenizer.model) two ways:

  SlowLlamaTokenizer  what the official MGM code gets from AutoTokenizer.from_pretrained(...,
                      use_fast=False): transformers 4.36's LlamaTokenizer on sentencepiece, here on
                      mgm.sentencepiece_model. tokenizer(text).input_ids: the text split at the special
                      tokens (<unk>, <s>, </s>), each other chunk encoded by SentencePiece (legacy: each
                      chunk gets the dummy prefix '▁'; legacy=False as tokenizer_config.json may say: one
                      '▁' in front of the whole text, the model loaded without add_dummy_prefix, chunks
                      that start with '▁' encoded behind <unk> which is then cut off), then <s> in front
                      (add_bos_token) and </s> behind when add_eos_token. decode(ids,
                      skip_special_tokens): convert_tokens_to_string (the first token's leading '▁'
                      dropped, special tokens spliced in verbatim, after a space in legacy mode) over
                      sp.decode, then clean_up_tokenization when the config asks.
  llama_tokenizer_json what transformers' LlamaConverter (convert_slow_tokenizer.py, as in 4.36) writes
                      as tokenizer.json for it: a BPE model whose vocabulary is the pieces and whose
                      merges are every split of a piece into two pieces, ordered by the piece's score
                      (highest first; within a piece by the two ids), byte_fallback, fuse_unk, unk
                      <unk>; normaliser Prepend('▁') + Replace(' ', '▁'); no pre-tokenizer; decoder
                      Replace('▁', ' ') + ByteFallback + Fuse + Strip(' ', 1, 0); the TemplateProcessing
                      post-processor LlamaTokenizerFast sets (<s> in front); <unk>, <s>, </s> added
                      as special tokens. mgm.hf_tokenizer reads it; so does the Java side (DJL).
"""
from __future__ import annotations

import json
import os
import re
from typing import Dict, List, Optional, Sequence

from .hf_tokenizer import clean_up_tokenization
from .sentencepiece_model import BPE, SPACE, ModelProto, SentencePieceBPE

SPECIAL_DEFAULTS = {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"}


def _text(v) -> Optional[str]:
    return v.get("content") if isinstance(v, dict) else v


def _read_json(path: str) -> Optional[dict]:
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class SlowLlamaTokenizer:
    def __init__(self, model: ModelProto, config: Optional[dict] = None, special_map: Optional[dict] = None):
        config = dict(config or {})
        names = {**SPECIAL_DEFAULTS, **{k: _text(v) for k, v in config.items() if k.endswith("_token")},
                 **{k: _text(v) for k, v in (special_map or {}).items() if k.endswith("_token")}}
        # transformers 4.36: legacy unset means legacy (with a warning)
        self.legacy = config.get("legacy")
        self.legacy = True if self.legacy is None else bool(self.legacy)
        self.sp = SentencePieceBPE(model, None if self.legacy else False)
        self.add_bos = bool(config.get("add_bos_token", True))
        self.add_eos = bool(config.get("add_eos_token", False))
        self.clean_up_spaces = bool(config.get("clean_up_tokenization_spaces", True))
        self.unk_token, self.bos_token, self.eos_token = names["unk_token"], names["bos_token"], names["eos_token"]
        self.pad_token = names.get("pad_token")
        # special tokens: the named ones and the added_tokens_decoder entries marked special
        self.special_tokens = [t for t in (self.bos_token, self.eos_token, self.unk_token, self.pad_token) if t]
        for entry in (config.get("added_tokens_decoder") or {}).values():
            if entry.get("special") and entry["content"] not in self.special_tokens:
                self.special_tokens.append(entry["content"])
        for t in (special_map or {}).get("additional_special_tokens") or config.get("additional_special_tokens") or []:
            t = _text(t)
            if t not in self.special_tokens:
                self.special_tokens.append(t)
        for t in self.special_tokens:
            if self.sp.piece_to_id(t) == self.sp.unk_id and t != self.unk_token:
                raise NotImplementedError(f"special token {t!r} outside the SentencePiece vocabulary")
        self.special_ids = {self.sp.piece_to_id(t) for t in self.special_tokens}
        # the trie split of PreTrainedTokenizer.tokenize: earliest match, the longest there
        alts = sorted(set(self.special_tokens), key=len, reverse=True)
        self._split_re = re.compile("|".join(re.escape(t) for t in alts))
        self.bos_token_id = self.sp.piece_to_id(self.bos_token)
        self.eos_token_id = self.sp.piece_to_id(self.eos_token)
        self.unk_token_length = len(self.sp.encode(self.unk_token))

    @staticmethod
    def from_dir(folder: str) -> "SlowLlamaTokenizer":
        model = ModelProto.load(os.path.join(folder, "tokenizer.model"))
        return SlowLlamaTokenizer(model, _read_json(os.path.join(folder, "tokenizer_config.json")),
                                  _read_json(os.path.join(folder, "special_tokens_map.json")))

    # -------------------------------------------------------------- encode

    def _tokenize_chunk(self, chunk: str) -> List[str]:
        tokens = self.sp.encode_as_pieces(chunk)
        if self.legacy or not chunk.startswith((SPACE, " ")):
            return tokens
        tokens = self.sp.encode_as_pieces(self.unk_token + chunk)
        return tokens[self.unk_token_length:] if len(tokens) >= self.unk_token_length else tokens

    def tokenize(self, text: str) -> List[str]:
        if not self.legacy and text:
            text = SPACE + text.replace(SPACE, " ")
        out: List[str] = []
        last = 0
        for m in self._split_re.finditer(text):
            if m.start() > last:
                out += self._tokenize_chunk(text[last:m.start()])
            out.append(m.group())
            last = m.end()
        if last < len(text):
            out += self._tokenize_chunk(text[last:])
        if not self.legacy and len(out) > 1 and out[0] == SPACE and out[1] in self.special_tokens:
            out = out[1:]
        return out

    def encode(self, text: str, add_special_tokens: bool = True) -> List[int]:
        ids = [self.sp.piece_to_id(t) for t in self.tokenize(text)]
        if add_special_tokens:
            ids = ([self.bos_token_id] if self.add_bos else []) + ids + ([self.eos_token_id] if self.add_eos else [])
        return ids

    # -------------------------------------------------------------- vocabulary

    def token_to_id(self, token: str) -> Optional[int]:
        i = self.sp.piece_to_id(token)
        return None if i == self.sp.unk_id and token != self.sp.id_to_piece[i] else i

    def id_to_token(self, i: int) -> Optional[str]:
        return self.sp.id_to_piece[i] if 0 <= i < len(self.sp) else None

    def tokens(self, ids: Sequence[int]) -> List[str]:
        return [self.sp.id_to_piece[i] for i in ids]

    # -------------------------------------------------------------- decode

    def convert_tokens_to_string(self, tokens: List[str]) -> str:
        tokens = list(tokens)
        if tokens and tokens[0].startswith(SPACE):
            tokens[0] = tokens[0][1:]
        out, current, prev_special = "", [], False
        for i, t in enumerate(tokens):
            if t in self.special_tokens:
                if not prev_special and i != 0 and self.legacy:
                    out += " "
                out += self.sp.decode_pieces(current) + t
                prev_special, current = True, []
            else:
                current.append(t)
                prev_special = False
        return out + self.sp.decode_pieces(current)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        tokens = [self.sp.id_to_piece[i] for i in ids if not (skip_special_tokens and i in self.special_ids)]
        text = self.convert_tokens_to_string(tokens) if tokens else ""
        return clean_up_tokenization(text) if self.clean_up_spaces else text


# ------------------------------------------------------------------------------ the converter

def llama_tokenizer_json(model: ModelProto, config: Optional[dict] = None) -> dict:
    """tokenizer.json as LlamaConverter writes it for this SentencePiece model (see the module doc)."""
    if model.trainer_spec.get("model_type") != BPE:
        raise NotImplementedError("only a BPE SentencePiece model converts to LlamaConverter's layout")
    config = config or {}
    pieces = [p.piece for p in model.pieces]
    if len(pieces) < 3:
        raise ValueError("fewer than three pieces")
    # LlamaConverter.vocab: ids 0-2 with score 0 (their names from the slow tokenizer: the pieces)
    vocab_scores = [(pieces[i], 0.0) for i in range(3)] + [(p.piece, p.score) for p in model.pieces[3:]]
    vocab = {p: i for i, p in enumerate(pieces)}
    merges = []
    for piece, score in vocab_scores:  # SentencePieceExtractor.extract(vocab_scores)
        local = [(piece[:k], piece[k:], score) for k in range(1, len(piece))
                 if piece[:k] in vocab and piece[k:] in vocab]
        local.sort(key=lambda x: (vocab[x[0]], vocab[x[1]]))
        merges += local
    merges.sort(key=lambda x: x[2], reverse=True)  # stable
    unk = model.trainer_spec.get("unk_piece")
    bos, eos = pieces[1], pieces[2]
    add_bos, add_eos = bool(config.get("add_bos_token", True)), bool(config.get("add_eos_token", False))

    def seq(type_id):
        out = [{"SpecialToken": {"id": bos, "type_id": type_id}}] if add_bos else []
        out.append({"Sequence": {"id": "A" if type_id == 0 else "B", "type_id": type_id}})
        if add_eos:
            out.append({"SpecialToken": {"id": eos, "type_id": type_id}})
        return out

    specials = {}
    if add_bos:
        specials[bos] = {"id": bos, "ids": [vocab[bos]], "tokens": [bos]}
    if add_eos:
        specials[eos] = {"id": eos, "ids": [vocab[eos]], "tokens": [eos]}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": pieces[i], "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i in range(3)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE},
            {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing", "single": seq(0), "pair": seq(0) + seq(1),
                           "special_tokens": specials},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": unk, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b, _ in merges]},
    }


def convert_dir(folder: str, out_path: str) -> dict:
    """Writes out_path (tokenizer.json) from folder's tokenizer.model and tokenizer_config.json."""
    spec = llama_tokenizer_json(ModelProto.load(os.path.join(folder, "tokenizer.model")),
                                _read_json(os.path.join(folder, "tokenizer_config.json")))
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False, indent=2)
        f.write("\n")
    return spec


def load_official_tokenizer(folder: str, family: str):
    """The tokenizer the official code loads (use_fast=False): for a LLaMA folder with a
    SentencePiece tokenizer.model (Vicuna) the slow LlamaTokenizer on it, never a tokenizer.json
    converted from it; otherwise the folder's tokenizer.json."""
    from .hf_tokenizer import HFTokenizer
    if family != "gemma" and os.path.isfile(os.path.join(folder, "tokenizer.model")):
        return SlowLlamaTokenizer.from_dir(folder)
    return HFTokenizer.from_dir(folder)
