"""Tests for tinycompress.coding.contexts: the binarisation of a sparse tensor, its context
numbering, scan orders, and the readable coder against the fast one."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.coding import arith, contexts, contexts_fast
from tinycompress.coding.contexts import ContextLayout
from tinycompress.errors import FormatError


def _entries(seed: int, size: int, density: float, c: int
             ) -> tuple[np.ndarray, np.ndarray | None, ContextLayout]:
    rng = np.random.default_rng(seed)
    kept = np.flatnonzero(rng.random(size) < density)
    indices = rng.integers(0, c, kept.size) if c else None
    return kept, indices, ContextLayout(size, max(c - 1, 0).bit_length())


@pytest.mark.task_exp_golomb_gap
def test_gap_decisions_by_hand() -> None:
    lay = ContextLayout(1000, 0)  # E = 9
    # v = 6 = 0b110: e = 2, prefix 0 0 1, suffix bits 1 0 (tree nodes 1 then 3)
    assert contexts.gap_decisions(6, 3, lay) == [
        (lay.prefix(3, 0), 0), (lay.prefix(3, 1), 0), (lay.prefix(3, 2), 1),
        (lay.tree(2, 1), 1), (lay.tree(2, 3), 0)]
    assert contexts.gap_decisions(1, 0, lay) == [(lay.prefix(0, 0), 1)]  # e = 0: just the stop
    v = 1000  # e = 9 = E: no stop bit; the suffix's third bit on is per position
    got = contexts.gap_decisions(v, 0, lay)
    assert [b for _, b in got[:9]] == [0] * 9 and len(got) == 18
    assert got[9 + 2] == (lay.rest(9, 2), (v >> 6) & 1)


def test_context_numbers_are_distinct_and_fill_the_layout() -> None:
    lay = ContextLayout(5000, 4)
    numbers = [lay.prefix(c, j) for c in range(contexts.MAX_CLASS + 1) for j in range(lay.width)]
    numbers += [lay.tree(e, n) for e in range(lay.width) for n in range(4)]
    numbers += [lay.rest(e, d) for e in range(lay.width) for d in range(lay.width)]
    numbers += [lay.value(c, n) for c in (0, 1, 2) for n in range(16)]
    numbers += [lay.flag(j) for j in range(2 + contexts.CHECK_BITS)]
    assert sorted(numbers) == list(range(lay.total))


def test_scan_orders_are_inverse() -> None:
    a = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    assert np.array_equal(contexts.scanned(a, 0), a.reshape(-1))
    col = contexts.scanned(a, 1)
    assert list(col[:3]) == [0, 12, 1]  # down the first axis first
    for order in (0, 1):
        back = contexts.unscanned(contexts.scanned(a, order), a.shape, order)
        assert np.array_equal(back, a.reshape(-1))
    assert np.array_equal(contexts.scanned(np.arange(5), 1), np.arange(5))  # 1-D: one order


@pytest.mark.parametrize("seed, size, density, c, order, neighbours", [
    pytest.param(*case, marks=pytest.mark.task_exp_golomb_gap) if case[2] else case  # gaps
    for case in [(0, 3000, 0.05, 16, 1, 1), (1, 500, 0.7, 33, 0, 1), (2, 1, 1.0, 1, 0, 0),
                 (3, 2000, 0.0, 8, 1, 0), (4, 4096, 0.02, 0, 0, 0), (5, 257, 0.3, 2, 1, 1)]])
def test_fast_binarisation_is_the_readable_one(seed: int, size: int, density: float, c: int,
                                               order: int, neighbours: int) -> None:
    kept, indices, lay = _entries(seed, size, density, c)
    gaps = np.diff(kept, prepend=-1) - 1
    slow = contexts.binarise(gaps, indices, lay, c // 2, order, neighbours)
    fast = contexts_fast.binarise(gaps, indices, lay, c // 2, order, neighbours)
    assert all(np.array_equal(a, b) for a, b in zip(slow, fast, strict=True))
    assert slow[0].max(initial=0) < lay.total
    assert list(slow[1][:2]) == [order, neighbours]


@pytest.mark.task_arith_binary_symbol
@pytest.mark.parametrize("seed, size, density, c", [
    (0, 3000, 0.05, 16), (1, 500, 0.7, 33), (2, 1, 1.0, 1), (3, 2000, 0.0, 8),
    (4, 4096, 0.02, 0), (6, 70_000, 0.01, 4)])
def test_readable_and_fast_coders_write_and_read_the_same(seed: int, size: int, density: float,
                                                          c: int) -> None:
    kept, indices, lay = _entries(seed, size, density, c)
    neighbours = int(c > 1)
    ctx, bits = contexts_fast.binarise(np.diff(kept, prepend=-1) - 1, indices, lay, c // 2, 1,
                                       neighbours)
    data = contexts.encode_readable(ctx, bits, lay.total)
    assert contexts_fast.encode_decisions(ctx, bits, lay.total) == data
    for decode in (contexts.decode_readable, contexts_fast.decode_entries):
        positions, got, order = decode(data, kept.size, lay, c, c // 2)
        assert np.array_equal(positions, kept) and order == 1
        assert np.array_equal(got, indices if c else np.zeros(kept.size))
    ideal = arith.ideal_bits(zip(ctx.tolist(), bits.tolist(), strict=True), lay.total)
    assert 8 * len(data) <= 1.01 * ideal + 8 * 4  # within 1% of its model, and the flush
    assert contexts.peek_flags(data) == (1, neighbours)


@pytest.mark.task_arith_binary_symbol
def test_both_decoders_refuse_the_same_forgeries() -> None:
    kept, indices, lay = _entries(7, 800, 0.1, 4)
    ctx, bits = contexts_fast.binarise(np.diff(kept, prepend=-1) - 1, indices, lay, 2, 0, 1)
    data = contexts_fast.encode_decisions(ctx, bits, lay.total)
    n = kept.size
    cases = [(data, n - 1, 4, "closing check|does not end"),
             (data, n + 1, 4, "closing check|past the tensor|does not end"),
             (data, n, 3, "codebook index|closing check|does not end"),
             (data + b"\x07", n, 4, "bytes after the end|does not end")]
    for forged, count, book, match in cases:
        for decode in (contexts.decode_readable, contexts_fast.decode_entries):
            with pytest.raises(FormatError, match=match):
                decode(forged, count, lay, book, 2)
    one = ContextLayout(10, 0)
    flags = contexts_fast.encode_decisions(np.array([one.flag(0), one.flag(1)]),
                                           np.array([0, 1]), one.total)
    for decode in (contexts.decode_readable, contexts_fast.decode_entries):
        with pytest.raises(FormatError, match="neighbour contexts for a codebook of 1 values"):
            decode(flags, 0, one, 1)
