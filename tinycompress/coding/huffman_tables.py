"""Lookup tables that read canonical Huffman code words at many bit positions at once.

Huffman, *A Method for the Construction of Minimum-Redundancy Codes* (Proc. IRE, 1952), in the
canonical form of :mod:`.huffman`. A table of ``2^T`` entries, indexed by the next ``T`` bits,
holds the length and symbol of the word they start; words longer than ``T`` bits are found by
the canonical search (words of one length ``l`` are the consecutive integers ``F_l ..
F_l + N_l - 1``). A second table holds all the (up to 4) words that lie wholly in a ``T``-bit
window. A lookup is one NumPy gather for thousands of positions, which is what the fast
decoder of :mod:`.huffman_fast` (on the streams of Han, Mao & Dally, *Deep Compression*,
ICLR 2016, §4) is built on.

Holds :class:`WordReader`.
"""

from __future__ import annotations

import numpy as np

from .huffman import HuffmanCode

_NOWHERE = 1 << 30
"""Length stored for bits that start no code word.

:meth:`WordReader.next` steps over such bits by one bit instead (every step then advances, so
a table width bounds how far ``s`` steps can go), and :meth:`WordReader.symbols` finds them
afterwards: only a step on the true walk of the fast decoder is an error.
"""


_MAX_WORDS = 4
"""Most code words read in one lookup of the second table."""


class WordReader:
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
