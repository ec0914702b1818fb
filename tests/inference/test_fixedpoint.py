"""The integer arithmetic: per-channel weights, the Q31 multiplier, the rounding shift, and the
bound that makes float-carried integer sums exact."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from tinycompress.errors import UsageError
from tinycompress.inference.fixedpoint import (
    accumulator_bound,
    exact_carrier,
    quantize_multiplier,
    quantize_per_channel,
    requantize,
    weight_levels,
)


def test_per_channel_weights_use_the_whole_int8_range_of_each_row() -> None:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 40)) * np.array([1e-3, 0.1, 1, 10, 0, 3])[:, None]
    q, scale = quantize_per_channel(A)
    assert q.dtype == np.int8 and scale.shape == (6,)
    assert np.abs(q).max(axis=1).tolist() == [127, 127, 127, 127, 0, 127]
    assert scale[4] == 1.0 and not q[4].any()  # an all-zero (pruned) row stays zero
    assert np.all(np.abs(A - scale[:, None] * q) <= scale[:, None] / 2 * (1 + 1e-12))
    with pytest.raises(UsageError, match="matrix"):
        quantize_per_channel(np.ones(3))


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_narrower_weights_are_symmetric_on_fewer_levels(bits: int) -> None:
    A = np.random.default_rng(1).standard_normal((5, 30))
    qmax = weight_levels(bits)
    assert qmax == {2: 1, 4: 7, 8: 127}[bits]
    q, scale = quantize_per_channel(A, qmax)
    assert np.abs(q).max(axis=1).tolist() == [qmax] * 5
    assert np.all(np.abs(A - scale[:, None] * q) <= scale[:, None] / 2 * (1 + 1e-12))
    for bad in (1, 9, 4.0):
        with pytest.raises(UsageError, match="2 to 8 bits"):
            weight_levels(bad)


@pytest.mark.parametrize("M", [0.9999999999, 0.5, 0.3292, 2.947, 3e-4, 1e-7, 1e-11, 1e-14])
def test_multiplier_is_m0_in_half_one_times_a_power_of_two(M: float) -> None:
    (m0,), (n,) = quantize_multiplier(np.array([M]))
    approx = Fraction(int(m0), 2 ** (31 + int(n)))
    assert 1 <= 31 + n <= 62
    if M >= 2.0**-31:
        assert 2**30 <= m0 < 2**31
        assert abs(approx / Fraction(M) - 1) <= Fraction(1, 2**31)
    else:  # below 2^-31: the largest shift, and M0 rounded at that scale
        assert 31 + n == 62 and abs(approx - Fraction(M)) <= Fraction(1, 2**63)


def test_multiplier_refuses_what_requantisation_cannot_do() -> None:
    for bad in (0.0, -1.0, 2.0**25):
        with pytest.raises(UsageError, match="positive"):
            quantize_multiplier(np.array([bad]))


def _round_half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


@pytest.mark.task_requantize
def test_requantize_rounds_the_exact_product_half_up_then_clamps() -> None:
    rng = np.random.default_rng(1)
    acc = np.concatenate([rng.integers(-400_000, 400_000, 2000), [0, 1, -1, 2**31 - 1, -2**31]])
    m0, n = quantize_multiplier(np.array([3.7e-4]))
    got = requantize(acc, m0, n, zero_point=100, lo=0, hi=255)
    s = 31 + int(n[0])
    want = [min(max(100 + _round_half_up(Fraction(int(a) * int(m0[0]), 2**s)), 0), 255)
            for a in acc]
    assert got.dtype == np.uint8 and got.tolist() == want
    assert {0, 255} <= set(want) and len(set(want)) > 100  # both clamps and the range in between


@pytest.mark.task_requantize
def test_requantize_ties_go_up_and_the_relu_clamp_sits_at_the_zero_point() -> None:
    m0, n = np.array([2**30]), np.array([1])  # M = 2^30 / 2^32 = 1/4
    acc = np.array([2, 6, -2, -6, 1, 3, -400])  # 0.5, 1.5, -0.5, -1.5, 0.25, 0.75, -100
    assert requantize(acc, m0, n, 10).tolist() == [11, 12, 10, 9, 10, 11, 0]
    assert requantize(acc, m0, n, 10, lo=10).tolist() == [11, 12, 10, 10, 10, 11, 10]
    per_channel = requantize(np.array([[8, 8], [8, 8]]), np.array([[2**30], [2**30]]),
                             np.array([[1], [0]]), 0)
    assert per_channel.tolist() == [[2, 2], [4, 4]]  # one multiplier and shift per row


def _extreme_sums(q_weights: np.ndarray, zero_point: int) -> list[int]:
    """The sums of the two inputs at the ends of the range: each weight's favoured end, and
    the opposite one."""
    x_up = np.where(q_weights > 0, 255, 0).astype(np.int64) - zero_point
    x_down = np.where(q_weights > 0, 0, 255).astype(np.int64) - zero_point
    return [int((q_weights.astype(np.int64) * x).sum(axis=1).max()) for x in (x_up, -x_down)]


@pytest.mark.parametrize("zero_point", [0, 33, 200, 255])
def test_the_bound_is_the_largest_sum_an_input_can_give(zero_point: int) -> None:
    rng = np.random.default_rng(zero_point)
    q_w = rng.integers(-127, 128, size=(1, 12)).astype(np.int8)
    bound = int(accumulator_bound(q_w, zero_point)[0])
    assert bound == max(abs(s) for s in _extreme_sums(q_w, zero_point))
    inputs = rng.integers(0, 256, size=(2000, 12)) - zero_point  # no input exceeds it
    assert np.abs(inputs @ q_w[0].astype(np.int64)).max() <= bound


@pytest.mark.parametrize("zero_point", [0, 33, 200])
def test_float32_carries_sums_up_to_the_bound_exactly(zero_point: int) -> None:
    reach = max(zero_point, 255 - zero_point)
    d = 2**24 // (127 * reach)  # the most inputs whose worst sum stays under 2^24
    q_w = np.full((1, d), 127 if 255 - zero_point >= zero_point else -127, dtype=np.int8)
    bound = int(accumulator_bound(q_w, zero_point)[0])
    assert bound == 127 * reach * d <= 2**24 and exact_carrier(bound) is np.float32
    x = np.full(d, 255 - zero_point if q_w[0, 0] > 0 else -zero_point)
    carried = q_w.astype(np.float32) @ x.astype(np.float32)[:, None]
    assert int(carried[0, 0]) == bound == int((q_w[0].astype(np.int64) * x).sum())


def test_float32_is_not_exact_beyond_the_bound_so_the_carrier_widens() -> None:
    d = 2**24 // (127 * 255) + 1  # 519 products of 32,385: 16,807,815 > 2^24, and odd
    terms = np.full(d, 127 * 255, dtype=np.int64)
    assert terms.sum() > 2**24 and terms.sum() % 2 == 1
    carried = np.ones((1, d), np.float32) @ terms.astype(np.float32)[:, None]
    assert int(carried[0, 0]) != terms.sum()  # an odd integer above 2^24 has no float32
    assert exact_carrier(int(terms.sum())) is np.float64
    assert exact_carrier(2**53) is np.float64 and exact_carrier(2**53 + 1) is np.int64
