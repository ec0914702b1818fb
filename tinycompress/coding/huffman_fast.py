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

import numpy as np

from ..errors import FormatError
from .huffman import HuffmanCode, _check_stream

DEFAULT_TABLE_BITS = 16
"""Width ``T`` of the fast decoder's first-level lookup table (``2^T`` entries)."""


_BLOCK_BITS = 1 << 23
"""The fast decoder works through the stream in blocks of this many bit positions."""


_LANE_BITS = 512
"""Bits per lane in the fast decoder's parallel walk (a power of two)."""


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
