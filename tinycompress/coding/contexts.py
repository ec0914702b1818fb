"""Context modelling of a sparse, shared-weight tensor: its kept weights as binary decisions.

Wiedemann et al., *DeepCABAC: A Universal Compression Algorithm for Deep Neural Networks*
(IEEE JSTSP 14(4), 2020; arXiv 2019) code each weight as binary decisions, each with an
adaptive context (:mod:`.arith`): a significance flag per position whose context is the
neighbouring weight, then the sign and magnitude. A flag per *position* costs one decision for
every pruned weight too: 400,000 of them for LeNet-5's ``fc1``, of which 96% are zero. Here
the binarisation codes, per *kept* weight, the gap from the previous kept weight and then its
codebook index. On LeNet's tensors it measures smaller, in a third of the decisions: the
positions of LeNet-300-100's ``fc1`` take 5.3 KB as gaps against 6.7 KB as flags with a
context per column (each input pixel's own rate), LeNet-5's ``fc1`` 10.4 against 10.5 KB.

1. **The gap** ``g >= 0`` (positions skipped), as ``v = g + 1`` in an adaptive Exp-Golomb code:
   with ``e = floor(log2 v)``, the *prefix* is ``e`` zeros then a one (the one is left out
   when ``e = E``, the largest exponent the tensor allows, ``E = max(1, floor(log2 size))``),
   then the *suffix* is the ``e`` bits of ``v`` below its leading one, most significant first.
   Prefix bit ``j`` has the context ``(class, j)``, where the class is the previous gap's
   exponent (at most :data:`MAX_CLASS`): gaps come in neighbourhoods of dense and sparse
   rows, the neighbour context of this binarisation. The first :data:`TREE_BITS` suffix bits
   have a context per ``(e, node of the binary tree so far)``, the others per ``(e, bit
   position)``. A zero prefix bit means "longer": a decoder that runs out of data reads zero
   bytes, zero bits, and overshoots the tensor within two gaps.
2. **The codebook index** ``s < c``, its ``D = bitlen(c - 1)`` bits as a walk down a binary
   tree, one context per node (an adaptive order-0 model of the ``c`` values), in three sets
   when *neighbour contexts* are on, by the weight just before it in scan order (DeepCABAC's
   neighbour): pruned, negative or positive (:func:`neighbour_class`; the codebook is sorted
   by value, so the first ``negatives`` indices are the negative ones). That neighbour is
   kept exactly when the gap is 0, so the class needs no look-up: LeNet-300-100's ``fc1``
   codes its indices in 2.2 bits instead of 2.65, its neighbouring pixels' weights alike.

The weights are visited in a *scan order*: ``0`` the tensor's own (row-major) order, ``1``
column-major over ``(shape[0], rest)``, which for a ``Dense`` ``W`` (in, out) visits each
output's inputs in pixel order, where LeNet-300-100's ``fc1`` keeps runs of the image's
centre (:func:`scanned`). The stream opens with two *flags*, each a decision of its own
context (so of probability 1/2): the scan order, and whether neighbour contexts are on.
Kept in the stream rather than the manifest, a flag cannot be forged without the stream decoding
differently, which its end check then refuses. It closes with the entry count's low
:data:`CHECK_BITS` bits, likewise: a decoder told a wrong count, or given a cut stream,
decodes them from other bits and refuses the stream (the cost: one byte a tensor).

:func:`binarise` turns the entries into ``(context, bit)`` decisions, numbered by
:class:`ContextLayout`; :func:`encode_readable` and :func:`decode_readable` code them with
the readable coder of :mod:`.arith`. The ``.tcz`` file uses the fast loops of
:mod:`.contexts_fast`, tested to give the same bytes and entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FormatError
from .arith import (
    MASK32,
    PROB_BITS,
    PROB_ONE,
    AdaptiveBit,
    RangeDecoder,
    RangeEncoder,
    start_code,
)

MAX_CLASS = 12
"""Prefix contexts know the previous gap's exponent up to this."""

TREE_BITS = 2
"""Suffix bits coded in a binary tree of contexts per exponent; later ones per position."""

CHECK_BITS = 8
"""The stream ends with the entry count modulo ``2^8``, a check on the count and the end."""


