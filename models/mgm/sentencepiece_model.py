"""SentencePiece without the sentencepiece library: the ModelProto file (tokenizer.model) read and
written by hand in protobuf's wire format, and SentencePiece's BPE encoder and decoder.

Wire format: a message is a run of (field number << 3 | wire type) keys, each followed by a varint
(type 0), 8 bytes (1), a length-prefixed run (2) or 4 bytes (5). Every message here keeps its fields
in file order, unknown ones included, so a file read and written back is the same bytes.

  ModelProto      1 pieces (repeated SentencePiece: 1 piece, 2 score float, 3 type), 2 trainer_spec,
                  3 normalizer_spec, 4 self_test_data, 5 denormalizer_spec
  TrainerSpec     3 model_type (1 UNIGRAM, 2 BPE), 4 vocab_size, 35 byte_fallback, 40-43 unk/bos/
                  eos/pad id, 44 unk_surface, 45-48 unk/bos/eos/pad piece
  NormalizerSpec  1 name, 2 precompiled_charsmap, 3 add_dummy_prefix, 4 remove_extra_whitespaces,
                  5 escape_whitespaces (the last three default to true)

The encoder follows src/normalizer.cc, src/bpe_model.cc and SentencePieceProcessor's
PopulateSentencePieceText; the decoder follows SentencePieceProcessor::Decode. Only an empty
precompiled_charsmap (the "identity" normaliser LLaMA's model has) is supported.
"""
from __future__ import annotations

import heapq
import struct
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

SPACE = "\u2581"  # kSpaceSymbol
REPLACEMENT = "\ufffd"
DEFAULT_UNK_SURFACE = " \u2047 "

# SentencePiece.Type
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
# TrainerSpec.ModelType
UNIGRAM, BPE, WORD, CHAR = 1, 2, 3, 4

Value = Union[int, bytes]
Fields = List[Tuple[int, int, Value]]


class ProtoError(ValueError):
    pass


# ------------------------------------------------------------------------------ wire format

def _read_varint(data: bytes, pos: int) -> Tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise ProtoError("truncated varint")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ProtoError("varint longer than 10 bytes")


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int32 / int64 negatives take ten bytes
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def parse_fields(data: bytes) -> Fields:
    """The (field number, wire type, value) triples of one message, in order."""
    out: Fields = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, pos = _read_varint(data, pos)
        elif wt == 1:
            if pos + 8 > len(data):
                raise ProtoError("truncated fixed64")
            v, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wt == 2:
            n, pos = _read_varint(data, pos)
            if pos + n > len(data):
                raise ProtoError("truncated length-delimited field")
            v, pos = bytes(data[pos:pos + n]), pos + n
        elif wt == 5:
            if pos + 4 > len(data):
                raise ProtoError("truncated fixed32")
            v, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        else:
            raise ProtoError(f"wire type {wt} (field {num}) is not supported")
        if num == 0:
            raise ProtoError("field number 0")
        out.append((num, wt, v))
    return out


def encode_fields(fields: Fields) -> bytes:
    out = bytearray()
    for num, wt, v in fields:
        out += _varint(num << 3 | wt)
        if wt == 0:
            out += _varint(v)
        elif wt == 1:
            out += int(v).to_bytes(8, "little")
        elif wt == 2:
            out += _varint(len(v)) + v
        elif wt == 5:
            out += int(v).to_bytes(4, "little")
        else:
            raise ProtoError(f"wire type {wt}")
    return bytes(out)


def _signed(v: int, bits: int = 64) -> int:
    v &= (1 << 64) - 1
    if v >= 1 << 63:
        v -= 1 << 64
    if bits == 32:
        v = (v + (1 << 31)) % (1 << 32) - (1 << 31)
    return v


def _f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def _bits_f32(b: int) -> float:
    return struct.unpack("<f", struct.pack("<I", b))[0]


