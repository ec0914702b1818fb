"""Tests for tinycompress.coding.arith_section: one tensor arithmetic coded, its choices, its
refusals, and the estimate that makes them."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.coding import arith, arith_section, contexts
from tinycompress.errors import FormatError


def _sparse(seed: int, shape: tuple[int, ...], density: float, levels: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    book = np.linspace(-1, 1, levels + 1, dtype=np.float32)
    book = book[book != 0]
    w = rng.choice(book, size=shape).astype(np.float32)
    return np.where(rng.random(shape) < density, w, np.float32(0))


def _round_trip(w: np.ndarray) -> tuple[dict, bytes]:
    bits = w.reshape(-1).view(np.uint32)
    desc, data = arith_section.encode_arith(bits, w.shape)
    back = arith_section.decode_arith(data, desc, w.shape)
    assert np.array_equal(back, bits)
    return desc, data


@pytest.mark.parametrize("shape, density, levels", [
    ((40, 30), 0.05, 8), ((5, 4, 3, 3), 0.5, 32), ((100,), 0.2, 4), ((30, 20), 0.0, 4),
    ((7, 9), 1.0, 16)])
def test_round_trip_and_the_codebook_sorted_by_value(shape: tuple[int, ...], density: float,
                                                     levels: int) -> None:
    w = _sparse(0, shape, density, levels)
    desc, data = _round_trip(w)
    kept = np.count_nonzero(w)
    assert desc == {"k": "a", "n": kept, "c": len(np.unique(w[w != 0]))}
    book = np.frombuffer(data[: 4 * desc["c"]], np.float32)
    assert np.all(np.diff(book) > 0) and not np.any(book == 0)


def test_raw_values_when_a_codebook_does_not_pay_and_minus_zero_survives() -> None:
    rng = np.random.default_rng(1)
    w = np.where(rng.random((50, 40)) < 0.1, rng.normal(size=(50, 40)), 0).astype(np.float32)
    w[0, 0] = -0.0  # kept: its bit pattern is not zero
    desc, data = _round_trip(w)
    assert desc["c"] == 0 and desc["n"] == np.count_nonzero(w.view(np.uint32))
    assert data[:4] == w[0, 0].tobytes()  # raw values first, in scan order


def test_the_scan_order_follows_the_columns_when_they_are_runs() -> None:
    """Kept weights in whole columns of a (rows, cols) matrix are runs in column-major order:
    the encoder picks it and records it in the stream's first flag."""
    w = np.zeros((300, 40), np.float32)
    w[:, ::3] = 0.5
    w[:, 1::7] = -0.25
    desc, data = _round_trip(w)
    assert contexts.peek_flags(arith_section.stream_of(data, desc))[0] == 1
    assert len(data) < 100  # 12,000 weights
    with pytest.raises(FormatError, match="column-major"):  # a 1-D tensor has one order
        arith_section.decode_arith(data, desc, (w.size,))


def test_estimate_is_the_adaptive_code_length_while_counts_stay_below_the_limit() -> None:
    rng = np.random.default_rng(2)
    ctx = rng.integers(0, 20, 2000)
    bits = (rng.random(2000) < 0.3).astype(np.int64)  # 100 a context: never halved
    got = arith_section.estimated_bits(ctx, bits, 20)
    want = arith.ideal_bits(zip(ctx.tolist(), bits.tolist(), strict=True), 20)
    assert got == pytest.approx(want, rel=2e-3)  # the ideal uses 12-bit probabilities
    assert arith_section.estimated_bits(ctx[:0], bits[:0], 20) == 0.0


def test_refusals_name_what_is_wrong() -> None:
    w = _sparse(3, (20, 10), 0.3, 4)
    desc, data = _round_trip(w)
    c = desc["c"]
    book = data[: 4 * c]
    cases = [(data[:3], "needs 16 bytes before its stream"),
             (book[4:8] + book[:4] + book[8:] + data[4 * c:], "not sorted by value"),
             (np.float32(0).tobytes() + data[4:], r"\+0.0, NaN or infinite"),
             (np.float32(np.nan).tobytes() + data[4:], r"\+0.0, NaN or infinite")]
    for forged, match in cases:
        with pytest.raises(FormatError, match=match):
            arith_section.decode_arith(forged, desc, w.shape)