@dataclass(frozen=True)
class ContextLayout:
    """The numbering of one tensor's contexts, ``0 .. total - 1``.

    ``size`` is the tensor's number of positions, ``depth`` the index bits ``D``.
    """

    size: int
    depth: int

    @property
    def emax(self) -> int:
        """``E``, the largest gap exponent: ``v <= size`` needs ``e <= floor(log2 size)``."""
        return max(1, self.size.bit_length() - 1)

    @property
    def width(self) -> int:
        return self.emax + 1

    def prefix(self, cls: int, j: int) -> int:
        return cls * self.width + j

    @property
    def tree_base(self) -> int:
        return (MAX_CLASS + 1) * self.width

    def tree(self, e: int, node: int) -> int:
        return self.tree_base + 4 * e + node

    @property
    def rest_base(self) -> int:
        return self.tree_base + 4 * self.width

    def rest(self, e: int, d: int) -> int:
        return self.rest_base + e * self.width + d

    @property
    def value_base(self) -> int:
        return self.rest_base + self.width * self.width

    def value(self, cls: int, node: int) -> int:
        return self.value_base + (cls << self.depth) + node

    def flag(self, j: int) -> int:
        """The context of the stream's flag ``j``: 0 the scan order, 1 neighbour contexts, then
        ``2 + b`` bit ``b`` of the closing count check."""
        return self.value_base + (3 << self.depth) + j

    @property
    def total(self) -> int:
        return self.flag(2 + CHECK_BITS)


def scanned(arr: np.ndarray, order: int) -> np.ndarray:
    """``arr`` flattened in scan ``order`` (0: row-major; 1: column-major over
    ``(shape[0], rest)``)."""
    if order == 0 or arr.ndim < 2:
        return arr.reshape(-1)
    return arr.reshape(arr.shape[0], -1).T.reshape(-1)


def unscanned(flat: np.ndarray, shape: tuple[int, ...], order: int) -> np.ndarray:
    """The inverse of :func:`scanned`: the flat array, of ``shape``, in row-major order."""
    if order == 0 or len(shape) < 2:
        return flat
    rows = shape[0]
    return flat.reshape(-1, rows).T.reshape(-1)


def gap_decisions(v: int, cls: int, lay: ContextLayout) -> list[tuple[int, int]]:
    """The ``(context, bit)`` decisions of a gap ``v = g + 1`` after a gap of class ``cls``."""
    # BEGIN SOLUTION exp-golomb-gap
    e = v.bit_length() - 1
    out = [(lay.prefix(cls, j), 0) for j in range(e)]
    if e < lay.emax:
        out.append((lay.prefix(cls, e), 1))
    node = 1
    for d in range(e):
        bit = (v >> (e - 1 - d)) & 1
        if d < TREE_BITS:
            out.append((lay.tree(e, node), bit))
            node = 2 * node + bit
        else:
            out.append((lay.rest(e, d), bit))
    # END SOLUTION
    return out


def binarise(gaps: np.ndarray, indices: np.ndarray | None, lay: ContextLayout,
             negatives: int = 0, order: int = 0, neighbours: int = 0
             ) -> tuple[np.ndarray, np.ndarray]:
    """The decisions of the stream, in coding order: ``(contexts, bits)``, int64 arrays.

    Parameters
    ----------
    gaps : ndarray of int, shape (n,)
        ``g_i = q_i - q_{i-1} - 1`` for kept positions ``q`` (``q_{-1} = -1``) in scan order.
    indices : ndarray of int, shape (n,), or None
        Codebook indices (``lay.depth`` bits each), or None when there are none to code.
    negatives : int
        How many codebook values are negative (the first ones).
    order, neighbours : int
        The flags: the scan order, and 1 for neighbour contexts.
    """
    decisions = [(lay.flag(0), order), (lay.flag(1), neighbours)]
    cls, prev = 0, -1
    for i, g in enumerate(gaps.tolist()):
        v = g + 1
        decisions += gap_decisions(v, cls, lay)
        cls = min(v.bit_length() - 1, MAX_CLASS)
        if indices is not None and lay.depth:
            s = int(indices[i])
            vcls = neighbour_class(g, prev, negatives) if neighbours else 0
            node = 1
            for d in range(lay.depth - 1, -1, -1):
                bit = (s >> d) & 1
                decisions.append((lay.value(vcls, node), bit))
                node = 2 * node + bit
            prev = s
    decisions += count_check(gaps.size, lay)
    pairs = np.array(decisions, dtype=np.int64)
    return pairs[:, 0], pairs[:, 1]


def neighbour_class(gap: int, prev: int, negatives: int) -> int:
    """The index contexts' set: 0 if the weight just before is pruned (``gap > 0``, or there is
    no earlier entry: ``prev < 0``), else 1 if it is negative and 2 if it is positive."""
    if gap or prev < 0:
        return 0
    return 1 if prev < negatives else 2