class Message:
    """A message as its field list, with typed access to the last occurrence of a field (proto2's
    rule for optional scalars) and in-place replacement, so untouched fields keep their bytes."""

    SCALARS: Dict[str, Tuple[int, str, object]] = {}  # name -> (number, kind, default)

    def __init__(self, fields: Optional[Fields] = None):
        self.fields: Fields = list(fields or [])

    def _last(self, num: int):
        for n, wt, v in reversed(self.fields):
            if n == num:
                return wt, v
        return None

    def has(self, name: str) -> bool:
        return self._last(self.SCALARS[name][0]) is not None

    def get(self, name: str):
        num, kind, default = self.SCALARS[name]
        hit = self._last(num)
        if hit is None:
            return default
        wt, v = hit
        if kind == "bool":
            return bool(v)
        if kind == "int32":
            return _signed(v, 32)
        if kind in ("enum", "uint64"):
            return v
        if kind == "float":
            return _bits_f32(v)
        if kind == "string":
            return v.decode("utf-8")
        return v  # bytes

    def set(self, name: str, value) -> None:
        num, kind, _ = self.SCALARS[name]
        if kind == "float":
            wt, v = 5, _f32_bits(value)
        elif kind == "string":
            wt, v = 2, value.encode("utf-8")
        elif kind == "bytes":
            wt, v = 2, bytes(value)
        else:
            wt, v = 0, int(value)
        idx = [i for i, f in enumerate(self.fields) if f[0] == num]
        if idx:
            self.fields[idx[-1]] = (num, wt, v)
            for i in reversed(idx[:-1]):
                del self.fields[i]
        else:
            self.fields.append((num, wt, v))
            self.fields.sort(key=lambda f: f[0])  # stable: a new field goes where protobuf writes it

    def to_bytes(self) -> bytes:
        return encode_fields(self.fields)


class TrainerSpec(Message):
    SCALARS = {"model_type": (3, "enum", UNIGRAM), "vocab_size": (4, "int32", 8000),
               "byte_fallback": (35, "bool", False), "unk_id": (40, "int32", 0), "bos_id": (41, "int32", 1),
               "eos_id": (42, "int32", 2), "pad_id": (43, "int32", -1), "unk_surface": (44, "string", DEFAULT_UNK_SURFACE),
               "unk_piece": (45, "string", "<unk>"), "bos_piece": (46, "string", "<s>"),
               "eos_piece": (47, "string", "</s>"), "pad_piece": (48, "string", "<pad>"),
               "treat_whitespace_as_suffix": (24, "bool", False), "model_prefix": (2, "string", ""),
               "character_coverage": (10, "float", 0.9995), "split_digits": (25, "bool", False),
               "max_sentencepiece_length": (20, "int32", 16)}


class NormalizerSpec(Message):
    SCALARS = {"name": (1, "string", ""), "precompiled_charsmap": (2, "bytes", b""),
               "add_dummy_prefix": (3, "bool", True), "remove_extra_whitespaces": (4, "bool", True),
               "escape_whitespaces": (5, "bool", True), "normalization_rule_tsv": (6, "string", "")}


class Piece(Message):
    SCALARS = {"piece": (1, "string", ""), "score": (2, "float", 0.0), "type": (3, "enum", NORMAL)}

    @staticmethod
    def make(piece: str, score: float, type_: int = NORMAL) -> "Piece":
        p = Piece()
        p.set("piece", piece)
        p.set("score", score)
        if type_ != NORMAL:
            p.set("type", type_)
        return p

    @property
    def piece(self) -> str:
        return self.get("piece")

    @property
    def score(self) -> float:
        return self.get("score")

    @property
    def type(self) -> int:
        return self.get("type")


