"""A reader for Hugging Face tokenizer.json files (BPE models), for the tooling that has neither the
`tokenizers` nor the `transformers` package: encode as `tokenizer(text).input_ids` does and decode as
`tokenizer.decode(ids, skip_special_tokens=...)` does.

Covered, as the Rust library defines them:
  added tokens   split out of the raw text first, leftmost-longest (lstrip / rstrip honoured); every
                 added token is matched on the raw text, also those marked normalized
  normalizers    Replace (string pattern), Prepend, Lowercase, NFC/NFD/NFKC/NFKD, Sequence
  pre-tokenizers Split (string or regex pattern; Isolated, Removed, MergedWithPrevious,
                 MergedWithNext), ByteLevel (GPT-2 byte-to-unicode map, add_prefix_space, use_regex),
                 Sequence. Regexes use \\p{L} / \\p{N}, which Python's re lacks: they are rewritten as
                 classes built from unicodedata (Python's Unicode version, not Oniguruma's)
  model          BPE: merges applied by rank, byte_fallback (<0xNN>), unk with fuse_unk,
                 ignore_merges; no dropout, no subword prefix / suffix
  post-processor TemplateProcessing (single sequences), ByteLevel (no change to ids), Sequence
  decoders       Replace, ByteFallback, Fuse, Strip, ByteLevel, Sequence
and then transformers' clean_up_tokenization when tokenizer_config.json asks for it (its default,
True in the transformers the official MGM code pins, when the file does not say).
Gemma's tokenizer.json and Llama-3's use only these, and so does the one mgm/llama_tokenizer.py
converts from Vicuna's SentencePiece tokenizer.model (Prepend + Replace, the Strip decoder).
"""
from __future__ import annotations

import json
import os
import re
import sys
import unicodedata
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple

GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


class TokenizerError(ValueError):
    pass


# ------------------------------------------------------------------------------ unicode classes

@lru_cache(maxsize=None)
def _category_ranges(major: str) -> str:
    """The code points whose general category starts with `major` (L, N, ...) as the inside of a
    character class: ranges escaped for re."""
    out, start, prev = [], None, None
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp)).startswith(major):
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            out.append((start, prev))
            start = None
    if start is not None:
        out.append((start, prev))
    esc = lambda c: "\\U%08x" % c  # noqa: E731
    return "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in out)


