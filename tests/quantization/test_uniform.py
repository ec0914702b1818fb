"""Tests of the uniform baselines: affine int8 (and other widths) with a zero point, float16."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.errors import ShapeError
from tinycompress.quantization.uniform import float16_roundtrip, linear_quantize


@pytest.mark.task_linear_quantize
@pytest.mark.parametrize("shift", [0.0, 0.3, -0.7, 5.0])
def test_int8_round_trip_error_at_most_half_a_step(shift: float) -> None:
    W = np.random.default_rng(7).normal(shift, 0.2, size=(64, 32)).astype(np.float32)
    lq = linear_quantize(W, bits=8)
    assert lq.q.dtype == np.int8
    err = np.abs(lq.decode().astype(np.float64) - W)
    assert err.max() <= lq.scale / 2 * (1 + 1e-6)
    # Zero is exactly representable, and the range reaches an end of the integer grid.
    with_zero = linear_quantize(np.append(W, 0.0), bits=8)
    assert with_zero.decode()[-1] == 0.0
    assert lq.q.max() == 127 or lq.q.min() == -128


@pytest.mark.task_linear_quantize
def test_linear_quantize_low_bits_and_errors() -> None:
    W = np.linspace(-1, 1, 101)
    for bits in (2, 4, 12):
        lq = linear_quantize(W, bits)
        # decode() returns float32: its own rounding (half an ulp of 1.0) comes on top.
        assert np.abs(lq.decode() - W).max() <= lq.scale / 2 + np.spacing(np.float32(1))
        assert len(np.unique(lq.q)) <= 2**bits
    with pytest.raises(ShapeError):
        linear_quantize(W, bits=1)
    with pytest.raises(ShapeError):
        linear_quantize(W, bits=17)


def test_float16_baseline() -> None:
    W = np.random.default_rng(8).normal(0, 0.1, size=1000).astype(np.float32)
    W = W[np.abs(W) > 1e-4]
    out = float16_roundtrip(W)
    assert out.dtype == np.float32
    assert np.max(np.abs(out - W) / np.abs(W)) <= 2.0**-11
