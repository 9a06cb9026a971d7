"""A small ONNX interpreter in numpy, for the ops export_mgm.py's graphs use, so the tests can run
the exported graphs without ONNX Runtime (which only the Java side has here). Each op computes in
the dtype of its inputs, as a runtime would; only the semantics the exports need are covered
(Resize: linear with half_pixel coordinates; Conv: 2-d with groups, strides and pads)."""
from __future__ import annotations

import math
from typing import Dict

import numpy as np
import onnx
from onnx import helper, numpy_helper

_NP = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.FLOAT16: np.float16,
       onnx.TensorProto.DOUBLE: np.float64, onnx.TensorProto.INT64: np.int64,
       onnx.TensorProto.INT32: np.int32, onnx.TensorProto.BOOL: np.bool_}


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _erf(x):
    v = np.vectorize(math.erf, otypes=[np.float64])(x.astype(np.float64))
    return v.astype(x.dtype)


def _conv(x, w, b, a):
    groups = a.get("group", 1)
    sh, sw = a.get("strides", [1, 1])
    pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, c, h, wd = x.shape
    oc, icg, kh, kw = w.shape
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    out = np.zeros((n, oc, oh, ow), dtype=np.float64)
    ocg = oc // groups
    for g in range(groups):
        xs = x[:, g * icg:(g + 1) * icg].astype(np.float64)
        ws = w[g * ocg:(g + 1) * ocg].astype(np.float64)
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]          # n, icg, oh, ow
                out[:, g * ocg:(g + 1) * ocg] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    if b is not None:
        out += b.astype(np.float64)[None, :, None, None]
    return out.astype(x.dtype)


def _resize_linear(x, sizes):
    """Separable linear interpolation with half_pixel coordinates (align_corners=False), no antialias."""
    out = x.astype(np.float64)
    for axis in range(2, x.ndim):
        n_in, n_out = x.shape[axis], int(sizes[axis])
        if n_in == n_out:
            continue
        pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = (pos - lo).reshape([-1 if k == axis else 1 for k in range(x.ndim)])
        out = np.take(out, lo, axis=axis) * (1 - frac) + np.take(out, hi, axis=axis) * frac
    return out.astype(x.dtype)


def _slice(x, starts, ends, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    idx = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        idx[int(a)] = slice(int(s), int(max(min(e, 2 ** 62), -2 ** 62)), int(st))
    return x[tuple(idx)]


def _layer_norm(x, scale, bias, a):
    axis = a.get("axis", -1)
    axes = tuple(range(axis % x.ndim, x.ndim))
    xf = x.astype(np.float32)  # stash_type 1: statistics in float32
    mean = xf.mean(axes, keepdims=True)
    var = ((xf - mean) ** 2).mean(axes, keepdims=True)
    y = ((xf - mean) / np.sqrt(var + a.get("epsilon", 1e-5))).astype(x.dtype)
    return y * scale + (bias if bias is not None else 0)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def run(model: onnx.ModelProto, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env.update(feeds)
    env[""] = None
    for node in model.graph.node:
        a = _attrs(node)
        x = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Constant":
            y = numpy_helper.to_array(a["value"])
        elif op == "ConstantOfShape":
            v = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
            y = np.full(tuple(x[0]), v.reshape(-1)[0], dtype=v.dtype)
        elif op in ("Identity",):
            y = x[0]
        elif op == "Cast":
            y = x[0].astype(_NP[a["to"]])
        elif op in ("Add", "Sub", "Mul", "Div", "Pow"):
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power}[op]
            y = f(x[0], x[1])
            if op == "Div" and np.issubdtype(x[0].dtype, np.integer):
                y = np.floor_divide(x[0], x[1])
            elif op == "Pow":
                y = y.astype(x[0].dtype)
        elif op in ("And", "Equal", "LessOrEqual", "Where", "Not", "IsNaN"):
            y = {"And": lambda: np.logical_and(x[0], x[1]), "Equal": lambda: np.equal(x[0], x[1]),
                 "LessOrEqual": lambda: np.less_equal(x[0], x[1]), "Not": lambda: np.logical_not(x[0]),
                 "Where": lambda: np.where(x[0], x[1], x[2]), "IsNaN": lambda: np.isnan(x[0])}[op]()
        elif op in ("Cos", "Sin", "Sqrt", "Neg", "Sigmoid", "Erf"):
            f = {"Cos": np.cos, "Sin": np.sin, "Sqrt": np.sqrt, "Neg": np.negative,
                 "Sigmoid": lambda v: (1 / (1 + np.exp(-v))).astype(v.dtype), "Erf": _erf}[op]
            y = f(x[0])
        elif op == "Clip":
            y = np.clip(x[0], x[1] if len(x) > 1 and x[1] is not None else -np.inf,
                        x[2] if len(x) > 2 and x[2] is not None else np.inf).astype(x[0].dtype)
        elif op == "MatMul":
            y = np.matmul(x[0], x[1])
        elif op == "Einsum":
            y = np.einsum(a["equation"].decode() if isinstance(a["equation"], bytes) else a["equation"], *x)
        elif op == "Softmax":
            y = _softmax(x[0], a.get("axis", -1))
        elif op == "ReduceMean":
            y = x[0].mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1))).astype(x[0].dtype)
        elif op == "LayerNormalization":
            y = _layer_norm(x[0], x[1], x[2] if len(x) > 2 else None, a)
        elif op == "Conv":
            y = _conv(x[0], x[1], x[2] if len(x) > 2 else None, a)
        elif op == "Resize":
            if a.get("mode", b"nearest") not in (b"linear", "linear"):
                raise NotImplementedError(f"Resize mode {a.get('mode')}")
            sizes = x[3] if len(x) > 3 and x[3] is not None and x[3].size else \
                [round(s * f) for s, f in zip(x[0].shape, x[2])]
            y = _resize_linear(x[0], sizes)
        elif op == "Concat":
            y = np.concatenate(x, axis=a["axis"])
        elif op == "Gather":
            y = np.take(x[0], x[1], axis=a.get("axis", 0))
        elif op == "Shape":
            y = np.array(x[0].shape, dtype=np.int64)
        elif op == "Reshape":
            shape = [d if d != 0 else x[0].shape[i] for i, d in enumerate(x[1])]
            y = x[0].reshape(shape)
        elif op == "Transpose":
            y = np.transpose(x[0], a.get("perm"))
        elif op == "Unsqueeze":
            y = x[0]
            for ax in sorted(int(v) % (x[0].ndim + len(x[1])) for v in x[1]):
                y = np.expand_dims(y, ax)
        elif op == "Expand":
            y = x[0] * np.ones(tuple(x[1]), dtype=x[0].dtype)
        elif op == "Range":
            y = np.arange(x[0], x[1], x[2]).astype(x[0].dtype)
        elif op == "Slice":
            y = _slice(x[0], x[1], x[2], x[3] if len(x) > 3 else None, x[4] if len(x) > 4 else None)
        else:
            raise NotImplementedError(op)
        outs = y if isinstance(y, tuple) else (y,)
        for name, v in zip(node.output, outs):
            env[name] = np.asarray(v)
    return {o.name: env[o.name] for o in model.graph.output}