def translate_regex(pattern: str) -> str:
    """Rewrites \\p{X} and \\P{X} (one-letter categories) for Python's re."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in "pP" and pattern[i + 2:i + 3] == "{":
                end = pattern.index("}", i)
                cat = pattern[i + 3:end]
                if len(cat) != 1:
                    raise NotImplementedError(f"unicode class \\{nxt}{{{cat}}}")
                ranges = _category_ranges(cat)
                if in_class:
                    if nxt == "P":
                        raise NotImplementedError("\\P{..} inside a character class")
                    out.append(ranges)
                else:
                    out.append(("[^" if nxt == "P" else "[") + ranges + "]")
                i = end + 1
                continue
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
            out.append(c)
            # a ']' or '^]' right after the opening bracket is literal
            if pattern[i + 1:i + 2] == "^":
                out.append("^")
                i += 1
            if pattern[i + 1:i + 2] == "]":
                out.append("\\]")
                i += 1
        elif c == "]" and in_class:
            in_class = False
            out.append(c)
        else:
            out.append(c)
        i += 1
    return "".join(out)


@lru_cache(maxsize=None)
def _compiled(pattern: str):
    return re.compile(translate_regex(pattern))


# ------------------------------------------------------------------------------ byte level

@lru_cache(maxsize=None)
def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's map from the 256 bytes to printable characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = list(bs)
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


@lru_cache(maxsize=None)
def unicode_to_bytes() -> Dict[str, int]:
    return {c: b for b, c in bytes_to_unicode().items()}


def byte_level(text: str) -> str:
    table = bytes_to_unicode()
    return "".join(table[b] for b in text.encode("utf-8"))


# ------------------------------------------------------------------------------ pipeline steps

def _normalize(spec: Optional[dict], text: str) -> str:
    if not spec:
        return text
    kind = spec["type"]
    if kind == "Sequence":
        for s in spec["normalizers"]:
            text = _normalize(s, text)
        return text
    if kind == "Replace":
        pat = spec["pattern"]
        if "String" in pat:
            return text.replace(pat["String"], spec["content"])
        return _compiled(pat["Regex"]).sub(lambda m: spec["content"], text)
    if kind == "Prepend":
        return spec["prepend"] + text if text else text
    if kind == "Lowercase":
        return text.lower()
    if kind in ("NFC", "NFD", "NFKC", "NFKD"):
        return unicodedata.normalize(kind, text)
    raise NotImplementedError(f"normalizer {kind}")


def _split(pattern, text: str, behavior: str, invert: bool) -> List[str]:
    if invert:
        raise NotImplementedError("Split with invert")
    spans, last = [], 0  # (start, end, is_match)
    for m in pattern.finditer(text):
        if m.start() == m.end():
            continue
        if m.start() > last:
            spans.append((last, m.start(), False))
        spans.append((m.start(), m.end(), True))
        last = m.end()
    if last < len(text):
        spans.append((last, len(text), False))
    pieces: List[str] = []
    if behavior == "Isolated":
        pieces = [text[a:b] for a, b, _ in spans]
    elif behavior == "Removed":
        pieces = [text[a:b] for a, b, hit in spans if not hit]
    elif behavior == "MergedWithPrevious":
        for a, b, hit in spans:
            if hit and pieces:
                pieces[-1] += text[a:b]
            else:
                pieces.append(text[a:b])
    elif behavior == "MergedWithNext":
        carry = ""
        for a, b, hit in spans:
            if hit:
                carry += text[a:b]
            else:
                pieces.append(carry + text[a:b])
                carry = ""
        if carry:
            pieces.append(carry)
    else:
        raise NotImplementedError(f"Split behavior {behavior}")
    return [p for p in pieces if p]


class _StringPattern:
    def __init__(self, s: str):
        self.re = re.compile(re.escape(s))

    def finditer(self, text):
        return self.re.finditer(text)


def _pre_tokenize(spec: Optional[dict], pieces: List[str]) -> List[str]:
    if not spec:
        return pieces
    kind = spec["type"]
    if kind == "Sequence":
        for s in spec["pretokenizers"]:
            pieces = _pre_tokenize(s, pieces)
        return pieces
    if kind == "Split":
        pat = spec["pattern"]
        compiled = _StringPattern(pat["String"]) if "String" in pat else _compiled(pat["Regex"])
        return [q for p in pieces for q in _split(compiled, p, spec.get("behavior", "Isolated"),
                                                   spec.get("invert", False))]
    if kind == "ByteLevel":
        out = []
        for i, p in enumerate(pieces):
            if spec.get("add_prefix_space") and i == 0 and not p.startswith(" "):
                p = " " + p
            parts = _split(_compiled(GPT2_PATTERN), p, "Isolated", False) if spec.get("use_regex", True) else [p]
            out += [byte_level(q) for q in parts]
        return out
    raise NotImplementedError(f"pre_tokenizer {kind}")


def _decode_chain(spec: Optional[dict], tokens: List[str]) -> List[str]:
    if not spec:
        return tokens
    kind = spec["type"]
    if kind == "Sequence":
        for s in spec["decoders"]:
            tokens = _decode_chain(s, tokens)
        return tokens
    if kind == "Replace":
        pat = spec["pattern"]
        if "String" not in pat:
            raise NotImplementedError("Replace decoder with a regex")
        return [t.replace(pat["String"], spec["content"]) for t in tokens]
    if kind == "ByteFallback":
        out, pending = [], []

        def flush():
            if pending:
                try:
                    out.append(bytes(pending).decode("utf-8"))
                except UnicodeDecodeError:
                    out.extend("\ufffd" for _ in pending)  # one per byte token, as the Rust decoder
                pending.clear()

        for t in tokens:
            if len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
                try:
                    pending.append(int(t[3:5], 16))
                    continue
                except ValueError:
                    pass
            flush()
            out.append(t)
        flush()
        return out
    if kind == "Fuse":
        return ["".join(tokens)]
    if kind == "Strip":
        c, start, stop = spec["content"], spec.get("start", 0), spec.get("stop", 0)
        out = []
        for t in tokens:
            for _ in range(start):
                if t.startswith(c):
                    t = t[len(c):]
            for _ in range(stop):
                if t.endswith(c):
                    t = t[:-len(c)]
            out.append(t)
        return out
    if kind == "ByteLevel":
        table = unicode_to_bytes()
        data = bytearray()
        for t in tokens:
            for ch in t:
                if ch in table:
                    data.append(table[ch])
                else:
                    data.extend(ch.encode("utf-8"))
        return [data.decode("utf-8", errors="replace")]
    raise NotImplementedError(f"decoder {kind}")


def clean_up_tokenization(text: str) -> str:
    """transformers' PreTrainedTokenizerBase.clean_up_tokenization."""
    for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                 (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(a, b)
    return text


# ------------------------------------------------------------------------------ the tokenizer

class HFTokenizer:
    def __init__(self, spec: dict, config: Optional[dict] = None, special_map: Optional[dict] = None):
        model = spec["model"]
        if model.get("type", "BPE") != "BPE":
            raise NotImplementedError(f"model {model.get('type')}")
        if model.get("dropout"):
            raise NotImplementedError("BPE dropout")
        if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
            raise NotImplementedError("continuing_subword_prefix / end_of_word_suffix")
        self.spec = spec
        self.vocab: Dict[str, int] = dict(model["vocab"])
        self.ranks: Dict[Tuple[str, str], int] = {}
        for i, m in enumerate(model.get("merges") or []):
            a, b = m.split(" ") if isinstance(m, str) else m
            self.ranks.setdefault((a, b), i)
        self.unk = model.get("unk_token")
        self.byte_fallback = bool(model.get("byte_fallback"))
        self.fuse_unk = bool(model.get("fuse_unk"))
        self.ignore_merges = bool(model.get("ignore_merges"))
        self.added: Dict[str, dict] = {}
        for a in spec.get("added_tokens") or []:
            if a.get("single_word"):
                raise NotImplementedError(f"single_word added token {a['content']!r}")
            self.added[a["content"]] = a
            self.vocab.setdefault(a["content"], a["id"])
        self.id_to_tok: Dict[int, str] = {i: t for t, i in self.vocab.items()}
        for a in self.added.values():
            self.id_to_tok[a["id"]] = a["content"]
        self.special_ids = {a["id"] for a in self.added.values() if a.get("special")}
        self._added_re = None
        if self.added:
            alts = sorted(self.added, key=len, reverse=True)  # first alternative that fits = longest
            self._added_re = re.compile("|".join(re.escape(t) for t in alts))
        config = config or {}
        self.clean_up_spaces = bool(config.get("clean_up_tokenization_spaces", True))
        names = {**{k: v for k, v in config.items() if k.endswith("_token")}, **(special_map or {})}
        text = lambda v: v.get("content") if isinstance(v, dict) else v  # noqa: E731
        self.bos_token = text(names.get("bos_token"))
        self.eos_token = text(names.get("eos_token"))
        self.bos_token_id = self.vocab.get(self.bos_token) if self.bos_token else None
        self.eos_token_id = self.vocab.get(self.eos_token) if self.eos_token else None

    @staticmethod
    def from_dir(folder: str) -> "HFTokenizer":
        path = os.path.join(folder, "tokenizer.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{folder} has no tokenizer.json (a SentencePiece tokenizer.model "
                                    "alone: mgm/llama_tokenizer.py reads it)")
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        extra = []
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            p = os.path.join(folder, name)
            if os.path.isfile(p):
                with open(p, encoding="utf-8") as f:
                    extra.append(json.load(f))
            else:
                extra.append(None)
        return HFTokenizer(spec, extra[0], extra[1])

    # -------------------------------------------------------------- encode

    def token_to_id(self, token: str) -> Optional[int]:
        return self.vocab.get(token)

    def id_to_token(self, i: int) -> Optional[str]:
        return self.id_to_tok.get(i)

    def _split_added(self, text: str) -> List[Tuple[str, Optional[int]]]:
        if self._added_re is None:
            return [(text, None)] if text else []
        out, last = [], 0
        for m in self._added_re.finditer(text):
            a = self.added[m.group()]
            start, end = m.start(), m.end()
            if a.get("lstrip"):
                while start > last and text[start - 1].isspace():
                    start -= 1
            if a.get("rstrip"):
                while end < len(text) and text[end].isspace():
                    end += 1
            if start > last:
                out.append((text[last:start], None))
            out.append((m.group(), a["id"]))
            last = end
        if last < len(text):
            out.append((text[last:], None))
        return out

    def _bpe(self, word: str) -> List[int]:
        if not word:
            return []
        if self.ignore_merges and word in self.vocab:
            return [self.vocab[word]]
        symbols: List[str] = []
        unk_flags: List[bool] = []
        for ch in word:
            if ch in self.vocab:
                symbols.append(ch)
                unk_flags.append(False)
                continue
            if self.byte_fallback:
                byte_toks = ["<0x%02X>" % b for b in ch.encode("utf-8")]
                if all(t in self.vocab for t in byte_toks):
                    symbols += byte_toks
                    unk_flags += [False] * len(byte_toks)
                    continue
            if self.unk is None or self.unk not in self.vocab:
                raise TokenizerError(f"{ch!r} is not in the vocabulary and there is no unk token")
            if self.fuse_unk and unk_flags and unk_flags[-1]:
                continue
            symbols.append(self.unk)
            unk_flags.append(True)
        # merges by rank: the lowest-ranked adjacent pair first, its occurrences left to right
        while len(symbols) > 1:
            best, best_rank = None, None
            for pair in zip(symbols, symbols[1:]):
                r = self.ranks.get(pair)
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = pair, r
            if best is None:
                break
            merged, i, out = best[0] + best[1], 0, []
            while i < len(symbols):
                if i + 1 < len(symbols) and symbols[i] == best[0] and symbols[i + 1] == best[1]:
                    out.append(merged)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            symbols = out
        ids = []
        for s in symbols:
            if s not in self.vocab:
                raise TokenizerError(f"merge result {s!r} is not in the vocabulary")
            ids.append(self.vocab[s])
        return ids

    def _post_process(self, ids: List[int], spec: Optional[dict]) -> List[int]:
        if not spec:
            return ids
        kind = spec["type"]
        if kind == "Sequence":
            for p in spec["processors"]:
                ids = self._post_process(ids, p)
            return ids
        if kind == "ByteLevel":
            return ids  # only offsets change
        if kind == "TemplateProcessing":
            out = []
            for item in spec["single"]:
                if "SpecialToken" in item:
                    out += spec["special_tokens"][item["SpecialToken"]["id"]]["ids"]
                elif "Sequence" in item:
                    if item["Sequence"]["id"] != "A":
                        raise NotImplementedError("a single template with sequence B")
                    out += ids
            return out
        raise NotImplementedError(f"post_processor {kind}")

    def encode(self, text: str, add_special_tokens: bool = True) -> List[int]:
        ids: List[int] = []
        for segment, added_id in self._split_added(text):
            if added_id is not None:
                ids.append(added_id)
                continue
            normalized = _normalize(self.spec.get("normalizer"), segment)
            for piece in _pre_tokenize(self.spec.get("pre_tokenizer"), [normalized] if normalized else []):
                ids += self._bpe(piece)
        if add_special_tokens:
            ids = self._post_process(ids, self.spec.get("post_processor"))
        return ids

    def tokens(self, ids: Sequence[int]) -> List[str]:
        return [self.id_to_tok[i] for i in ids]

    # -------------------------------------------------------------- decode

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        toks = [self.id_to_tok[i] for i in ids
                if i in self.id_to_tok and not (skip_special_tokens and i in self.special_ids)]
        text = "".join(_decode_chain(self.spec.get("decoder"), toks))
        return clean_up_tokenization(text) if self.clean_up_spaces else text
