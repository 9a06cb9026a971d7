"""Readers and writers for the checkpoint formats of Hugging Face and OpenCLIP folders.

Written against the published formats, not the libraries, because this project's tooling has neither
transformers nor safetensors: a safetensors file is an 8-byte little-endian header length, a JSON
header naming each tensor's dtype, shape and byte range, then the raw little-endian bytes; a sharded
checkpoint adds an index JSON whose weight_map names the shard holding each tensor.
"""
from __future__ import annotations

import json
import os
import struct
from typing import Dict, Iterable, List, Optional

import torch

Tensors = Dict[str, torch.Tensor]

# torch 1.13 has no unsigned 16/32/64-bit or float8 dtypes; such files are refused by name below
SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}
_DTYPE_NAMES = {v: k for k, v in SAFETENSORS_DTYPES.items()}

SAFETENSORS_INDEX = "model.safetensors.index.json"
BIN_INDEX = "pytorch_model.bin.index.json"
# one-file names, in the order a folder is searched; OpenCLIP's names come last
SINGLE_FILES = ("model.safetensors", "pytorch_model.bin",
                "open_clip_model.safetensors", "open_clip_pytorch_model.bin")


class CheckpointError(ValueError):
    pass


def read_config(folder: str, name: str = "config.json") -> dict:
    with open(os.path.join(folder, name), encoding="utf-8") as f:
        return json.load(f)


# ------------------------------------------------------------------------------ safetensors

def read_safetensors_header(path: str) -> dict:
    with open(path, "rb") as f:
        return _read_header(f, os.path.getsize(path))[0]


def _read_header(f, file_size: int):
    raw = f.read(8)
    if len(raw) != 8:
        raise CheckpointError("too short for a safetensors header")
    (n,) = struct.unpack("<Q", raw)
    if n > file_size - 8:
        raise CheckpointError(f"header length {n} runs past the end of the file")
    header = json.loads(f.read(n).decode("utf-8"))
    return header, 8 + n


def read_safetensors(path: str, keys: Optional[Iterable[str]] = None) -> Tensors:
    """Every tensor of the file (or only `keys`), each in its stored dtype."""
    size = os.path.getsize(path)
    out: Tensors = {}
    with open(path, "rb") as f:
        header, data_start = _read_header(f, size)
        wanted = set(header) - {"__metadata__"} if keys is None else set(keys)
        missing = wanted - set(header)
        if missing:
            raise CheckpointError(f"{path}: no tensor {sorted(missing)[0]}")
        # in file order, so the reads only move forward
        for name in sorted(wanted, key=lambda k: header[k]["data_offsets"][0]):
            out[name] = _read_tensor(f, name, header[name], data_start, size, path)
    return out


def _read_tensor(f, name: str, entry: dict, data_start: int, size: int, path: str) -> torch.Tensor:
    dtype_name = entry["dtype"]
    if dtype_name not in SAFETENSORS_DTYPES:
        raise CheckpointError(f"{path}: {name} has dtype {dtype_name}, which torch "
                              f"{torch.__version__} cannot hold")
    dtype = SAFETENSORS_DTYPES[dtype_name]
    shape = [int(s) for s in entry["shape"]]
    begin, end = (int(o) for o in entry["data_offsets"])
    numel = 1
    for s in shape:
        numel *= s
    expected = numel * _element_size(dtype)
    if end - begin != expected or data_start + end > size:
        raise CheckpointError(f"{path}: {name} spans bytes {begin}..{end}, expected {expected} "
                              f"bytes for {dtype_name} {shape}")
    if numel == 0:
        return torch.empty(shape, dtype=dtype)
    f.seek(data_start + begin)
    # a bytearray is writable, so the tensor owns its memory instead of aliasing a read-only buffer
    buf = bytearray(f.read(expected))
    return torch.frombuffer(buf, dtype=dtype).reshape(shape)


