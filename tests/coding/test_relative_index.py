"""Tests for tinycompress.coding.relative_index: relative indices with filler zeros (§2)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycompress.coding.relative_index import (
    RelativeIndex,
    decode_relative,
    encode_relative,
    filler_count,
)
from tinycompress.errors import FormatError


def test_paper_figure_2() -> None:
    # Fig. 2: 3-bit gaps (distances 1..8); the entry at index 15 after one at index 4 is 11
    # away, so a filler zero goes in at distance 8 (index 12), then distance 3
    flat = np.zeros(16, dtype=np.int64)
    flat[[1, 4, 15]] = [3, 4, 7]
    rel = encode_relative(flat, 3)
    assert (rel.gaps + 1).tolist() == [2, 3, 8, 3]
    assert rel.values.tolist() == [3, 4, 0, 7]
    assert rel.num_fillers == 1 == filler_count(np.flatnonzero(flat), 3)
    assert np.array_equal(decode_relative(rel), flat)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 10), st.integers(0, 3000), st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_roundtrip_and_filler_count(bits: int, n: int, density: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    flat = np.where(rng.random(n) < density, rng.integers(1, 9, n), 0)
    rel = encode_relative(flat, bits)
    assert rel.gaps.min(initial=0) >= 0 and rel.gaps.max(initial=0) < 2**bits
    kept = np.flatnonzero(flat)
    assert rel.gaps.size == kept.size + filler_count(kept, bits)
    assert np.array_equal(decode_relative(rel), flat)


def test_negative_zero_kept_via_the_bit_view() -> None:
    w = np.array([0.0, -0.0, 1.5, 0.0], dtype=np.float32)
    rel = encode_relative(w.view(np.uint32), 2)
    back = decode_relative(rel).view(np.float32)
    assert np.array_equal(back.view(np.uint32), w.view(np.uint32))


def test_decode_rejects_bad_input() -> None:
    with pytest.raises(FormatError, match="reach position"):
        decode_relative(RelativeIndex(np.array([3, 3]), np.array([1, 1]), 2, 6))
    with pytest.raises(FormatError, match="does not fit"):
        decode_relative(RelativeIndex(np.array([4]), np.array([1]), 2, 6))
    with pytest.raises(FormatError, match="gaps but"):
        decode_relative(RelativeIndex(np.array([0, 1]), np.array([1]), 2, 6))
