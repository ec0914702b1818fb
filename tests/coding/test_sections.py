"""Tests for tinycompress.coding.sections: one tensor's section, the smallest form and back."""

from __future__ import annotations

import numpy as np
import pytest

from tinycompress.coding import sections
from tinycompress.errors import FormatError


def test_encode_tensor_picks_the_smallest() -> None:
    rng = np.random.default_rng(0)
    dense = rng.normal(size=1000).astype(np.float32)
    assert sections.encode_tensor(dense)[0]["k"] == "r"
    shared = rng.choice(np.float32([-1, 0.5, 2]), size=1000)
    desc, data = sections.encode_tensor(shared)
    assert desc["k"] == "d" and desc["c"] == 3 and len(data) < 1000 // 4
    sparse = np.where(rng.random(5000) < 0.03, shared[:1].repeat(5000), 0).astype(np.float32)
    desc, _ = sections.encode_tensor(sparse)
    assert desc["k"] == "s" and desc["c"] == 1
    for arr in (dense, shared, sparse, np.zeros(7, np.float32), np.zeros(0, np.float32)):
        desc, data = sections.encode_tensor(arr)
        back = sections.decode_tensor(data, desc, arr.size, arr.dtype, "t")
        assert np.array_equal(back.view(np.uint32), arr.view(np.uint32))


def test_streams_fixed_or_huffman() -> None:
    rng = np.random.default_rng(0)
    uniform = rng.integers(0, 8, size=1000)
    desc, data = sections.encode_stream(uniform, 8)
    assert desc == {"f": 3} and len(data) == 375
    skewed = np.minimum(rng.geometric(0.5, size=1000) - 1, 31)
    desc, data = sections.encode_stream(skewed, 32)
    assert "h" in desc and len(data) < 1000 * 5 // 8
    back = sections.decode_stream(sections.Cursor(data), desc, 1000, 32)
    assert np.array_equal(back, skewed)


def test_decode_tensor_refuses_what_the_encoder_never_writes() -> None:
    values = np.float32([0.5, -1.0, 2.0, 0.5, 2.0, 2.0, -1.0, 0.5] * 4)  # -1.0: sign bit set
    desc, data = sections.encode_tensor(values)
    assert desc["k"] == "d" and desc["c"] == 3  # codebook 0.5, 2.0, -1.0 by bit pattern
    book = np.frombuffer(data[:12], np.float32)
    assert list(book) == [0.5, 2.0, -1.0]
    for what, forged in (("not sorted", book[[1, 0, 2]]), ("not sorted", book[[0, 0, 2]]),
                         ("t: the codebook holds 1 NaN", np.float32([0.5, 2.0, np.nan])),
                         ("t: the codebook holds 1 NaN", np.float32([0.5, 2.0, -np.inf]))):
        with pytest.raises(FormatError, match=what):
            sections.decode_tensor(forged.tobytes() + data[12:], desc, values.size,
                                   np.dtype(np.float32), "t")
    raw = np.float32([1.0, np.inf]).tobytes()
    with pytest.raises(FormatError, match="t: the tensor holds 1 NaN or infinite values"):
        sections.decode_tensor(raw, {"k": "r"}, 2, np.dtype(np.float32), "t")


def test_storable_converts_byte_order_and_refuses_the_rest() -> None:
    w = np.float32([[1.5, -0.0], [2.0, 3.0]])
    swapped = sections.storable("fc/W", w.astype(">f4"))
    assert swapped.dtype == np.dtype("<f4") and np.array_equal(swapped, w)
    assert sections.storable("fc/W", w) is w
    for bad in (w.astype(np.float64), w.astype(np.float16), w.astype(np.int32)):
        with pytest.raises(FormatError, match="float32"):
            sections.storable("fc/W", bad)
    with pytest.raises(FormatError, match="'fc/W' holds 2 NaN or infinite values"):
        sections.storable("fc/W", np.float32([np.nan, np.inf, 1.0]))


def test_version_2_adds_the_arithmetic_coded_form_when_it_is_smaller() -> None:
    rng = np.random.default_rng(1)
    book = np.float32([-0.5, -0.1, 0.2, 0.7])
    sparse = np.where(rng.random((100, 60)) < 0.05, rng.choice(book, (100, 60)), 0)
    sparse = sparse.astype(np.float32)
    v1, v2 = sections.encode_tensor(sparse), sections.encode_tensor(sparse, arith=True)
    assert v1[0]["k"] == "s" and v2[0]["k"] == "a" and len(v2[1]) < len(v1[1])
    back = sections.decode_tensor(v2[1], v2[0], sparse.size, sparse.dtype, "t", sparse.shape)
    assert np.array_equal(back.view(np.uint32), sparse.reshape(-1).view(np.uint32))
    dense = rng.normal(size=500).astype(np.float32)  # nothing to gain: still raw
    assert sections.encode_tensor(dense, arith=True)[0]["k"] == "r"
    with pytest.raises(FormatError, match="^t: "):
        sections.decode_tensor(v2[1][:-1] + b"\x00", v2[0], sparse.size, sparse.dtype, "t",
                               sparse.shape)
