"""One tensor's arithmetic-coded section (``.tcz`` version 2, kind ``"a"``), and back.

Wiedemann et al., *DeepCABAC* (2019): a pruned, shared-weight tensor as context-coded binary
decisions (:mod:`.contexts`, coded by :mod:`.contexts_fast`). The section holds

- the codebook: ``c`` distinct kept values, float32, sorted by value (so the negative ones
  come first and a codebook index says the sign), none of them ``+0.0`` (the pruned value);
- with ``c = 0`` instead, every kept value raw, float32, in scan order;
- the arithmetic-coded stream of the entries: gaps and codebook indices, to the section's end.

The manifest entry ``{"k": "a", "n": kept, "c": c, "z": bytes}`` says how to read it; the
stream's flags (:mod:`.contexts`) say the scan order and whether neighbour contexts are on.
:func:`encode_arith` tries both scan orders, with and without neighbour contexts, and keeps the
smallest: it estimates each by the adaptive code length of its decisions
(:func:`estimated_bits`) and codes the best one.
"""

from __future__ import annotations

from math import lgamma, log

import numpy as np

from ..errors import FormatError
from .contexts import ContextLayout, scanned, unscanned
from .contexts_fast import binarise, decode_entries, encode_decisions
from .manifest import MAX_CODEBOOK

_F32 = np.dtype("<f4")


def estimated_bits(contexts: np.ndarray, bits: np.ndarray, num_contexts: int) -> float:
    """The code length of the decisions under one Krichevsky-Trofimov model per context, in bits:
    ``-log2 [Gamma(n0 + 1/2) Gamma(n1 + 1/2) / (pi Gamma(n0 + n1 + 1))]`` summed over contexts,
    exact for counts that are never halved and independent of the order of the bits."""
    ones = np.bincount(contexts, weights=bits, minlength=num_contexts)
    total = np.bincount(contexts, minlength=num_contexts).astype(np.float64)
    used = total > 0
    n1, n = ones[used], total[used]
    gam = np.vectorize(lgamma, otypes=[np.float64])
    nats = gam(n - n1 + 0.5) + gam(n1 + 0.5) - 2 * lgamma(0.5) - gam(n + 1)
    return float(-nats.sum() / log(2))


def _book(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The codebook of kept values (bit patterns, sorted by value) and each value's index, or
    None if there are more than :data:`MAX_CODEBOOK` distinct values."""
    uniq, inverse = np.unique(values, return_inverse=True)
    if uniq.size > MAX_CODEBOOK:
        return None
    order = np.argsort(uniq.view(_F32), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return uniq[order], rank[inverse.reshape(-1)]


def encode_arith(bits: np.ndarray, shape: tuple[int, ...]) -> tuple[dict, bytes]:
    """The ``"a"`` entry (without ``z``) and section of a tensor of ``shape`` whose float32 bit
    patterns are ``bits`` (flat, row-major)."""
    size = int(bits.size)
    best: tuple[float, dict, np.ndarray, np.ndarray, int, bytes] | None = None
    for order in (0, 1) if len(shape) >= 2 else (0,):
        flat = scanned(bits.reshape(shape), order)
        kept = np.flatnonzero(flat)
        gaps = np.diff(kept, prepend=-1) - 1
        book = _book(flat[kept])
        forms = [(None, flat[kept].tobytes(), 0)]  # raw values, or a codebook and indices
        if book is not None:
            forms.append((book[1], book[0].tobytes(), int(np.count_nonzero(book[0] >> 31))))
        for indices, head, negatives in forms:
            c = 0 if indices is None else len(head) // 4
            lay = ContextLayout(size, max(c - 1, 0).bit_length())
            for neighbours in (0, 1) if c > 1 else (0,):
                ctx, bit = binarise(gaps, indices, lay, negatives, order, neighbours)
                cost = estimated_bits(ctx, bit, lay.total) + 8 * len(head)
                if best is None or cost < best[0]:
                    desc = {"k": "a", "n": int(kept.size), "c": c}
                    best = (cost, desc, ctx, bit, lay.total, head)
    assert best is not None
    _, desc, ctx, bit, total, head = best
    return desc, head + encode_decisions(ctx, bit, total)


def stream_of(data: bytes, desc: dict) -> bytes:
    """The arithmetic-coded stream of an ``"a"`` section: what follows its codebook or raw
    values."""
    return data[4 * (desc["c"] or desc["n"]):]


def decode_arith(data: bytes, desc: dict, shape: tuple[int, ...]) -> np.ndarray:
    """The flat bit patterns (uint32, row-major) of an ``"a"`` section; ``desc`` is its checked
    manifest entry and ``len(data)`` its ``z``.

    Raises
    ------
    FormatError
        If the codebook is not sorted, holds ``+0.0`` or a non-finite value, a raw value is
        ``+0.0``, or the stream is corrupt (:func:`.contexts_fast.decode_entries`).
    """
    n, c, size = desc["n"], desc["c"], int(np.prod(shape, dtype=np.int64))
    head = 4 * (c if c else n)
    if len(data) < head:
        raise FormatError(f"needs {head} bytes before its stream, the section has {len(data)}")
    values = np.frombuffer(data[:head], dtype="<u4")
    floats = values.view(_F32)
    if np.count_nonzero(values == 0) or not np.all(np.isfinite(floats)):
        raise FormatError("a stored value is +0.0, NaN or infinite; the format stores kept, "
                          "finite values only")
    if c and np.any(floats[1:] <= floats[:-1]):
        raise FormatError("the codebook is not sorted by value without repeats, as the format "
                          "stores it")
    lay = ContextLayout(size, max(c - 1, 0).bit_length())
    negatives = int(np.count_nonzero(values >> 31)) if c else 0
    positions, indices, order = decode_entries(data[head:], n, lay, c, negatives)
    if order and len(shape) < 2:
        raise FormatError(f"the stream scans a tensor of shape {tuple(shape)} column-major")
    flat = np.zeros(size, np.uint32)
    flat[positions] = values[indices] if c else values
    return unscanned(flat, shape, order)
