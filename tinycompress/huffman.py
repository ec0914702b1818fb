"""Huffman coding: optimal prefix codes, canonical form, and two decoders.

Huffman, *A Method for the Construction of Minimum-Redundancy Codes* (Proc. IRE, 1952), as
used by Han, Mao & Dally, *Deep Compression* (ICLR 2016, §4) on the quantised weight indices
and the sparse index gaps of a pruned network ("saves 20%-30% of network storage").

The pieces, in the order a reader meets them:

1. :func:`huffman_merges` builds the Huffman tree from symbol counts with a binary heap (merge
   the two lightest subtrees until one is left); :func:`code_lengths` returns each symbol's
   depth ``l_s`` in it.
   Huffman's code minimises the average length ``L = sum_s p_s l_s`` over all prefix codes,
   and ``H(p) <= L < H(p) + 1`` where ``H(p) = -sum_s p_s log2 p_s`` (:func:`entropy`).
2. :func:`canonical_codes` turns lengths into code words: sort symbols by ``(l_s, s)`` and
   count upwards, shifting left whenever the length grows. Only the lengths need storing.
   A length table describes a prefix code iff the Kraft sum ``sum_s 2^-l_s <= 1``.
3. :func:`encode` packs the code words of a symbol stream with NumPy (:mod:`.bitio`).
4. :func:`decode_bitwise` is the readable decoder: read one bit, and check whether the bits
   so far form a word of their length (canonical words of one length are consecutive).
5. :func:`decode` is the fast, table-driven decoder. It looks up ``T`` bits at a time in a
   table of ``2^T`` entries (words longer than ``T`` bits fall back to a canonical search on
   a wider window), which gives ``next(p) = p + length(word at p)`` for many positions ``p``
   in one NumPy call. The word starts are the orbit ``0, next(0), next(next(0)), ...``: a
   sequential chain, which is followed in thousands of parallel *lanes* started at evenly
   spaced bit offsets. Huffman codes resynchronise after a few words, so a lane started at
   an arbitrary bit soon joins the true chain; the short stretches before that are
   re-walked exactly, one word at a time, from the true entry points. A second table gives
   all the (up to 4) words that lie wholly in a ``T``-bit window, so a lane advances about
   ``T / L`` words per lookup.

Every decoder validates its input: a stream that ends early, bits that match no code word,
trailing bits, or a length table that is not a prefix code raise :class:`FormatError`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from .bitio import MAX_CODE_LENGTH, pack_codes
from .errors import FormatError

DEFAULT_TABLE_BITS = 16
"""Width ``T`` of the fast decoder's first-level lookup table (``2^T`` entries)."""

_BLOCK_BITS = 1 << 23
"""The fast decoder works through the stream in blocks of this many bit positions."""

_LANE_BITS = 512
"""Bits per lane in the fast decoder's parallel walk (a power of two)."""


# --------------------------------------------------------------------------- building codes
@dataclass(frozen=True)
class Merge:
    """One step of Huffman's construction: trees ``a`` and ``b`` (weights ``wa <= wb``) are
    joined under a new node ``parent`` of weight ``wa + wb``. Leaves are numbered ``0..m-1``
    in the order of the used symbols, internal nodes ``m, m+1, ...`` as they are made."""

    a: int
    wa: int
    b: int
    wb: int
    parent: int


def huffman_merges(counts: np.ndarray) -> tuple[np.ndarray, list[Merge]]:
    """Huffman's construction step by step: ``(used symbols, merges)``.

    Start with one tree per used symbol (``counts[s] > 0``), weighted by its count. Repeatedly
    pop the two lightest trees ``a, b`` from a binary heap and push a new node of weight
    ``w_a + w_b`` whose children they are, until one tree is left. Ties break by node id, so
    the result is deterministic. Each merge adds one bit to every leaf below it, so the total
    cost ``sum_s c_s l_s`` is the sum of the merged weights, which the greedy choice minimises
    (Huffman 1952).
    """
    counts = np.asarray(counts).ravel()
    if counts.size and (not np.issubdtype(counts.dtype, np.integer) or counts.min() < 0):
        raise ValueError("counts must be non-negative integers")
    used = np.flatnonzero(counts)
    heap = [(c, i) for i, c in enumerate(counts[used].tolist())]
    heapq.heapify(heap)
    merges = []
    while len(heap) > 1:
        wa, a = heapq.heappop(heap)
        wb, b = heapq.heappop(heap)
        merges.append(Merge(a, wa, b, wb, used.size + len(merges)))
        heapq.heappush(heap, (wa + wb, merges[-1].parent))
    return used, merges


