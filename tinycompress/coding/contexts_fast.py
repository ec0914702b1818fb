"""The fast arithmetic coder of :mod:`.contexts`: one tight integer loop each way.

Marpe, Schwarz & Wiegand, *Context-Based Adaptive Binary Arithmetic Coding in the H.264/AVC
Video Compression Standard* (IEEE TCSVT 13(7), 2003) run each context as a finite-state
machine: a state number gives the probability from one table and the next state from two
more, so an update is a lookup. :func:`state_tables` builds that machine for the
Krichevsky-Trofimov counts of :class:`.arith.AdaptiveBit`: the state is ``n0 * 256 + n1``,
so the fast coder predicts exactly what the readable one does, without a division.

:func:`encode_decisions` codes the ``(context, bit)`` decisions of :func:`.contexts.binarise`
with :mod:`.arith`'s interval narrowing, carries and flush written inline; it returns the bytes
:func:`.contexts.encode_readable` returns. :func:`decode_entries` is the inverse of both: the
binarisation and the range decoder in one loop over decisions, its ``phase`` saying which
part of the stream the next decision belongs to (the flags, an entry's gap prefix, gap suffix
or codebook index, the closing check), and
the inverse of :func:`.contexts.decode_readable`, with its checks. Local variables only: in
CPython a decision then costs about a dozen bytecodes.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..errors import FormatError
from .arith import (
    COUNT_LIMIT,
    MASK32,
    PROB_BITS,
    TOP,
    check_end,
    flush,
    kt_probability,
    kt_update,
    start_code,
)
from .contexts import (
    CHECK_BITS,
    MAX_CLASS,
    TREE_BITS,
    ContextLayout,
    check_count,
    check_flags,
    count_check,
)


def binarise(gaps: np.ndarray, indices: np.ndarray | None, lay: ContextLayout,
             negatives: int = 0, order: int = 0, neighbours: int = 0
             ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`.contexts.binarise` in array operations: ``(contexts, bits)``, int64.

    After the two flags, entry ``i`` with ``v = g + 1``, ``e = floor(log2 v)`` and ``D``
    index bits makes ``L_i = e + [e < E] + e + D`` decisions; decision ``t`` of the entry is a
    prefix zero (``t < e``), the prefix's one (``t = e < E``), suffix bit ``d`` (whose tree
    node is the leading one and the ``d`` bits above it: ``v >> (e - d)``) or index bit ``d'``
    (node ``2^d' + (s >> (D - d'))``).
    """
    v = np.asarray(gaps, np.int64) + 1
    e = np.frexp(v.astype(np.float64))[1].astype(np.int64) - 1
    depth = lay.depth if indices is not None else 0
    s = np.asarray(indices, np.int64) if depth else np.zeros_like(v)
    cls = np.minimum(np.concatenate([[0], e[:-1]]), MAX_CLASS).astype(np.int64)
    vcls = np.zeros_like(v)  # .contexts.neighbour_class of each entry
    if neighbours:
        vcls[1:] = np.where(v[1:] == 1, 2 - (s[:-1] < negatives), 0)
    stop = (e < lay.emax).astype(np.int64)
    count = 2 * e + stop + depth
    entry = np.repeat(np.arange(v.size), count)
    t = np.arange(entry.size) - np.repeat(np.cumsum(count) - count, count)
    e, v, s, cls, vcls, stop = (a[entry] for a in (e, v, s, cls, vcls, stop))
    ctx = cls * lay.width + t  # the prefix, zeros then the one
    bit = (t == e).astype(np.int64)
    d = t - e - stop  # suffix bit d, 0 <= d < e
    suffix = (d >= 0) & (d < e)
    shift = np.where(suffix, e - d, 0)
    bit = np.where(suffix, (v >> np.maximum(shift - 1, 0)) & 1, bit)
    ctx = np.where(suffix, np.where(d < TREE_BITS, lay.tree_base + 4 * e + (v >> shift),
                                    lay.rest_base + e * lay.width + d), ctx)
    dv = d - e  # index bit d', 0 <= d' < D
    index = dv >= 0
    shift = np.where(index, depth - dv, 0)
    node = (1 << np.where(index, dv, 0)) + (s >> shift)
    bit = np.where(index, (s >> np.maximum(shift - 1, 0)) & 1, bit)
    ctx = np.where(index, lay.value_base + (vcls << depth) + node, ctx)
    head = np.array([[lay.flag(0), order], [lay.flag(1), neighbours]], np.int64)
    tail = np.array(count_check(len(gaps), lay), np.int64).reshape(-1, 2)
    return (np.concatenate([head[:, 0], ctx, tail[:, 0]]),
            np.concatenate([head[:, 1], bit, tail[:, 1]]).astype(np.int64))


