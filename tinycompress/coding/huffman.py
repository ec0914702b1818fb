"""Huffman coding: optimal prefix codes, their canonical form, and the readable decoder.

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

The fast, table-driven decoder the ``.tcz`` reader uses is :func:`.huffman_fast.decode`,
tested equal to :func:`decode_bitwise`. Stored input is validated: a length table that is not
a prefix code (:meth:`HuffmanCode.from_lengths`), and, in both decoders, a stream that ends
early, bits that match no code word or trailing bits raise :class:`FormatError`
(:func:`check_stream` holds the size checks the decoders share).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from ..errors import FormatError
from .bitio import MAX_CODE_LENGTH, pack_codes


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


def check_stream(data: bytes, nbits: int, n: int, code: HuffmanCode) -> None:
    """Refuse sizes no stream can have: ``nbits`` past the data, ``n`` symbols in fewer bits.

    The checks both decoders make before reading a bit.

    Raises
    ------
    FormatError
        If a size is negative, the data hold fewer than ``nbits`` bits, symbols are announced
        for a code without words, or ``n > nbits`` (every code word has at least one bit).
    """
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
    check_stream(data, nbits, n, code)
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