def count_check(n: int, lay: ContextLayout) -> list[tuple[int, int]]:
    """The closing decisions: the low :data:`CHECK_BITS` bits of ``n``, most significant
    first, each in a context of its own."""
    return [(lay.flag(2 + b), (n >> (CHECK_BITS - 1 - b)) & 1) for b in range(CHECK_BITS)]


def encode_readable(contexts: np.ndarray, bits: np.ndarray, num_contexts: int) -> bytes:
    """Code the decisions with :class:`.arith.RangeEncoder`, one adaptive model per context."""
    models = [AdaptiveBit() for _ in range(num_contexts)]
    enc = RangeEncoder()
    for ctx, bit in zip(contexts.tolist(), bits.tolist(), strict=True):
        enc.encode(bit, models[ctx])
    return enc.finish()


class _Reader:
    """The readable decoder's state: the range decoder and one model per context."""

    def __init__(self, data: bytes, lay: ContextLayout) -> None:
        self.dec, self.lay = RangeDecoder(data), lay
        self.models = [AdaptiveBit() for _ in range(lay.total)]

    def bit(self, ctx: int) -> int:
        return self.dec.decode(self.models[ctx])

    def gap(self, cls: int) -> int:
        """``v = g + 1`` (see :func:`gap_decisions`)."""
        lay, e = self.lay, 0
        while e < lay.emax and self.bit(lay.prefix(cls, e)) == 0:
            e += 1
        v, node = 1, 1
        for d in range(e):
            bit = self.bit(lay.tree(e, node) if d < TREE_BITS else lay.rest(e, d))
            v, node = 2 * v + bit, 2 * node + bit
        return v

    def index(self, vcls: int) -> int:
        node = 1
        for _ in range(self.lay.depth):
            node = 2 * node + self.bit(self.lay.value(vcls, node))
        return node - (1 << self.lay.depth)


def decode_readable(data: bytes, n: int, lay: ContextLayout, codebook: int,
                    negatives: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """The inverse of :func:`binarise` then :func:`encode_readable`: ``(positions, indices,
    order)`` of ``n`` entries, int64 (indices all 0 when ``codebook`` is 0), and the scan
    order flag.

    Raises
    ------
    FormatError
        If neighbour contexts are on for a codebook of fewer than 2 values, a position passes the
        tensor's end, an index the codebook's, the closing check is not ``n``'s
        (:func:`check_count`), or the stream does not end as the encoder ends it
        (:func:`.arith.check_end`).
    """
    reader = _Reader(data, lay)
    order, neighbours = reader.bit(lay.flag(0)), reader.bit(lay.flag(1))
    check_flags(neighbours, codebook)
    positions, indices = np.zeros(n, np.int64), np.zeros(n, np.int64)
    q, cls, prev = -1, 0, -1
    for i in range(n):
        v = reader.gap(cls)
        q += v
        if q >= lay.size:
            raise FormatError(f"entry {i} lies at position {q}, past the tensor's {lay.size}")
        positions[i], cls = q, min(v.bit_length() - 1, MAX_CLASS)
        if codebook and lay.depth:
            s = reader.index(neighbour_class(v - 1, prev, negatives) if neighbours else 0)
            if s >= codebook:
                raise FormatError(f"entry {i} has codebook index {s}; the codebook has "
                                  f"{codebook} values")
            indices[i], prev = s, s
    check = 0
    for b in range(CHECK_BITS):
        check = 2 * check + reader.bit(lay.flag(2 + b))
    check_count(check, n)
    reader.dec.finish()
    return positions, indices, order


def check_count(check: int, n: int) -> None:
    """Refuse a stream whose closing check is not the count ``n`` modulo ``2^CHECK_BITS``."""
    if check != n % (1 << CHECK_BITS):
        raise FormatError(f"the stream's closing check is {check}, not {n} modulo "
                          f"{1 << CHECK_BITS}: the count or the stream is wrong")


def peek_flags(data: bytes) -> tuple[int, int]:
    """The stream's flags ``(order, neighbours)`` without decoding the rest: its first two
    decisions, each of probability 1/2 (fresh contexts), from the initial interval (where no
    renormalisation falls between them)."""
    code, width = start_code(data), MASK32
    flags = []
    for _ in range(2):
        bound = (width >> PROB_BITS) * (PROB_ONE // 2)
        bit = int(code >= bound)
        code, width = (code - bound, width - bound) if bit else (code, bound)
        flags.append(bit)
    return flags[0], flags[1]


def check_flags(neighbours: int, codebook: int) -> None:
    """Refuse neighbour contexts for a codebook of fewer than two values (no encoder sets
    them)."""
    if neighbours and codebook < 2:
        raise FormatError(f"the stream has neighbour contexts for a codebook of {codebook} "
                          "values")