@cache
def state_tables() -> tuple[list[int], list[int], list[int]]:
    """``(P, NEXT0, NEXT1)`` over states ``s = n0 * 256 + n1``: the probability of a 0 and the
    states after a 0 and after a 1 (:func:`.arith.kt_probability`, :func:`.arith.kt_update`);
    state 0 is a context's start. States with ``n0 + n1 >= COUNT_LIMIT`` are never reached."""
    size = 256 * 256
    p, nxt0, nxt1 = [1] * size, [0] * size, [0] * size
    for n0 in range(COUNT_LIMIT):
        for n1 in range(COUNT_LIMIT - n0):
            s = n0 * 256 + n1
            p[s] = kt_probability(n0, n1)
            a0, a1 = kt_update(n0, n1, 0)
            b0, b1 = kt_update(n0, n1, 1)
            nxt0[s], nxt1[s] = a0 * 256 + a1, b0 * 256 + b1
    return p, nxt0, nxt1


def encode_decisions(contexts: np.ndarray, bits: np.ndarray, num_contexts: int) -> bytes:
    """The bytes of :func:`.contexts.encode_readable`, from a loop of local integers."""
    prob, nxt0, nxt1 = state_tables()
    state = [0] * num_contexts
    out = bytearray()
    low, width = 0, MASK32
    for k, bit in zip(contexts.tolist(), bits.tolist(), strict=True):
        s = state[k]
        bound = (width >> PROB_BITS) * prob[s]
        if bit:
            low += bound
            width -= bound
            state[k] = nxt1[s]
            if low > MASK32:  # the carry ripples back through 0xFF bytes
                i = len(out) - 1
                while out[i] == 0xFF:
                    out[i] = 0
                    i -= 1
                out[i] += 1
                low &= MASK32
        else:
            width = bound
            state[k] = nxt0[s]
        while width < TOP:
            out.append(low >> 24)
            low = (low << 8) & MASK32
            width <<= 8
    return flush(out, low, width)


def _flag(bit: int, flags: list[int], k: int, codebook: int, n: int) -> tuple[int, int]:
    """One bit of the stream's two flags or of its closing count check (a few per tensor):
    the decoder's next phase and context; phase -1 once the check is read."""
    flags.append(bit)
    if len(flags) == 2:
        check_flags(bit, codebook)
        return (0, 0) if n else (3, k + 1)
    if len(flags) == 2 + CHECK_BITS:
        check_count(int("".join(map(str, flags[2:])), 2), n)
        return -1, k + 1
    return 3, k + 1


def decode_entries(data: bytes, n: int, lay: ContextLayout, codebook: int,
                   negatives: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`.contexts.decode_readable`, fast: ``(positions, indices, order)``.

    Raises :class:`FormatError` where the readable decoder does, with the same checks.
    """
    prob, nxt0, nxt1 = state_tables()
    state, length, pos = [0] * lay.total, len(data), 4
    code, width = start_code(data), MASK32
    emax, row, size, tree, rest = lay.emax, lay.width, lay.size, lay.tree_base, lay.rest_base
    leaves = 1 << (lay.depth if codebook else 0)
    positions, indices, flags = [0] * n, [0] * n, []
    i = e = v = d = node = 0
    q, prev, vbase, phase, k = -1, -1, lay.value_base, 3, lay.flag(0)
    while True:
        s = state[k]
        bound = (width >> PROB_BITS) * prob[s]
        if code < bound:
            width, state[k], bit = bound, nxt0[s], 0
        else:
            code, width, state[k], bit = code - bound, width - bound, nxt1[s], 1
        while width < TOP:
            code = (code << 8) | (data[pos] if pos < length else 0)
            pos += 1
            width <<= 8
        if phase == 0:  # gap prefix: 0 is "longer"
            if bit == 0:
                e += 1
                if e < emax:
                    k += 1
                    continue
            if e:
                phase, v, d, node, k = 1, 1, 0, 1, tree + 4 * e + 1
                continue
            v = 1
        elif phase == 1:  # gap suffix
            v, d = 2 * v + bit, d + 1
            if d < e:
                node = 2 * node + bit
                k = tree + 4 * e + node if d < TREE_BITS else rest + e * row + d
                continue
        elif phase == 2:  # codebook index
            node = 2 * node + bit
            if node < leaves:
                k = vbase + node
                continue
            if node - leaves >= codebook:
                raise FormatError(f"entry {i} has codebook index {node - leaves}; the "
                                  f"codebook has {codebook} values")
            indices[i] = prev = node - leaves
            i, phase, e, k = i + 1, 0, 0, min(e, MAX_CLASS) * row
            if i == n:
                phase, k = 3, lay.flag(2)
            continue
        else:  # the two flags, then, once the entries are done, the closing check
            phase, k = _flag(bit, flags, k, codebook, n)
            if phase < 0:
                break
            continue
        q += v  # a gap is complete
        if q >= size:
            raise FormatError(f"entry {i} lies at position {q}, past the tensor's {size}")
        positions[i] = q
        if leaves > 1:  # the index's contexts: .contexts.neighbour_class
            vcls = 0 if v > 1 or prev < 0 or not flags[1] else 1 if prev < negatives else 2
            phase, node, vbase = 2, 1, lay.value_base + vcls * leaves
            k = vbase + 1
        else:
            i, phase, e, k = i + 1, 0, 0, min(e, MAX_CLASS) * row
            if i == n:
                phase, k = 3, lay.flag(2)
    check_end(data, pos, code, width)
    return np.array(positions, np.int64), np.array(indices, np.int64), flags[0]