def code_lengths(counts: np.ndarray) -> np.ndarray:
    """Huffman code lengths from symbol counts, built with a binary heap.

    Parameters
    ----------
    counts : ndarray of int, shape (k,)
        ``counts[s] >= 0`` occurrences of symbol ``s``.

    Returns
    -------
    ndarray of uint8, shape (k,)
        ``l_s``, the depth of leaf ``s`` in the Huffman tree of :func:`huffman_merges`; 0 for
        symbols that never occur. A single distinct symbol gets length 1 (a code word must
        have at least one bit).
    """
    used, merges = huffman_merges(counts)
    lengths = np.zeros(np.size(counts), dtype=np.uint8)
    if used.size == 1:
        lengths[used] = 1
    if used.size <= 1:
        return lengths
    parent = [0] * (2 * used.size - 1)
    for m in merges:
        parent[m.a] = parent[m.b] = m.parent
    depth = [0] * len(parent)  # the root is the last node made, at depth 0
    for v in range(len(parent) - 2, -1, -1):
        depth[v] = depth[parent[v]] + 1
    leaf_depth = np.array(depth[: used.size])
    if leaf_depth.max() > MAX_CODE_LENGTH:
        raise ValueError(f"a code longer than {MAX_CODE_LENGTH} bits would be needed")
    lengths[used] = leaf_depth
    return lengths


def kraft_sum_is_valid(lengths: np.ndarray) -> bool:
    """True iff ``sum_s 2^-l_s <= 1`` over the used symbols (``l_s > 0``), computed exactly.

    By the Kraft-McMillan inequality this is the condition for a prefix code with these
    lengths to exist; the canonical construction then always succeeds.
    """
    used = np.asarray(lengths, dtype=np.int64)
    used = used[used > 0]
    if used.size == 0:
        return True
    top = int(used.max())
    per_length = np.bincount(used, minlength=top + 1)
    return sum(int(c) << (top - length) for length, c in enumerate(per_length)) <= 1 << top


def canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """Canonical code words for the given code lengths.

    Parameters
    ----------
    lengths : ndarray of int, shape (k,)
        ``0 <= l_s <= 64``; 0 marks an unused symbol. Must satisfy the Kraft inequality.

    Returns
    -------
    ndarray of uint64, shape (k,)
        Code word of symbol ``s`` (its low ``l_s`` bits); 0 for unused symbols.

    Notes
    -----
    With ``N_l`` code words of length ``l``, the first (smallest) word of length ``l`` is
    ``F_l = (F_{l-1} + N_{l-1}) << 1`` (``F_1 = 0``), and words of one length are consecutive
    integers given to the symbols in increasing order. Shorter words are then numerically
    smaller prefixes, which is what lets the decoders find the length by comparing.
    """
    return _canonical_tables(np.asarray(lengths, dtype=np.int64).ravel())[0]


def _canonical_tables(
    lengths: np.ndarray,
) -> tuple[np.ndarray, list[int], np.ndarray, np.ndarray]:
    """Validate ``lengths``; return code words, ``F_l``, ``N_l`` and symbols sorted by length."""
    if lengths.size and (lengths.min() < 0 or lengths.max() > MAX_CODE_LENGTH):
        raise FormatError(f"code lengths must lie in 0..{MAX_CODE_LENGTH}")
    if not kraft_sum_is_valid(lengths):
        raise FormatError(
            "the code-length table is not a prefix code (Kraft sum exceeds 1); "
            "the file is corrupt"
        )
    per_length = np.bincount(lengths[lengths > 0], minlength=MAX_CODE_LENGTH + 1)
    first = [0] * (MAX_CODE_LENGTH + 1)
    for length in range(2, int(lengths.max(initial=0)) + 1):
        first[length] = (first[length - 1] + int(per_length[length - 1])) << 1
    order = np.lexsort((np.arange(lengths.size), lengths))
    order = order[lengths[order] > 0]
    sorted_len = lengths[order]
    # rank of each symbol among the symbols of the same length
    rank = np.arange(order.size) - np.searchsorted(sorted_len, sorted_len, side="left")
    codes = np.zeros(lengths.size, dtype=np.uint64)
    first_of = np.array([first[v] for v in sorted_len.tolist()], dtype=np.uint64)
    codes[order] = first_of + rank.astype(np.uint64)
    return codes, first, per_length, order


