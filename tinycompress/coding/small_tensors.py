"""Biases and other small tensors in fewer bits: float16, or 8 bits with a power-of-two scale.

Han, Mao & Dally, *Deep Compression* (ICLR 2016) count only the weights; a ``.tcz`` file
holds the biases too, as float32 by default: 1,640 of LeNet-300-100's 15,742 bytes in
version 1. The *small* tensors are every tensor but a layer's weights ``W`` (biases, batch
norm's scales, shifts and running statistics), and ``small`` says how the file keeps them:

- ``"fp32"``: bit for bit, the default (the lossless forms of :mod:`.sections`);
- ``"fp16"``: rounded to float16 (kind ``"h"``: 2 bytes each); a tensor with a value float16
  cannot hold finitely (beyond 65,504) stays float32;
- ``"int8"``: ``x ~ q 2^e`` with integers ``|q| <= 127`` and one exponent per tensor, the
  smallest with ``max |x| <= 127 2^e`` (kind ``"q"``: ``e`` in the manifest, the ``q + 127``
  as a stream of :func:`.sections.encode_stream`). ``q 2^e`` is exact in float32, and
  storing the stored values again gives them back: the largest ``|q|`` is at least 64, so
  ``e`` is found again.

:func:`as_stored` is the model as the file will decode it, so that a caller can measure each
choice's validation error before encoding; :func:`stored_value` is one tensor's;
:func:`encode_small` and :func:`decode_small` are the sections of kinds ``"h"`` and ``"q"``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from ..errors import FormatError, UsageError, shown
from ..nn.model import Sequential
from .sections import Cursor, decode_stream, encode_stream

SMALL = ("fp32", "fp16", "int8")
"""The ways a file may store its small tensors; ``"fp32"`` is lossless."""

Q_MAX = 127
"""The largest ``|q|`` of ``"int8"``; a stored symbol is ``q + 127``, in ``0..254``."""

E_RANGE = (-149, 121)
"""Exponents ``e`` of ``"int8"``: ``2^-149`` is float32's smallest step, and ``127 2^121``
its largest power-of-two multiple below the float32 maximum."""


def is_small(name: str) -> bool:
    """Whether the tensor ``name`` (``"layer/key"``) is a small one: anything but a ``W``."""
    return not name.endswith("/W")


def check_small(small: Any) -> str:
    """``small``, if it is one of :data:`SMALL`; else :class:`UsageError`."""
    if small not in SMALL:
        raise UsageError(f"small tensors are stored as one of {', '.join(SMALL)}; got "
                         f"{shown(small)}")
    return small


def exponent(x: np.ndarray) -> int:
    """The ``"int8"`` exponent of ``x``: the smallest ``e`` with ``max |x| <= 127 2^e``."""
    top = float(np.max(np.abs(x), initial=0.0))
    if top == 0.0:
        return 0
    e = math.ceil(math.log2(top / Q_MAX))
    while top > Q_MAX * 2.0**e:
        e += 1
    while top <= Q_MAX * 2.0 ** (e - 1):
        e -= 1
    return min(max(e, E_RANGE[0]), E_RANGE[1])


def quantised(x: np.ndarray) -> tuple[np.ndarray, int]:
    """``(q, e)`` of ``"int8"``: ``q = round(x / 2^e)`` (halves to even; ``-0`` becomes ``0``),
    int64."""
    e = exponent(x)
    q = np.clip(np.rint(np.ldexp(x.astype(np.float64), -e)), -Q_MAX, Q_MAX) + 0.0
    return q.astype(np.int64), e


def _half(arr: np.ndarray) -> np.ndarray | None:
    """``arr`` rounded to float16 (little-endian), or None if a value overflows it."""
    with np.errstate(over="ignore"):
        half = np.asarray(arr, np.float32).astype("<f2")
    return half if np.all(np.isfinite(half)) else None


def stored_value(arr: np.ndarray, small: str) -> np.ndarray:
    """The float32 values the file will hold for the small tensor ``arr`` stored as ``small``."""
    arr = np.asarray(arr, np.float32)
    if small == "fp16":
        half = _half(arr)
        return arr if half is None else half.astype(np.float32)
    if small == "int8":
        q, e = quantised(arr)
        return np.ldexp(q.astype(np.float32), e).astype(np.float32).reshape(arr.shape)
    return arr


def as_stored(model: Sequential, small: str = "fp32") -> Sequential:
    """A copy of ``model`` whose small tensors hold exactly the values a file written with
    ``small`` decodes to (the weights ``W`` are untouched)."""
    check_small(small)
    out = copy.deepcopy(model)
    for layer in out.layers:
        for store in (layer.params, layer.buffers):
            for key, value in store.items():
                if is_small(f"{layer.name}/{key}"):
                    store[key] = stored_value(value, small)
    return out


def encode_small(arr: np.ndarray, small: str) -> tuple[dict[str, Any], bytes] | None:
    """The ``"h"`` or ``"q"`` entry (without ``z``) and section of ``stored_value(arr,
    small)``, or None for ``"fp32"`` (and for a tensor ``"fp16"`` keeps in float32)."""
    if small == "fp16":
        half = _half(arr)
        return None if half is None else ({"k": "h"}, half.tobytes())
    if small == "int8":
        q, e = quantised(np.asarray(arr, np.float32))
        desc, data = encode_stream(q.reshape(-1) + Q_MAX, 2 * Q_MAX + 1)
        return {"k": "q", "e": e, "v": desc}, data
    return None


def decode_small(data: bytes, desc: dict[str, Any], size: int) -> np.ndarray:
    """The float32 bit patterns (uint32, flat) of a checked ``"h"`` or ``"q"`` section of
    ``size`` values.

    Raises :class:`FormatError` for a float16 value that is not finite or a symbol past 254.
    """
    cur = Cursor(data)
    if desc["k"] == "h":
        half = np.frombuffer(cur.take(2 * size), "<f2")
        if not np.all(np.isfinite(half)):
            raise FormatError("a float16 value is NaN or infinite; a .tcz file stores finite "
                              "values only")
        values = half.astype(np.float32)
    else:
        q = decode_stream(cur, desc["v"], size, 2 * Q_MAX + 1) - Q_MAX
        values = np.ldexp(q.astype(np.float32), desc["e"]).astype(np.float32)
    cur.done()
    return values.view(np.uint32)