@dataclass
class ModelProto:
    pieces: List[Piece] = field(default_factory=list)
    trainer_spec: TrainerSpec = field(default_factory=TrainerSpec)
    normalizer_spec: NormalizerSpec = field(default_factory=NormalizerSpec)
    # every other top-level field (self_test_data, denormalizer_spec, unknown ones), kept in place
    _layout: Fields = field(default_factory=list)

    @staticmethod
    def from_bytes(data: bytes) -> "ModelProto":
        m = ModelProto()
        for num, wt, v in parse_fields(data):
            if num in (1, 2, 3) and wt != 2:
                raise ProtoError(f"ModelProto field {num} has wire type {wt}")
            if num == 1:
                m.pieces.append(Piece(parse_fields(v)))
                m._layout.append((1, 2, b""))
            elif num == 2:
                m.trainer_spec = TrainerSpec(m.trainer_spec.fields + parse_fields(v))  # proto2 merge
                m._layout.append((2, 2, b""))
            elif num == 3:
                m.normalizer_spec = NormalizerSpec(m.normalizer_spec.fields + parse_fields(v))
                m._layout.append((3, 2, b""))
            else:
                m._layout.append((num, wt, v))
        if not m.pieces:
            raise ProtoError("no pieces: not a SentencePiece model")
        return m

    @staticmethod
    def load(path: str) -> "ModelProto":
        with open(path, "rb") as f:
            return ModelProto.from_bytes(f.read())

    def to_bytes(self) -> bytes:
        out: Fields = []
        pieces = iter(self.pieces)
        written_specs = set()
        n_pieces_in_layout = sum(1 for f in self._layout if f[0] == 1)
        layout = list(self._layout)
        if n_pieces_in_layout != len(self.pieces) or not layout:
            # pieces changed in number (or a new model): the canonical order 1, 2, 3, others
            layout = [(1, 2, b"")] * len(self.pieces) + [(2, 2, b""), (3, 2, b"")] + \
                [f for f in self._layout if f[0] not in (1, 2, 3)]
        for num, wt, v in layout:
            if num == 1:
                out.append((1, 2, next(pieces).to_bytes()))
            elif num in (2, 3):
                if num in written_specs:
                    continue  # a spec split over several fields is written once, merged
                written_specs.add(num)
                out.append((num, 2, (self.trainer_spec if num == 2 else self.normalizer_spec).to_bytes()))
            else:
                out.append((num, wt, v))
        return encode_fields(out)

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.to_bytes())


# ------------------------------------------------------------------------------ the model

def byte_piece(b: int) -> str:
    return "<0x%02X>" % b


def _piece_byte(piece: str) -> int:
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
        try:
            return int(piece[3:5], 16)
        except ValueError:
            pass
    return -1