@dataclass(frozen=True)
class HuffmanCode:
    """A canonical prefix code over symbols ``0..k-1``, with the tables its decoders use.

    Build one with :meth:`from_counts` (Huffman's construction) or :meth:`from_lengths` (a
    stored length table, validated). Attributes are read-only arrays.

    Attributes
    ----------
    lengths : ndarray of uint8, shape (k,)
        Code length per symbol, 0 if the symbol has no code word.
    codes : ndarray of uint64, shape (k,)
        Canonical code word per symbol.
    max_length : int
        Longest code length (0 for an empty code).
    first_code, count, offset : ndarray, shape (65,)
        Per length ``l``: the first code word ``F_l``, how many words ``N_l``, and where the
        words of length ``l`` start in ``sorted_symbols``.
    sorted_symbols : ndarray of int64
        Used symbols sorted by ``(length, symbol)``: canonical word ``F_l + j`` is
        ``sorted_symbols[offset[l] + j]``.
    """

    lengths: np.ndarray
    codes: np.ndarray = field(repr=False)
    max_length: int = field(repr=False)
    first_code: np.ndarray = field(repr=False)
    count: np.ndarray = field(repr=False)
    offset: np.ndarray = field(repr=False)
    sorted_symbols: np.ndarray = field(repr=False)

    @classmethod
    def from_lengths(cls, lengths: np.ndarray) -> HuffmanCode:
        """Canonical code for a length table; :class:`FormatError` if it is not a prefix code."""
        lengths = np.asarray(lengths)
        if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
            raise FormatError("a code-length table must be a 1-D array of integers")
        lengths = lengths.astype(np.int64)
        codes, first, count, order = _canonical_tables(lengths)
        offset = np.concatenate([[0], np.cumsum(count)[:-1]])
        for arr in (codes, count, offset, order):
            arr.setflags(write=False)
        return cls(
            lengths=lengths.astype(np.uint8),
            codes=codes,
            max_length=int(lengths.max(initial=0)),
            first_code=np.array(first, dtype=np.uint64),
            count=count,
            offset=offset,
            sorted_symbols=order.astype(np.int64),
        )

    @classmethod
    def from_counts(cls, counts: np.ndarray) -> HuffmanCode:
        """Huffman's optimal code for the given symbol counts."""
        return cls.from_lengths(code_lengths(counts))

    @property
    def num_symbols(self) -> int:
        """Alphabet size ``k`` (used or not)."""
        return int(self.lengths.size)

    def encoded_bits(self, counts: np.ndarray) -> int:
        """Bits needed to code a stream with these symbol counts: ``sum_s c_s l_s``."""
        counts = np.asarray(counts, dtype=np.int64)
        if np.any((counts > 0) & (self.lengths[: counts.size] == 0)):
            raise ValueError("a symbol with a nonzero count has no code word")
        return int(counts @ self.lengths[: counts.size].astype(np.int64))


# --------------------------------------------------------------------------- measures
def entropy(counts: np.ndarray) -> float:
    """Shannon entropy ``H = -sum_s p_s log2 p_s`` in bits per symbol, ``p_s = c_s / sum c``.

    The lower bound on the average length of any prefix code for these frequencies
    (Shannon's source coding theorem); 0 for an empty or single-symbol stream.
    """
    c = np.asarray(counts, dtype=np.float64).ravel()
    c = c[c > 0]
    if c.size == 0:
        return 0.0
    # BEGIN SOLUTION entropy
    p = c / c.sum()
    h = -(p * np.log2(p)).sum()
    # END SOLUTION
    return float(h)


def average_length(counts: np.ndarray, lengths: np.ndarray) -> float:
    """Average code length ``L = sum_s p_s l_s`` in bits per symbol (0 for an empty stream)."""
    c = np.asarray(counts, dtype=np.float64).ravel()
    total = c.sum()
    if total == 0:
        return 0.0
    return float(c @ np.asarray(lengths, dtype=np.float64)[: c.size] / total)


