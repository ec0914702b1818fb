"""Adaptive binary arithmetic coding: a range coder with carries, readable and by the book.

Witten, Neal & Cleary, *Arithmetic Coding for Data Compression* (CACM 30(6), 1987), with the
byte-wise renormalisation of the range coder (Martin 1979, as in LZMA) and the binary,
context-adaptive use of Marpe, Schwarz & Wiegand, *Context-Based Adaptive Binary Arithmetic
Coding in the H.264/AVC Video Compression Standard* (IEEE TCSVT 13(7), 2003), which
DeepCABAC (Wiedemann et al., 2019) brings to neural-network weights (:mod:`.contexts`).

**Interval narrowing.** A message is a sub-interval of ``[0, 1)``. Coding a bit of probability
``p0`` of being 0 splits the current interval ``[L, L + R)`` at ``L + R p0``: a 0 keeps the
lower part, a 1 the upper. After ``n`` bits ``R = prod_i p(b_i)``, and any number inside the
final interval identifies the message: it takes ``-log2 R + 2`` bits at most, so the code
length is ``-sum_i log2 p(b_i)`` plus two bits, whatever ``p`` is, as long as the decoder
uses the same ``p`` at each step (the *ideal code length* of the model, :func:`ideal_bits`).

**Integers.** Here ``L`` and ``R`` are 32-bit integers: ``R`` is the width of the interval in
units of ``2^-32`` of the bytes still to come. With ``p0 = P / 2^12``, the split is
``bound = (R >> 12) P`` (:func:`encode_symbol`, :func:`decode_symbol`). Truncating ``R >> 12``
costs a relative error below ``2^12 / R``: with ``R >= 2^24`` under ``2^-12``, so below
``0.00035`` bits per decision.

**Renormalisation.** Whenever ``R < 2^24``, the top byte of ``L`` can no longer change except
through a carry: it is written out and ``L`` and ``R`` are shifted left by 8 bits. The decoder
mirrors it, shifting the next byte into its ``code = C - L`` (the code value's offset in the
interval). ``1 <= P <= 4095`` keeps ``R >= 2^12`` after any decision, so at most two shifts.

**Carries.** ``L + bound`` can pass ``2^32``: the sum belongs to the bytes already written.
They are a number in base 256, so the carry adds one to the last byte, and ripples back
through any ``0xFF`` bytes, which become ``0x00`` (:func:`carry`). The interval
stays inside ``[0, 1)``, so the ripple never runs past the first byte.

**Flushing.** At the end the encoder writes the shortest number inside ``[L, L + R)``: the
value with the most trailing zero bytes, zero bytes dropped. The decoder reads zeros past the
end of its data, so the stream needs no length of its own beyond the section's; once done, it
recomputes that tail from its own state and refuses any other (:func:`check_end`).

**Adaptive probabilities** (:class:`AdaptiveBit`). Each context counts the zeros and ones it has
seen, ``n0`` and ``n1``, and predicts with the Krichevsky-Trofimov estimate
``p0 = (n0 + 1/2) / (n0 + n1 + 1)``, whose code length for a stationary source exceeds the
empirical entropy by about ``(1/2) log2 n`` bits per context; counts are halved when their sum
reaches :data:`COUNT_LIMIT`, so a context follows a source that drifts (WNC's frequency
counts, binary). The price: no context predicts a bit below ``1/510``, so a bit of
probability 0.001 costs 0.019 bits where its entropy is 0.011. CABAC replaces the counter by
a 64-state machine; :mod:`.contexts_fast` turns these counts into such a machine too, states
``(n0, n1)``, to avoid a division.

**Why a range coder.** rANS (Duda, 2013) codes as tightly and decodes with one multiply, but
it is last-in-first-out: an adaptive model must be run forwards, its probabilities stored, and
the bits coded backwards, which obscures the derivation above. CABAC's multiplication-free
M-coder approximates ``R p`` by a table of 4 x 64 entries, which saves work in hardware, not in
Python. A 32-bit range coder with 12-bit probabilities is the textbook's arithmetic, integer
exact, within ``0.1%`` of the ideal length.

**Alphabets of more than two symbols** (:func:`encode_symbols`, :func:`decode_symbols`). A
symbol of ``2^depth`` values is ``depth`` binary decisions down a tree, one adaptive context per
node: the product of the node probabilities along a path is the symbol's probability, so the
tree is an adaptive order-0 model of the whole alphabet, coded in ``-sum log2 p(s)`` bits plus
the models' learning cost. :mod:`.contexts` binarises codebook indices this way.

This module is the readable coder (method calls, one bit at a time); :mod:`.contexts_fast`
has the fast loops the ``.tcz`` file uses, tested to write and read the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from ..errors import FormatError

PROB_BITS = 12
"""Probabilities are integers ``P`` in ``1..2^12 - 1``: ``p0 = P / 4096``."""

PROB_ONE = 1 << PROB_BITS

COUNT_LIMIT = 255
"""An adaptive context halves its counts when ``n0 + n1`` reaches this."""

TOP = 1 << 24
"""Renormalise while the range is below ``2^24``: its top byte is then settled."""

MASK32 = (1 << 32) - 1


def kt_probability(n0: int, n1: int) -> int:
    """``P`` for counts ``n0, n1``: ``4096 (n0 + 1/2) / (n0 + n1 + 1)``, floored, in
    ``1..4095``."""
    p = ((2 * n0 + 1) << PROB_BITS) // (2 * (n0 + n1) + 2)
    return min(max(p, 1), PROB_ONE - 1)


def kt_update(n0: int, n1: int, bit: int) -> tuple[int, int]:
    """The counts after seeing ``bit``, halved (rounding up) once their sum reaches
    :data:`COUNT_LIMIT`."""
    n0, n1 = (n0 + 1, n1) if bit == 0 else (n0, n1 + 1)
    if n0 + n1 >= COUNT_LIMIT:
        n0, n1 = (n0 + 1) >> 1, (n1 + 1) >> 1
    return n0, n1


class AdaptiveBit:
    """One context: the counts of the zeros and ones coded in it, and its prediction."""

    __slots__ = ("n0", "n1")

    def __init__(self) -> None:
        self.n0 = self.n1 = 0

    @property
    def p0(self) -> int:
        """``P``, the probability (in 4096ths) that the next bit is 0."""
        return kt_probability(self.n0, self.n1)

    def update(self, bit: int) -> None:
        self.n0, self.n1 = kt_update(self.n0, self.n1, bit)


def encode_symbol(low: int, width: int, bit: int, p0: int) -> tuple[int, int]:
    """Narrow the interval ``[low, low + width)`` to the part of ``bit``: the first
    ``p0 / 4096`` of it for a 0, the rest for a 1.

    ``low`` may come back at or above ``2^32``: the caller carries that into the bytes it wrote.

    >>> encode_symbol(0, 1 << 32, 1, 1024)  # a 1 of probability 3/4: the upper 3/4
    (1073741824, 3221225472)
    """
    # BEGIN SOLUTION arith-binary-symbol
    bound = (width >> PROB_BITS) * p0
    if bit == 0:
        width = bound
    else:
        low, width = low + bound, width - bound
    # END SOLUTION
    return low, width


def decode_symbol(code: int, width: int, p0: int) -> tuple[int, int, int]:
    """The bit whose part of ``[0, width)`` holds ``code``, and ``(code, width)`` narrowed to
    that part as :func:`encode_symbol` narrowed the encoder's interval: ``(bit, code, width)``.

    ``code`` is the code value's offset from the interval's low end, ``0 <= code < width``.

    >>> decode_symbol(2_000_000_000, 1 << 32, 1024)
    (1, 926258176, 3221225472)
    """
    # BEGIN SOLUTION arith-binary-symbol
    bound = (width >> PROB_BITS) * p0
    if code < bound:
        bit, width = 0, bound
    else:
        bit, code, width = 1, code - bound, width - bound
    # END SOLUTION
    return bit, code, width


class RangeEncoder:
    """Encode bits one at a time (:meth:`encode`), then :meth:`finish` for the bytes."""

    def __init__(self) -> None:
        self.low, self.width = 0, MASK32
        self.out = bytearray()

    def encode(self, bit: int, model: AdaptiveBit) -> None:
        """Code ``bit`` with the probability of ``model``, then let the model learn it."""
        self.low, self.width = encode_symbol(self.low, self.width, bit, model.p0)
        model.update(bit)
        if self.low > MASK32:
            self.low = carry(self.out, self.low)
        while self.width < TOP:
            self.out.append(self.low >> 24)
            self.low, self.width = (self.low << 8) & MASK32, self.width << 8

    def finish(self) -> bytes:
        """The coded bytes (:func:`flush`)."""
        return flush(self.out, self.low, self.width)


def carry(out: bytearray, low: int) -> int:
    """Add the overflow of ``low`` (at or above ``2^32``) to the bytes written, a ripple back
    through ``0xFF`` bytes; ``low`` without it."""
    i = len(out) - 1
    while out[i] == 0xFF:
        out[i] = 0
        i -= 1
    out[i] += 1
    return low & MASK32


def flush(out: bytearray, low: int, width: int) -> bytes:
    """The bytes ``out`` then the shortest number in ``[low, low + width)``: the first multiple of
    ``2^(32 - 8 k)`` at or above ``low``, for the smallest ``k`` that lies inside, as ``k``
    bytes; then every ``0x00`` at the end is dropped (the decoder reads zeros past the end)."""
    for keep in range(5):
        unit = 1 << (32 - 8 * keep)
        value = -(-low // unit) * unit
        if value < low + width:
            break
    if value > MASK32:
        value = carry(out, value)
    return (bytes(out) + value.to_bytes(4, "big")[:keep]).rstrip(b"\x00")


class RangeDecoder:
    """Decode bits from ``data`` (:meth:`decode`), then :meth:`finish` to check the end.

    Raises
    ------
    FormatError
        If the data start with a value no encoder writes (four bytes ``0xFF``), or, at
        :meth:`finish`, do not end as the encoder ends a stream (:func:`check_end`).
    """

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 4
        self.code, self.width = start_code(data), MASK32

    def decode(self, model: AdaptiveBit) -> int:
        """The next bit, read with the probability of ``model``, which then learns it."""
        bit, self.code, self.width = decode_symbol(self.code, self.width, model.p0)
        model.update(bit)
        while self.width < TOP:
            byte = self.data[self.pos] if self.pos < len(self.data) else 0
            self.code, self.width = (self.code << 8) | byte, self.width << 8
            self.pos += 1
        return bit

    def finish(self) -> None:
        """Refuse data the encoder could not have written (see :func:`check_end`)."""
        check_end(self.data, self.pos, self.code, self.width)


def start_code(data: bytes) -> int:
    """The decoder's first ``code``: the first 4 bytes (zeros past the end), which must lie in
    the initial interval ``[0, 2^32 - 1)``."""
    code = int.from_bytes(data[:4].ljust(4, b"\x00"), "big")
    if code >= MASK32:
        raise FormatError("the arithmetic-coded stream starts outside its interval")
    return code


def check_end(data: bytes, pos: int, code: int, width: int) -> None:
    """Refuse a stream that does not end exactly as :func:`flush` ends it.

    After the last decision the decoder has read ``pos`` bytes (4, then one per shift) and
    holds ``code = C - L`` and ``width = R``, where ``C`` is the data as a number of ``pos``
    bytes (zeros past their end) and ``L`` the encoder's low end in the same units: so ``L =
    C - code``, carries included. The encoder wrote the bytes of the shortest number in
    ``[L, L + R)``, without zero bytes at the end; anything else (bytes left over, a different
    tail, a stream cut or padded) is refused. So the bytes of a valid stream are exactly the
    encoder's for the decisions they decode to.
    """
    if len(data) > pos:
        raise FormatError(f"{len(data) - pos} bytes after the end of the arithmetic-coded "
                          "stream")
    low = int.from_bytes(data.ljust(pos, b"\x00"), "big") - code
    for keep in range(5):
        unit = 1 << (32 - 8 * keep)
        value = -(-low // unit) * unit
        if value < low + width:
            break
    if value.to_bytes(pos, "big").rstrip(b"\x00") != data:
        raise FormatError("the arithmetic-coded stream does not end as its encoder ends it: "
                          "it is corrupt")


def ideal_bits(decisions: Iterable[tuple[int, int]], num_contexts: int) -> float:
    """The ideal adaptive code length, ``-sum_i log2 p(b_i)`` bits, of ``(context, bit)``
    pairs coded in that order with an :class:`AdaptiveBit` per context (``0..num_contexts-1``).

    The arithmetic coder's output approaches it within a few bytes (the module docstring).
    """
    models = [AdaptiveBit() for _ in range(num_contexts)]
    total = 0.0
    for ctx, bit in decisions:
        p0 = models[ctx].p0 / PROB_ONE
        total -= math.log2(p0 if bit == 0 else 1.0 - p0)
        models[ctx].update(bit)
    return total


def tree_decisions(symbols: Iterable[int], depth: int) -> Iterator[tuple[int, int]]:
    """The ``(context, bit)`` decisions of symbols ``0 .. 2^depth - 1``: each as its ``depth``
    bits, most significant first, where the context of a bit is its node in the binary tree
    (``1`` the root, then ``2 node + bit``), so contexts ``1 .. 2^depth - 1``.

    >>> list(tree_decisions([2], 2))  # 2 = 0b10: a 1 at the root, then a 0 at node 3
    [(1, 1), (3, 0)]

    Raises
    ------
    ValueError
        For a symbol outside ``0 .. 2^depth - 1``.
    """
    for s in symbols:
        if not 0 <= s < 1 << depth:
            raise ValueError(f"symbol {s} is outside 0..{(1 << depth) - 1}")
        node = 1
        for d in range(depth - 1, -1, -1):
            bit = (s >> d) & 1
            yield node, bit
            node = 2 * node + bit


def encode_symbols(symbols: Iterable[int], depth: int) -> bytes:
    """Code symbols of an alphabet of ``2^depth`` values with :class:`RangeEncoder`, down the
    tree of :func:`tree_decisions` with an :class:`AdaptiveBit` per node (``depth = 1``: a
    binary source in one context). ``8 len(result) / n`` is the adaptive coder's measured bits
    per symbol, within a few bytes of :func:`ideal_bits` of the same decisions."""
    models = [AdaptiveBit() for _ in range(1 << depth)]
    enc = RangeEncoder()
    for ctx, bit in tree_decisions(symbols, depth):
        enc.encode(bit, models[ctx])
    return enc.finish()


def decode_symbols(data: bytes, n: int, depth: int) -> list[int]:
    """The ``n`` symbols :func:`encode_symbols` coded into ``data``.

    Raises
    ------
    FormatError
        If ``data`` is not exactly what the encoder writes for ``n`` symbols (:func:`check_end`).
    """
    models = [AdaptiveBit() for _ in range(1 << depth)]
    dec, out = RangeDecoder(data), []
    for _ in range(n):
        node = 1
        for _ in range(depth):
            node = 2 * node + dec.decode(models[node])
        out.append(node - (1 << depth))
    dec.finish()
    return out