class SentencePieceBPE:
    """SentencePieceProcessor for a BPE ModelProto: encode(text) -> ids as sp.encode(text) gives
    them, decode(ids) and decode_pieces(pieces) as sp.decode gives them.
    add_dummy_prefix overrides the normaliser's (transformers' non-legacy LlamaTokenizer loads the
    model with it turned off)."""

    def __init__(self, model: ModelProto, add_dummy_prefix: Optional[bool] = None):
        ts, ns = model.trainer_spec, model.normalizer_spec
        if ts.get("model_type") != BPE:
            raise NotImplementedError(f"model_type {ts.get('model_type')}: only BPE (2) is implemented")
        if ns.get("precompiled_charsmap"):
            raise NotImplementedError("a precompiled_charsmap normaliser (only identity is implemented)")
        if ts.get("treat_whitespace_as_suffix"):
            raise NotImplementedError("treat_whitespace_as_suffix")
        self.model = model
        self.add_dummy_prefix = ns.get("add_dummy_prefix") if add_dummy_prefix is None else add_dummy_prefix
        self.remove_extra_whitespaces = ns.get("remove_extra_whitespaces")
        self.escape_whitespaces = ns.get("escape_whitespaces")
        self.byte_fallback = ts.get("byte_fallback")
        self.unk_surface = ts.get("unk_surface")
        self.pieces: Dict[str, int] = {}     # NORMAL, USER_DEFINED, UNUSED: what merges may produce
        self.reserved: Dict[str, int] = {}   # UNKNOWN, CONTROL, BYTE
        self.id_to_piece: List[str] = []
        self.types: List[int] = []
        self.scores: List[float] = []
        self.user_defined: List[str] = []
        self.unk_id = -1
        for i, p in enumerate(model.pieces):
            text, t = p.piece, p.type
            if not text:
                raise ProtoError(f"piece {i} is empty")
            target = self.pieces if t in (NORMAL, USER_DEFINED, UNUSED) else self.reserved
            if text in self.pieces or text in self.reserved:
                raise ProtoError(f"piece {text!r} appears twice")
            target[text] = i
            if t == USER_DEFINED:
                self.user_defined.append(text)
            if t == UNKNOWN:
                self.unk_id = i
            if t == BYTE and not self.byte_fallback:
                raise ProtoError("byte pieces in a model without byte_fallback")
            self.id_to_piece.append(text)
            self.types.append(t)
            self.scores.append(p.score)
        if self.unk_id < 0:
            raise ProtoError("the model has no unknown piece")
        self.user_defined.sort(key=len, reverse=True)

    @staticmethod
    def load(path: str, add_dummy_prefix: Optional[bool] = None) -> "SentencePieceBPE":
        return SentencePieceBPE(ModelProto.load(path), add_dummy_prefix)

    def __len__(self) -> int:
        return len(self.id_to_piece)

    def piece_to_id(self, piece: str) -> int:
        """PieceToId: reserved pieces first, then the regular ones, else the unknown id."""
        if piece in self.reserved:
            return self.reserved[piece]
        return self.pieces.get(piece, self.unk_id)

    def is_control(self, i: int) -> bool:
        return self.types[i] == CONTROL

    def is_byte(self, i: int) -> bool:
        return self.types[i] == BYTE

    # -------------------------------------------------------------- normalise

    def normalize(self, text: str) -> str:
        """Normalizer::Normalize with the identity character map."""
        rwe = self.remove_extra_whitespaces
        if rwe:
            text = text.lstrip(" ")
        if not text:
            return ""
        ws = SPACE if self.escape_whitespaces else " "
        out = [ws] if self.add_dummy_prefix else []
        prev_space = rwe
        for ch in text:
            if ch == " ":
                if prev_space:
                    continue
                out.append(ws)
                prev_space = rwe
            else:
                out.append(ch)
                prev_space = False
        s = "".join(out)
        if rwe:
            while s.endswith(ws):
                s = s[:-len(ws)]
        return s

    # -------------------------------------------------------------- BPE

    def _symbols(self, normalized: str) -> List[Tuple[str, bool]]:
        """The initial symbols: user-defined pieces (longest match, never merged) or characters."""
        out, i = [], 0
        while i < len(normalized):
            for u in self.user_defined:
                if normalized.startswith(u, i):
                    out.append((u, True))
                    i += len(u)
                    break
            else:
                out.append((normalized[i], False))
                i += 1
        return out

    def bpe(self, normalized: str) -> List[Tuple[str, int]]:
        """bpe::Model::SampleEncode without dropout: the highest-scoring adjacent pair whose
        concatenation is a piece merges first, the leftmost on a tie; (piece, id) pairs."""
        init = self._symbols(normalized)
        if not init:
            return []
        sym = [s for s, _ in init]
        freeze = [f for _, f in init]
        prev = [i - 1 for i in range(len(sym))]
        nxt = [i + 1 if i + 1 < len(sym) else -1 for i in range(len(sym))]
        agenda: List[Tuple[float, int, int, int]] = []
        rev_merge: Dict[str, Tuple[str, str]] = {}

        def add_pair(left: int, right: int):
            if left == -1 or right == -1 or freeze[left] or freeze[right]:
                return
            piece = sym[left] + sym[right]
            pid = self.pieces.get(piece)
            if pid is None:
                return
            # heapq pops the smallest: the highest score, then the smallest left index
            heapq.heappush(agenda, (-self.scores[pid], left, right, len(piece)))
            if self.types[pid] == UNUSED:
                rev_merge[piece] = (sym[left], sym[right])

        for i in range(1, len(sym)):
            add_pair(i - 1, i)
        while agenda:
            _, left, right, size = heapq.heappop(agenda)
            if not sym[left] or not sym[right] or len(sym[left]) + len(sym[right]) != size:
                continue  # stale
            sym[left] = sym[left] + sym[right]
            nxt[left] = nxt[right]
            if nxt[right] >= 0:
                prev[nxt[right]] = left
            sym[right] = ""
            add_pair(prev[left], left)
            add_pair(left, nxt[left])

        out: List[Tuple[str, int]] = []

        def resegment(w: str):
            pid = self.piece_to_id(w)
            if self.types[pid] != UNUSED or w not in rev_merge:
                out.append((w, pid))
                return
            a, b = rev_merge[w]
            resegment(a)
            resegment(b)

        i = 0
        while i != -1:
            resegment(sym[i])
            i = nxt[i]
        return out

    def encode_pieces(self, text: str) -> List[Tuple[str, int]]:
        """(piece, id) as SentencePieceText holds them: unknown symbols become byte pieces with
        byte_fallback (a byte the model lacks gets the unknown id, one per byte), else adjacent
        unknown symbols are fused into one unknown piece."""
        out: List[Tuple[str, int]] = []
        prev_unk = False
        for w, pid in self.bpe(self.normalize(text)):
            is_unk = pid == self.unk_id
            if self.is_control(pid):
                out.append((w, pid))
            elif is_unk and self.byte_fallback:
                for b in w.encode("utf-8"):
                    bp = byte_piece(b)
                    out.append((bp, self.piece_to_id(bp)))
            elif is_unk and prev_unk:
                out[-1] = (out[-1][0] + w, out[-1][1])
            else:
                out.append((w, pid))
            prev_unk = is_unk
        return out

    def encode(self, text: str) -> List[int]:
        return [i for _, i in self.encode_pieces(text)]

    def encode_as_pieces(self, text: str) -> List[str]:
        return [p for p, _ in self.encode_pieces(text)]

    # -------------------------------------------------------------- decode

    def decode(self, ids: Sequence[int]) -> str:
        return self._decode([(self.id_to_piece[i], i) for i in ids])

    def decode_pieces(self, pieces: Sequence[str]) -> str:
        return self._decode([(p, self.piece_to_id(p)) for p in pieces])

    def _decode(self, items: List[Tuple[str, int]]) -> str:
        strip_bos_ws = self.add_dummy_prefix or self.remove_extra_whitespaces
        text: List[str] = []
        pending = bytearray()

        def flush():
            data, off = bytes(pending), 0
            while off < len(data):
                for n in (1, 2, 3, 4):  # one character, or U+FFFD for one invalid byte
                    try:
                        ch = data[off:off + n].decode("utf-8")
                    except UnicodeDecodeError:
                        continue
                    text.append(ch)
                    off += n
                    break
                else:
                    text.append(REPLACEMENT)
                    off += 1
            pending.clear()

        is_bos_ws, bos_ws_seen = True, False
        for piece, pid in items:
            if self.is_byte(pid):
                pending.append(_piece_byte(self.id_to_piece[pid]))
                continue
            flush()
            if bos_ws_seen or any(text):
                is_bos_ws = False
            if self.is_control(pid):
                decoded, bos_ws_seen = "", False
            elif pid == self.unk_id:
                decoded, bos_ws_seen = (self.unk_surface if piece == self.id_to_piece[pid] else piece), False
            else:
                has = False
                if is_bos_ws and strip_bos_ws and piece.startswith(SPACE):
                    piece, has = piece[1:], True
                    if self.remove_extra_whitespaces:
                        has = False
                decoded, bos_ws_seen = piece.replace(SPACE, " "), has
            text.append(decoded)
        flush()
        return "".join(text)
