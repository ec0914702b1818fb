"""The NumPy safetensors reader and writer: round trips, agreement with the reference package,
and refusal of every malformed field with a one-line error."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from tinycompress.errors import InteropError
from tinycompress.interop import safetensors as st


def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "fc1.weight": rng.standard_normal((5, 3)).astype(np.float32),
        "fc1.bias": rng.standard_normal(5).astype(np.float64),
        "half": rng.standard_normal((2, 2)).astype(np.float16),
        "count": np.array(7, np.int64),
        "empty": np.zeros((0, 4), np.float32),
        "codes": rng.integers(0, 256, 9).astype(np.uint8),
        "flags": np.array([True, False, True]),
        "big_endian": np.arange(4, dtype=">i4"),
    }


def _blob(header: dict, data: bytes = b"", length: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def _one_line_error(blob: bytes, match: str) -> str:
    with pytest.raises(InteropError, match=match) as info:
        st.from_bytes(blob, "f.safetensors")
    message = str(info.value)
    assert "\n" not in message and message.startswith("f.safetensors")
    return message


def test_round_trip_keeps_every_dtype_shape_value_and_order() -> None:
    tensors = _tensors()
    blob = st.to_bytes(tensors, {"format": "pt", "note": ""})
    got, metadata = st.from_bytes(blob)
    assert metadata == {"format": "pt", "note": ""}
    assert list(got) == list(tensors)
    for name, value in tensors.items():
        assert got[name].shape == value.shape and got[name].dtype == value.dtype.newbyteorder("=")
        np.testing.assert_array_equal(got[name], value)
    assert (struct.unpack_from("<Q", blob)[0] + 8) % 8 == 0  # the data starts 8-byte aligned


def test_save_and_load_a_file(tmp_path: Path) -> None:
    path = st.save(tmp_path / "m.safetensors", {"w": np.eye(3, dtype=np.float32)})
    got, metadata = st.load(path)
    np.testing.assert_array_equal(got["w"], np.eye(3))
    assert metadata == {}


def test_the_layout_is_the_documented_one() -> None:
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    blob = st.to_bytes({"w": w})
    n = struct.unpack_from("<Q", blob)[0]
    assert json.loads(blob[8 : 8 + n]) == {"w": {"dtype": "F32", "shape": [2, 3],
                                                 "data_offsets": [0, 24]}}
    assert blob[8 + n :] == w.astype("<f4").tobytes()


def test_agrees_with_the_safetensors_package() -> None:
    reference = pytest.importorskip("safetensors.numpy", reason="the safetensors package is "
                                    "not installed (pip install safetensors)")
    tensors = {k: v for k, v in _tensors().items() if k != "big_endian"}
    ours = st.from_bytes(reference.save(tensors, metadata={"format": "pt"}))
    theirs = reference.load(st.to_bytes(tensors, {"format": "pt"}))
    assert ours[1] == {"format": "pt"}
    for name, value in tensors.items():
        np.testing.assert_array_equal(ours[0][name], value)
        np.testing.assert_array_equal(theirs[name], value)


def test_every_truncation_is_refused() -> None:
    blob = st.to_bytes({"a": np.ones(3, np.float32), "b": np.zeros(2, np.int64)}, {"k": "v"})
    for n in range(len(blob)):
        with pytest.raises(InteropError):
            st.from_bytes(blob[:n])


@pytest.mark.parametrize(("header", "data", "match"), [
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 12,
     "trailing bytes"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 12]}}, b"\0" * 12,
     "needs 8"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12,
     "leaves a hole"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12, "overlaps"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 80]}}, b"\0" * 8,
     r"data_offsets\[1\]"),
    ({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, "dtype"),
    ({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}, b"", r"shape\[0\]"),
    ({"w": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}, b"\0" * 8, "shape"),
    ({"w": {"dtype": "F32", "shape": [1 << 40, 1 << 40], "data_offsets": [0, 8]}}, b"\0" * 8,
     "needs"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}, b"\0" * 8, "data_offsets"),
    ({"w": {"dtype": "F32", "shape": [2]}}, b"\0" * 8, "lacks the key 'data_offsets'"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "x": 1}}, b"\0" * 8,
     "unknown key"),
    ({"w": [1, 2]}, b"", "expected an object"),
    ({"": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}, b"\0" * 4, "tensor name"),
    ({"__metadata__": {"k": 3}}, b"", "__metadata__"),
])
def test_malformed_headers_are_refused(header: dict, data: bytes, match: str) -> None:
    _one_line_error(_blob(header, data), match)


def test_forged_lengths_and_bad_json_are_refused() -> None:
    _one_line_error(b"\x01\x02", "too short")
    _one_line_error(_blob({}, length=1 << 62), "header length")
    _one_line_error(struct.pack("<Q", 4) + b"[1] ", "does not begin")
    _one_line_error(struct.pack("<Q", 8) + b'{"a":1,,', "not readable JSON")
    text = b'{"w":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"w":{}}'
    _one_line_error(struct.pack("<Q", len(text)) + text + b"\0" * 4, "twice")


def test_a_huge_declared_size_allocates_nothing() -> None:
    header = {"w": {"dtype": "F64", "shape": [1 << 20, 1 << 20], "data_offsets": [0, 8]}}
    message = _one_line_error(_blob(header, b"\0" * 8), "needs")
    assert "8,796,093,022,208" in message


def test_a_file_too_large_is_refused_before_reading(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = st.save(tmp_path / "m.safetensors", {"w": np.ones(4, np.float32)})
    monkeypatch.setattr(st, "MAX_FILE_BYTES", 16)
    with pytest.raises(InteropError, match="over the limit"):
        st.load(path)
    with pytest.raises(InteropError, match="cannot read"):
        st.load(tmp_path / "missing.safetensors")


def test_writing_refuses_what_reading_would() -> None:
    with pytest.raises(InteropError, match="dtype complex64"):
        st.to_bytes({"z": np.zeros(2, np.complex64)})
    with pytest.raises(InteropError, match="__metadata__"):
        st.to_bytes({"__metadata__": np.zeros(2, np.float32)})
    with pytest.raises(InteropError, match="strings"):
        st.to_bytes({}, {"k": 1})  # type: ignore[dict-item]