# --------------------------------------------------------------------------- encoding
def encode(symbols: np.ndarray, code: HuffmanCode) -> tuple[bytes, int]:
    """Encode a stream of symbols as concatenated code words.

    Parameters
    ----------
    symbols : ndarray of int, shape (n,)
        Values in ``0..k-1``, each with a code word in ``code``.
    code : HuffmanCode

    Returns
    -------
    data : bytes
        The packed bit stream, zero-padded to whole bytes.
    nbits : int
        Its length in bits, ``sum_i l_{x_i}``; the decoders need it (and ``n``) back.
    """
    symbols = np.asarray(symbols).ravel()
    if symbols.size == 0:
        return b"", 0
    if not np.issubdtype(symbols.dtype, np.integer):
        raise ValueError("symbols must be integers")
    if symbols.min() < 0 or symbols.max() >= code.num_symbols:
        raise ValueError(f"symbols must lie in 0..{code.num_symbols - 1}")
    lengths = code.lengths[symbols]
    if np.any(lengths == 0):
        raise ValueError("a symbol in the stream has no code word (its count was 0)")
    return pack_codes(code.codes[symbols], lengths)


# --------------------------------------------------------------------------- decoding
def _check_stream(data: bytes, nbits: int, n: int, code: HuffmanCode) -> None:
    if nbits < 0 or n < 0:
        raise FormatError(f"negative stream size (nbits={nbits}, n={n})")
    if nbits > 8 * len(data):
        raise FormatError(
            f"bit stream ends early: {nbits} bits announced, {8 * len(data)} present; "
            "the file is truncated or corrupt"
        )
    if n > 0 and code.max_length == 0:
        raise FormatError(f"{n} symbols announced but the code has no code words")
    if n > nbits:
        raise FormatError(f"{n} symbols cannot fit in {nbits} bits (every code word has >= 1 bit)")


def decode_bitwise(data: bytes, nbits: int, n: int, code: HuffmanCode) -> np.ndarray:
    """Decode ``n`` symbols from ``nbits`` bits, one bit at a time (the readable decoder).

    The canonical decoder of Deutsch's ``puff.c``: keep the bits read so far as an integer
    ``w`` of ``l`` bits; words of length ``l`` are ``F_l .. F_l + N_l - 1``, so ``w`` is a
    word iff ``w - F_l < N_l``, and then its symbol is ``sorted_symbols[offset_l + w - F_l]``.
    Otherwise read one more bit: ``w = 2w + bit``, ``l = l + 1``. Exactly ``nbits`` bits must
    be consumed.

    Raises
    ------
    FormatError
        If the bits match no code word, end in the middle of one or before ``n`` symbols,
        or leave bits over.
    """
    _check_stream(data, nbits, n, code)
    first = code.first_code.tolist()
    count = code.count.tolist()
    offset = code.offset.tolist()
    symbols = code.sorted_symbols.tolist()
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=nbits).tolist()
    out = [0] * n
    pos = 0
    # BEGIN SOLUTION huffman-decode-bitwise
    for i in range(n):
        word = length = 0
        while True:
            if length == code.max_length:
                raise FormatError(f"no code word matches the bits at bit {pos - length}")
            if pos == nbits:
                raise FormatError(f"bit stream ends early, after {i} of {n} symbols")
            word = 2 * word + bits[pos]
            length += 1
            pos += 1
            if word - first[length] < count[length]:
                break
        out[i] = symbols[offset[length] + word - first[length]]
    # END SOLUTION
    if pos != nbits:
        raise FormatError(f"{nbits - pos} trailing bits after the last of {n} symbols")
    return np.array(out, dtype=np.int64)


_NOWHERE = 1 << 30
"""Length stored for bits that start no code word.

The walks step over such bits by one bit instead (every step then advances, so a table
width bounds how far ``s`` steps can go), and the symbol read-out finds them afterwards:
only a step on the true walk is an error.
"""

_FIRST_STEPS = 8
"""Lane steps remembered from each segment's start (those before the walker met it)."""

_MAX_WORDS = 4
"""Most code words the fast decoder reads in one table lookup."""


