"""A word-level tokenizer saved as a Hugging Face `tokenizer.json`.

Why word level: the world's language is closed, so whole words keep sequences short (fast decoding
on CPU), while single upper-case letters and digits spell any sign text. The pre-tokenizer splits
with one regex, and the `Fuse` decoder concatenates pieces, so decoding reproduces the text exactly
(spaces travel at the front of pieces). This module encodes exactly as the Rust library does for
this file, which the Java side loads through DJL's HuggingFaceTokenizer.
"""
from __future__ import annotations

import json
import re
from typing import Dict, Iterable, List

from . import world

PATTERN = r" ?[a-z]+| ?[A-Z]| ?[0-9]| ?[^\sA-Za-z0-9]|\s+"
SPECIAL = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>", "<image>"]
ADDED_PLAIN = ["<h>", "</h>"]  # kept in decoded text: they are part of generation answers


def pieces(text: str) -> List[str]:
    out, pos = [], 0
    for m in re.finditer(PATTERN, text):
        if m.start() > pos:
            out.append(text[pos:m.start()])
        out.append(m.group(0))
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


def corpus_texts() -> Iterable[str]:
    """Every string the world can produce in a prompt or an answer, from its vocabulary."""
    yield world.CAPTION_PROMPT
    words = set()
    for t in ["What color is the", "What shape is at the", "How many are there?",
              "How many objects are there?", "Is there a", "Where is the", "What does the sign say?",
              "Is there a sign?", "Generate an image like this one, but with the in.",
              "Generate an image like this one, but without the.", "Generate an image of.",
              "a sign that says at the, and", "\n"]:
        words.add(t)
    for w in ["yes", "no", "nothing", "user", "model", "a"]:
        words.add(w)
        words.add(" " + w)
    for c in world.CELLS + world.SHAPES + [world.plural(s) for s in world.SHAPES] + list(world.COLORS) \
            + list(world.SIZES):
        words.add(" " + c)
        words.add(c)
    yield from words
    for ch in world.SIGN_ALPHABET + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        yield ch
        yield " " + ch
    yield "?.,!:;'\"-"


def build_vocab() -> Dict[str, int]:
    vocab: Dict[str, int] = {}
    for tok in SPECIAL + ADDED_PLAIN:
        vocab[tok] = len(vocab)
    found = set()
    for text in corpus_texts():
        for p in pieces(text):
            found.add(p)
    for p in sorted(found):
        if p not in vocab:
            vocab[p] = len(vocab)
    return vocab


class Tokenizer:
    def __init__(self, vocab: Dict[str, int]):
        self.vocab = vocab
        self.inv = {i: t for t, i in vocab.items()}
        self.unk = vocab["<unk>"]
        added = sorted(SPECIAL + ADDED_PLAIN, key=len, reverse=True)
        self._added_re = re.compile("(" + "|".join(re.escape(a) for a in added) + ")")

    @staticmethod
    def load(path: str) -> "Tokenizer":
        with open(path) as f:
            return Tokenizer(json.load(f)["model"]["vocab"])

    def encode(self, text: str) -> List[int]:
        ids: List[int] = []
        for part in self._added_re.split(text):
            if not part:
                continue
            if part in self.vocab and (part in SPECIAL or part in ADDED_PLAIN):
                ids.append(self.vocab[part])
                continue
            ids.extend(self.vocab.get(p, self.unk) for p in pieces(part))
        return ids

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        return "".join(self.inv[i] for i in ids if not (skip_special and self.inv[i] in SPECIAL))

    def id(self, token: str) -> int:
        return self.vocab[token]

    def __len__(self) -> int:
        return len(self.vocab)

    def to_hf_json(self) -> dict:
        added = [{"id": self.vocab[t], "content": t, "single_word": False, "lstrip": False,
                  "rstrip": False, "normalized": False, "special": t in SPECIAL}
                 for t in SPECIAL + ADDED_PLAIN]
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": None,
            "pre_tokenizer": {"type": "Split", "pattern": {"Regex": PATTERN},
                              "behavior": "Isolated", "invert": False},
            "post_processor": None,
            "decoder": {"type": "Fuse"},
            "model": {"type": "WordLevel", "vocab": self.vocab, "unk_token": "<unk>"},
        }

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self.to_hf_json(), f, ensure_ascii=False, indent=1)


def chat_prompt(prompt: str) -> str:
    """Mini-Gemini's Gemma template up to the model's turn; `<image>` stands for the N visual tokens."""
    return f"<bos><start_of_turn>user\n<image>\n{prompt}<end_of_turn>\n<start_of_turn>model\n"
