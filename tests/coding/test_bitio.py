"""Tests for tinycompress.coding.bitio: MSB-first packing of fixed and variable-length fields."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycompress.coding import bitio
from tinycompress.errors import FormatError


def test_pack_codes_by_hand() -> None:
    data, nbits = bitio.pack_codes(np.array([0b1, 0b01, 0b111]), np.array([1, 2, 3]))
    assert nbits == 6 and data == bytes([0b10111100])


def test_pack_codes_64_bit_words() -> None:
    word = np.uint64(2**64 - 1)
    data, nbits = bitio.pack_codes(np.array([word, 0], dtype=np.uint64), np.array([64, 1]))
    assert nbits == 65 and data == b"\xff" * 8 + b"\x00"


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 40), st.lists(st.integers(0, 2**40), max_size=60))
def test_fixed_roundtrip(width: int, values: list[int]) -> None:
    v = np.array(values, dtype=np.uint64) & np.uint64((1 << width) - 1)
    data, nbits = bitio.pack_fixed(v, width)
    assert nbits == width * v.size and len(data) == -(-nbits // 8)
    assert np.array_equal(bitio.unpack_fixed(data, v.size, width), v)
    # the same bits as variable-length packing with all lengths equal
    assert bitio.pack_codes(v, np.full(v.size, width))[0] == data


def test_bytes_for_pads_to_whole_bytes() -> None:
    assert [bitio.bytes_for(n) for n in (0, 1, 7, 8, 9, 64, 65)] == [0, 1, 1, 1, 2, 8, 9]


def test_fixed_errors() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        bitio.pack_fixed(np.array([4]), 2)
    with pytest.raises(FormatError, match="ends early"):
        bitio.unpack_fixed(b"\x00", 3, 3)