class _WordReader:
    """Reads the code words at many bit positions at once, with a two-level lookup.

    Level 1 is a table over all ``T``-bit windows ``v``: a word ``c`` of length ``l <= T``
    fills entries ``c << (T - l)`` to ``((c + 1) << (T - l)) - 1`` with ``(l, symbol)``.
    Entries that are the first ``T`` bits of a longer word hold length 0 and go to level 2,
    the canonical search: for ``l = T+1, ..., L_max`` the ``l``-bit window ``v`` is word
    ``F_l + j`` iff ``0 <= v - F_l < N_l``, and the first such ``l`` wins. Entries that start
    no word at all hold :data:`_NOWHERE`.

    A second table reads several words per lookup: for each window, the up to ``K`` words
    (:data:`_MAX_WORDS`) that lie wholly inside it, one after the other, as ``count[v]``,
    their total length ``step[v]`` and their symbols ``syms[v, :count[v]]``. A window whose
    first word is longer than ``T`` has ``count`` 0 and ``step`` 0 (level 2 reads it), one
    that starts no word has ``count`` 0 and ``step`` 1 (see :data:`_NOWHERE`).
    """

    def __init__(self, data: bytes, code: HuffmanCode, table_bits: int) -> None:
        self.code = code
        self.t = t = table_bits
        pad = np.zeros(16, dtype=np.uint8)  # windows past the end read zeros
        buf = np.concatenate([np.frombuffer(data, dtype=np.uint8), pad])
        self.buf = buf
        word32 = np.empty(buf.size, dtype=np.uint32)  # the 32 bits from each byte on
        for r in range(4):  # big-endian words at byte offsets r, r + 4, ...
            word = np.frombuffer(buf, dtype=">u4", offset=r, count=(buf.size - r) // 4)
            word32[r::4][: word.size] = word
        self.word32 = word32
        self.mask = (1 << t) - 1
        lengths = code.lengths.astype(np.int64)
        # every word start is congruent to the first one modulo the gcd of the lengths
        self.period = int(np.gcd.reduce(lengths[lengths > 0])) if code.max_length else 1
        # level 1: the first word of every window
        first_len = np.full(1 << t, _NOWHERE, dtype=np.int32)
        first_sym = np.zeros(1 << t, dtype=np.min_scalar_type(max(code.num_symbols - 1, 0)))
        long_ = np.flatnonzero(lengths > t)
        prefix = code.codes[long_] >> (lengths[long_] - t).astype(np.uint64)
        first_len[prefix.astype(np.int64)] = 0
        self.has_long = long_.size > 0
        short = np.flatnonzero((lengths > 0) & (lengths <= t))
        span = np.int64(1) << (t - lengths[short])
        first = code.codes[short].astype(np.int64) * span
        idx = np.repeat(first - np.cumsum(span) + span, span) + np.arange(int(span.sum()))
        first_len[idx] = np.repeat(lengths[short], span)
        first_sym[idx] = np.repeat(short, span)
        self.first_len = first_len
        # several words per window: peel off the first word while the next one still fits
        shortest = int(lengths[short].min()) if short.size else t
        self.k = k = max(1, min(_MAX_WORDS, t // shortest))
        self.syms = np.zeros((1 << t, k), dtype=first_sym.dtype)
        self.upto = np.arange(k) < np.arange(k + 1)[:, None]  # upto[c, i]: is i < c
        self.syms[:, 0] = first_sym
        used = first_len.copy()  # bits taken by the words so far, in the windows still going
        count = (first_len > 0) & (first_len <= t)
        going = np.flatnonzero(count)
        count = count.astype(np.int32)
        for i in range(1, k):
            rest = (going << used[going]) & self.mask  # the bits after them, zero-filled
            length = first_len[rest]
            fits = (length > 0) & (length <= t - used[going])
            self.syms[going, i] = first_sym[rest]
            going, length = going[fits], length[fits]
            used[going] += length
            count[going] += 1
        self.count = count
        self.step = np.where(used == _NOWHERE, 1, used).astype(np.int64)
        self.first_step = np.where(first_len == _NOWHERE, 1, first_len).astype(np.int64)
        self.max_step = max(t, code.max_length)  # the longest step a walk can take

    def window(self, pos: np.ndarray, lo: int = 0) -> np.ndarray:
        """The ``T`` bits from each bit position ``lo + pos`` (``lo`` a multiple of 8)."""
        word = self.word32[lo >> 3 :].take(pos >> 3)
        return (word >> (32 - self.t - (pos & 7))) & self.mask

    def _lookup(
        self, table: np.ndarray, pos: np.ndarray, lo: int
    ) -> tuple[np.ndarray, np.ndarray]:
        win = self.window(pos, lo)
        step = table.take(win)
        if self.has_long:
            deep = np.flatnonzero(step == 0)
            if deep.size:
                length = self._long_codes(pos[deep] + lo)[0]
                step[deep] = np.where(length == _NOWHERE, 1, length)
        return win, pos + step

    def next(self, pos: np.ndarray, lo: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(window, pos + length)`` of the words starting at bit positions ``lo + pos``.

        ``pos`` is int64 of shape (k,), relative to ``lo`` (a multiple of 8); so is the result.
        One bit on where the bits start no word; may exceed the stream where a word runs past
        its end (the caller checks).
        """
        return self._lookup(self.first_step, pos, lo)

    def next_words(self, pos: np.ndarray, lo: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`next` but past all ``count[window]`` words of the window (at least one)."""
        return self._lookup(self.step, pos, lo)

    def symbols(
        self, pos: np.ndarray, win: np.ndarray, single: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Symbols of the steps taken at ``pos`` (absolute) from windows ``win``, in order.

        A step with ``single[i]`` set read one word (:meth:`next`), the others read
        ``count[win]`` words (:meth:`next_words`; one word if it is longer than ``T``).
        Returns the flat symbols, the number of words per step, and the index of the first
        step on bits that start no word (-1 if none; the symbols stop before it).
        """
        count = self.count.take(win)
        rows = self.syms.take(win, axis=0)
        odd = np.flatnonzero(count == 0)  # a word longer than T, or no word at all
        count = np.where(single, 1, count)
        bad = odd[self.first_len.take(win[odd]) == _NOWHERE]
        if self.has_long:
            deep = odd[self.first_len.take(win[odd]) == 0]
            length, rows[deep, 0] = self._long_codes(pos[deep])
            count[deep] = 1
            bad = np.concatenate([bad, deep[length == _NOWHERE]])
        first_bad = int(bad.min()) if bad.size else -1
        if first_bad >= 0:
            count[first_bad:] = 0
        keep = self.upto.take(count, axis=0)
        return np.compress(keep.ravel(), rows.ravel()).astype(np.int64), count, first_bad

    def _long_codes(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Level 2 at ``pos``: windows up to 64 bits, assembled from 9 bytes."""
        code, byte, shift = self.code, pos >> 3, (pos & 7).astype(np.uint64)
        word = np.zeros(pos.size, dtype=np.uint64)
        for j in range(8):
            word = (word << np.uint64(8)) | self.buf[byte + j].astype(np.uint64)
        # the 9th byte supplies the last `shift` bits (a shift by 8 - 0 = 8 leaves nothing)
        word = (word << shift) | (self.buf[byte + 8].astype(np.uint64) >> (np.uint64(8) - shift))
        length = np.full(pos.size, _NOWHERE, dtype=np.int64)
        symbol = np.zeros(pos.size, dtype=np.int64)
        for n in range(self.t + 1, code.max_length + 1):
            if code.count[n] == 0:
                continue
            v = word >> np.uint64(64 - n)
            j = v - code.first_code[n]  # wraps around when v < F_n; the test below rejects it
            hit = (length == _NOWHERE) & (v >= code.first_code[n]) & (j < np.uint64(code.count[n]))
            length[hit] = n
            symbol[hit] = code.sorted_symbols[code.offset[n] + j[hit].astype(np.int64)]
        return length, symbol


def decode(
    data: bytes, nbits: int, n: int, code: HuffmanCode, table_bits: int = DEFAULT_TABLE_BITS
) -> np.ndarray:
    """Decode ``n`` symbols from ``nbits`` bits with lookup tables (the fast decoder).

    Same contract and errors as :func:`decode_bitwise`, to which it is tested equal.

    Parameters
    ----------
    data, nbits, n, code
        As for :func:`decode_bitwise`.
    table_bits : int
        Width ``T`` of the lookup tables (``1..16``); longer words take the second level.

    Notes
    -----
    The word starts are the orbit ``0, next(0), next(next(0)), ...`` of
    ``next(p) = p + length(word at p)``. The stream is cut into segments of ``B`` bits and
    every segment is decoded at once (:func:`_run_lanes`), several words per step, so each
    Python-level step advances thousands of lanes; the segments are then stitched together
    exactly (:func:`_stitch`). Blocks of ``_BLOCK_BITS`` bits bound the memory. A step may
    read words made of the zero padding after the last bit; :func:`_cut_at_end` drops them.
    """
    _check_stream(data, nbits, n, code)
    if not 1 <= table_bits <= 16:
        raise ValueError("table_bits must lie in 1..16")
    if n == 0:
        if nbits:
            raise FormatError(f"{nbits} trailing bits after the last of 0 symbols")
        return np.empty(0, dtype=np.int64)
    reader = _WordReader(data, code, table_bits)
    pieces: list[np.ndarray] = []
    decoded = entry = 0
    for lo in range(0, nbits, _BLOCK_BITS):
        hi = min(lo + _BLOCK_BITS, nbits)
        if entry >= hi:  # the previous word ran past this whole block
            continue
        symbols, entry, last, last_count = _stitch(reader, lo, hi, entry)
        good = decoded + symbols.size - last_count  # symbols before the last step
        if entry < 0:
            _raise_bad_word(last, nbits, good, n)
        if entry > nbits:
            keep = _cut_at_end(reader, last, last_count, nbits, good, n)
            symbols, entry = symbols[: symbols.size - last_count + keep], nbits
        pieces.append(symbols)
        decoded += symbols.size
        if decoded > n:
            break
    if decoded < n:
        raise FormatError(f"bit stream ends early, after {decoded} of {n} symbols")
    if decoded > n:
        raise FormatError(f"trailing bits: the stream holds more than {n} symbols")
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def _raise_bad_word(pos: int, nbits: int, good: int, n: int) -> None:
    """Say why the walk stopped at bit ``pos``, after ``good`` well-formed words."""
    if good >= n:
        raise FormatError(f"trailing bits after the last of {n} symbols")
    raise FormatError(
        f"no complete code word at bit {pos} of {nbits}, after {good} of {n} symbols: "
        "the bit stream is corrupt or ends early"
    )


def _cut_at_end(reader: _WordReader, pos: int, count: int, nbits: int, good: int, n: int) -> int:
    """How many of the ``count`` words read from bit ``pos`` end by ``nbits``.

    The last step ran past ``nbits``: re-read its words one at a time; the walk must land on
    ``nbits`` exactly, else the last word is cut off and :class:`FormatError` is raised.
    """
    for i in range(count):
        if pos == nbits:
            return i
        after = int(reader.next(np.array([pos]))[1][0])
        if after > nbits:
            _raise_bad_word(pos, nbits, good + i, n)
        pos = after
    return count


def _run_lanes(
    reader: _WordReader, lo: int, m: int, lane_bits: int, entry: int, marks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Decode every segment ``[jB, (j+1)B)`` of the block from its first bit, all at once.

    Lane 0 starts at ``entry`` instead, and all lanes at positions congruent to ``entry``
    modulo the gcd of the code lengths (no other position can start a word; with words of
    a single length this puts every lane on the true walk). Each step reads all the words
    of a table window (:meth:`_WordReader.next_words`); the lane sets ``marks[p]`` at every
    position ``p`` it steps from, while ``p`` lies in its own segment. Returns
    ``(exit, first)``: each lane's first step position past its segment, and the positions
    of its first :data:`_FIRST_STEPS` steps (``m`` for steps not taken).

    A step goes at most ``max_step`` bits, so while every lane is ``s * max_step`` bits or
    more from its segment's end, ``s`` steps go by without checking which lanes are done.
    """
    lanes = -(-m // lane_bits)
    lane = np.arange(lanes, dtype=np.int64)
    pos = lane * lane_bits
    end = np.minimum(pos + lane_bits, m)
    pos += (entry - lo - pos) % reader.period  # e.g. all words 3 bits long: stay in step
    pos[0] = entry - lo
    exits = pos.copy()
    first = np.full((lanes, _FIRST_STEPS), m, dtype=np.int64)
    go = np.flatnonzero(pos < end)
    lane, pos, end = lane[go], pos[go], end[go]
    step = 0
    while lane.size:
        for _ in range(max(1, int((end - pos).min()) // reader.max_step)):
            marks[pos] = True
            if step < _FIRST_STEPS:
                first[lane, step] = pos
            pos = reader.next_words(pos, lo)[1]
            step += 1
        exits[lane] = pos
        go = np.flatnonzero(pos < end)
        lane, pos, end = lane[go], pos[go], end[go]
    return exits, first


def _walk(
    reader: _WordReader, lo: int, start: np.ndarray, end: np.ndarray, marks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Walk one word at a time from every ``start[j]`` while ``p < end[j]`` and not ``marks[p]``.

    Sets ``marks[p]`` at every position a walk steps from. Returns ``(stop, path)``: where
    each walk stopped, on a lane's mark (``< end``) or at its first position at or past
    ``end``; and all the positions the walks stepped from (in no particular order).
    """
    stop = start.copy()
    guard = marks.size - 1  # never marked: positions past the block read here
    j = np.flatnonzero((start < end) & ~marks[np.minimum(start, guard)])
    pos, end = start[j], end[j]
    path = []
    while j.size:
        marks[pos] = True
        path.append(pos)
        pos = reader.next(pos, lo)[1]
        stop[j] = pos
        go = np.flatnonzero((pos < end) & ~marks[np.minimum(pos, guard)])
        j, pos, end = j[go], pos[go], end[go]
    return stop, np.concatenate(path) if path else start[:0]


def _stitch(
    reader: _WordReader, lo: int, hi: int, entry: int
) -> tuple[np.ndarray, int, int, int]:
    """Symbols of the orbit from ``entry`` inside the block ``[lo, hi)``.

    Returns ``(symbols, exit, last, last_count)``: ``exit`` is the next word start after the
    block (``>= hi``; -1 if the walk met bits that start no word, at bit ``last``), and the
    last step, taken at bit ``last``, read the last ``last_count`` symbols.

    Notes
    -----
    A *lane* decodes each segment ``[lo + jB, lo + (j+1)B)`` from its first bit (lane 0 from
    ``entry``), all lanes together, marking the positions it steps from. The true walk enters
    segment ``j`` at ``e_j``, the exit of segment ``j-1``; a *walker* follows it one word at
    a time from ``e_j`` until it steps on a position lane ``j`` marked. From there on both
    walks coincide (a walk is determined by its position), and Huffman codes resynchronise,
    so this takes a few words; if they never meet, the walker covers the segment alone.
    The walker must go one word at a time: a lane's steps of several words would let the two
    walks pass each other. Walkers start from the exits their left neighbours had in the
    previous round, so rounds repeat until all entries agree; the first wrong entry is
    fixed by each round, and one round is usually enough. Codes that resynchronise slowly
    (nearly all words of one length) need many rounds: then the segments are made 8 times
    longer and the block is done again; a single segment is the plain sequential walk.
    """
    m = hi - lo
    lane_bits = _LANE_BITS
    while True:
        whole = lane_bits >= m
        found = _stitch_lanes(reader, lo, hi, entry, lane_bits, max_rounds=None if whole else 3)
        if found is not None:
            return found
        lane_bits *= 8


def _stitch_lanes(
    reader: _WordReader, lo: int, hi: int, entry: int, lane_bits: int, max_rounds: int | None
) -> tuple[np.ndarray, int, int, int] | None:
    """:func:`_stitch` with segments of ``lane_bits``; None if it needs over ``max_rounds``."""
    m = hi - lo
    lanes = -(-m // lane_bits)
    marks = np.zeros(lanes * lane_bits + 1, dtype=bool)  # a lane or walker stepped from here
    walked = np.empty(0, dtype=np.int64)  # the positions the walkers stepped from
    seg_start = np.arange(0, m, lane_bits, dtype=np.int64)
    seg_end = np.minimum(seg_start + lane_bits, m)
    lane_exit, lane_first = _run_lanes(reader, lo, m, lane_bits, entry, marks)
    entries = np.concatenate([[entry - lo], lane_exit[:-1]])
    exits = np.empty_like(entries)
    meet_at = np.empty_like(entries)  # where walker j met lane j (its segment end if never)
    todo = np.ones(lanes, dtype=bool)
    rounds = 0
    while todo.any():
        if max_rounds is not None and rounds == max_rounds:
            return None
        if rounds:  # forget the walks of the segments being redone
            redo = todo[walked // lane_bits]
            marks[walked[redo]] = False
            walked = walked[~redo]
        rounds += 1
        e, start, end = entries[todo], seg_start[todo], seg_end[todo]
        # a walker starts at e_j; an entry already past its segment passes through
        stop, path = _walk(reader, lo, np.where((e >= start) & (e < end), e, end), end, marks)
        walked = np.concatenate([walked, path])
        met = stop < end
        meet_at[todo] = np.where(met, stop, end)
        exits[todo] = np.where(met, lane_exit[todo], np.where(e < end, stop, e))
        todo = np.concatenate([[False], entries[1:] != exits[:-1]])
        entries[1:] = exits[:-1]
    # after the meeting point, lane j's own path is the true one: unmark its steps before
    before = lane_first < meet_at[:, None]
    marks[lane_first[before]] = False
    more = np.flatnonzero(before[:, -1])  # lanes with more steps before the meeting point
    for j in more.tolist():
        marks[lane_first[j, -1] : meet_at[j]] = False
    if more.size:
        marks[walked] = True  # the walkers' marks in those stretches
    steps = np.flatnonzero(marks)
    single = np.zeros(steps.size, dtype=bool)  # walkers read one word per step
    single[np.searchsorted(steps, np.sort(walked, kind="stable"))] = True  # sorted runs
    symbols, count, bad = reader.symbols(steps + lo, reader.window(steps, lo), single)
    if bad >= 0:
        return symbols, -1, int(steps[bad]) + lo, 0
    return symbols, int(exits[-1]) + lo, int(steps[-1]) + lo, int(count[-1])