def _element_size(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def write_safetensors(path: str, tensors: Tensors, metadata: Optional[Dict[str, str]] = None):
    header: dict = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs: List[bytes] = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        if t.dtype not in _DTYPE_NAMES:
            raise CheckpointError(f"{name}: dtype {t.dtype} has no safetensors name here")
        data = _tensor_bytes(t)
        header[name] = {"dtype": _DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # the format pads the header with spaces so the data starts 8-byte aligned
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for data in blobs:
            f.write(data)


def _tensor_bytes(t: torch.Tensor) -> bytes:
    # numpy has no bfloat16, so every dtype is reinterpreted as bytes inside torch first
    flat = t.detach().cpu().contiguous().reshape(-1)
    if flat.numel() == 0:
        return b""
    if flat.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    return flat.view(torch.uint8).numpy().tobytes()


# ------------------------------------------------------------------------------ torch .bin

def read_torch_bin(path: str) -> Tensors:
    # weights_only refuses pickled code: a downloaded checkpoint is data, never something to run
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]  # OpenCLIP training checkpoints wrap the weights
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}  # saved from DataParallel
    return dict(obj)


def read_weights_file(path: str) -> Tensors:
    return read_safetensors(path) if path.endswith(".safetensors") else read_torch_bin(path)


# ------------------------------------------------------------------------------ folders

def read_index(path: str) -> Dict[str, str]:
    with open(path, encoding="utf-8") as f:
        index = json.load(f)
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{path}: no weight_map")
    return weight_map


def load_sharded(folder: str, index_name: str) -> Tensors:
    weight_map = read_index(os.path.join(folder, index_name))
    out: Tensors = {}
    for shard in sorted(set(weight_map.values())):
        tensors = read_weights_file(os.path.join(folder, shard))
        listed = {k for k, v in weight_map.items() if v == shard}
        missing = listed - set(tensors)
        if missing:
            raise CheckpointError(f"{shard}: the index lists {sorted(missing)[:3]} but the shard "
                                  "lacks them")
        out.update(tensors)
    return out


def checkpoint_format(folder: str) -> str:
    """The file (index or single weights file) that load_state_dict reads in `folder`."""
    for name in (SAFETENSORS_INDEX, BIN_INDEX) + SINGLE_FILES:
        if os.path.isfile(os.path.join(folder, name)):
            return name
    raise CheckpointError(f"{folder}: no weights (looked for {SAFETENSORS_INDEX}, {BIN_INDEX}, "
                          f"{', '.join(SINGLE_FILES)})")


def load_state_dict(folder: str) -> Tensors:
    """A checkpoint folder's full state dict, whichever of the usual formats it is stored in.

    safetensors wins over .bin when a folder has both, as in transformers' own loading."""
    name = checkpoint_format(folder)
    if name.endswith(".index.json"):
        return load_sharded(folder, name)
    return read_weights_file(os.path.join(folder, name))


def write_sharded(folder: str, tensors: Tensors, fmt: str, max_shard_bytes: int) -> List[str]:
    """Writes `tensors` as shards of at most max_shard_bytes (one tensor may exceed it) plus the
    index, named as transformers names them; returns the shard file names."""
    if fmt not in ("safetensors", "bin"):
        raise ValueError(f"format {fmt!r}: expected safetensors or bin")
    groups: List[List[str]] = [[]]
    used = 0
    for name in tensors:
        size = tensors[name].numel() * tensors[name].element_size()
        if groups[-1] and used + size > max_shard_bytes:
            groups.append([])
            used = 0
        groups[-1].append(name)
        used += size
    stem, ext, index_name = (("model", "safetensors", SAFETENSORS_INDEX) if fmt == "safetensors"
                             else ("pytorch_model", "bin", BIN_INDEX))
    os.makedirs(folder, exist_ok=True)
    files, weight_map, total = [], {}, 0
    for i, names in enumerate(groups, 1):
        file = f"{stem}-{i:05d}-of-{len(groups):05d}.{ext}"
        shard = {n: tensors[n].contiguous() for n in names}
        if fmt == "safetensors":
            write_safetensors(os.path.join(folder, file), shard, {"format": "pt"})
        else:
            torch.save(shard, os.path.join(folder, file))
        files.append(file)
        for n in names:
            weight_map[n] = file
            total += tensors[n].numel() * tensors[n].element_size()
    with open(os.path.join(folder, index_name), "w", encoding="utf-8") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    return files
