"""Fast Huffman decoding: parallel lanes that resynchronise, stitched into the exact walk.

Huffman, *A Method for the Construction of Minimum-Redundancy Codes* (Proc. IRE, 1952): the
canonical codes of :mod:`.huffman`, in which Han, Mao & Dally, *Deep Compression* (ICLR 2016,
§4) store weight indices and index gaps. :func:`decode` is the decoder the ``.tcz`` reader
uses; it is tested equal to the readable :func:`.huffman.decode_bitwise`.

It looks up ``T`` bits at a time in a table of ``2^T`` entries (words longer than ``T`` bits
fall back to a canonical search on a wider window; :class:`.huffman_tables.WordReader`), which
gives ``next(p) = p + length(word at p)`` for many positions ``p`` in one NumPy call. The word
starts are the orbit ``0, next(0), next(next(0)), ...``: a sequential chain, which is followed
in thousands of parallel *lanes* started at evenly spaced bit offsets (:func:`_run_lanes`).
Huffman codes resynchronise after a few words, so a lane started at an arbitrary bit soon
joins the true chain; the short stretches before that are re-walked exactly, one word at a
time, from the true entry points (:func:`_stitch`). A second table gives all the (up to 4)
words that lie wholly in a ``T``-bit window, so a lane advances about ``T / L`` words per
lookup.

Like the readable decoder, it raises :class:`FormatError` on a stream that ends early, bits
that match no code word, or trailing bits.
"""

from __future__ import annotations

import numpy as np

from ..errors import FormatError
from .huffman import HuffmanCode, check_stream
from .huffman_tables import WordReader

DEFAULT_TABLE_BITS = 16
"""Width ``T`` of the fast decoder's first-level lookup table (``2^T`` entries)."""


_BLOCK_BITS = 1 << 23
"""The fast decoder works through the stream in blocks of this many bit positions."""


_LANE_BITS = 512
"""Bits per lane in the fast decoder's parallel walk (a power of two)."""


_FIRST_STEPS = 8
"""Lane steps remembered from each segment's start (those before the walker met it)."""


def table_bits_for(nbits: int) -> int:
    """A table width ``T`` suited to a stream of ``nbits`` bits: ``bit_length(nbits) - 3``,
    within ``8..16``.

    Building the ``2^T``-entry tables costs about as much as walking the stream once ``2^T``
    nears ``nbits / 8``; on LeNet's streams (3,000 to 90,000 bits) this width decodes a whole
    ``.tcz`` file five times faster than ``T = 16``, which suits streams of millions of bits.
    """
    return min(DEFAULT_TABLE_BITS, max(8, nbits.bit_length() - 3))


def decode(
    data: bytes, nbits: int, n: int, code: HuffmanCode, table_bits: int = DEFAULT_TABLE_BITS
) -> np.ndarray:
    """Decode ``n`` symbols from ``nbits`` bits with lookup tables (the fast decoder).

    Same contract and errors as :func:`.huffman.decode_bitwise`, to which it is tested equal.

    Parameters
    ----------
    data, nbits, n, code
        As for :func:`.huffman.decode_bitwise`.
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
    check_stream(data, nbits, n, code)
    if not 1 <= table_bits <= 16:
        raise ValueError("table_bits must lie in 1..16")
    if n == 0:
        if nbits:
            raise FormatError(f"{nbits} trailing bits after the last of 0 symbols")
        return np.empty(0, dtype=np.int64)
    reader = WordReader(data, code, table_bits)
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


def _cut_at_end(reader: WordReader, pos: int, count: int, nbits: int, good: int, n: int) -> int:
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
    reader: WordReader, lo: int, m: int, lane_bits: int, entry: int, marks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Decode every segment ``[jB, (j+1)B)`` of the block from its first bit, all at once.

    Lane 0 starts at ``entry`` instead, and all lanes at positions congruent to ``entry``
    modulo the gcd of the code lengths (no other position can start a word; with words of
    a single length this puts every lane on the true walk). Each step reads all the words
    of a table window (:meth:`WordReader.next_words`); the lane sets ``marks[p]`` at every
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
    reader: WordReader, lo: int, start: np.ndarray, end: np.ndarray, marks: np.ndarray
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
    reader: WordReader, lo: int, hi: int, entry: int
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
    reader: WordReader, lo: int, hi: int, entry: int, lane_bits: int, max_rounds: int | None
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
