"""Tests for tinycompress.coding.tcz: the .tcz file round trip and its defences."""

from __future__ import annotations

import json
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinycompress import zoo
from tinycompress.coding import bitio, tcz
from tinycompress.errors import FormatError
from tinycompress.nn.architecture import state_arrays
from tinycompress.nn.dense import Dense
from tinycompress.nn.model import Sequential
from tinycompress.pruning import magnitude
from tinycompress.quantization import trained

SameBits = Callable[[Sequential, Sequential], bool]


def _rebuild(doc: dict, sections: list[bytes]) -> bytes:
    """A file with the given manifest and sections and *valid* checksums, written from the
    documented layout (not with the library's own writer)."""
    manifest = zlib.compress(json.dumps(doc).encode())
    head = struct.pack("<4sBII", tcz.MAGIC, tcz.VERSION, len(manifest),
                       zlib.crc32(manifest))
    return head + manifest + b"".join(s + struct.pack("<I", zlib.crc32(s)) for s in sections)


def _split(blob: bytes) -> tuple[dict, list[bytes]]:
    _, _, mlen, _ = struct.unpack_from("<4sBII", blob)
    doc = json.loads(zlib.decompress(blob[13 : 13 + mlen]))
    pos, sections = 13 + mlen, []
    for t in doc["t"]:
        sections.append(blob[pos : pos + t["z"]])
        pos += t["z"] + 4
    return doc, sections


@pytest.fixture(scope="module")
def small_model(small_tcz: bytes) -> Sequential:
    """The model in ``small_tcz``, decoded once for the Hypothesis tests."""
    return tcz.from_bytes(small_tcz)[0]


# --- round trips ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "stage",
    ["dense", *(pytest.param(s, marks=pytest.mark.task_magnitude_prune)
               for s in ("pruned", "pruned+quantised"))],
)
def test_lenet_300_100_round_trip_is_bit_exact(stage: str, same_bits: SameBits) -> None:
    model = zoo.build("lenet-300-100", seed=0)
    if stage != "dense":
        magnitude.prune(model, sparsity=0.92)
    if stage == "pruned+quantised":
        trained.quantize_model(model, 5, rng=0)
    blob = tcz.to_bytes(model, index_bits=5)
    decoded, _, records = tcz.read_records(blob)
    assert same_bits(model, decoded)
    x = np.random.default_rng(0).normal(size=(4, 1, 28, 28)).astype(np.float32)
    assert np.array_equal(model.forward(x), decoded.forward(x))
    kinds = {r.name: r.desc["k"] for r in records}
    assert kinds["fc1/W"] == {"dense": "r", "pruned": "s", "pruned+quantised": "s"}[stage]
    if stage == "pruned+quantised":  # the 32x target's neighbourhood even at 8% kept
        assert 4 * model.num_params() / len(blob) > 25


@pytest.mark.task_magnitude_prune
def test_lenet5_save_load_auto_bits(tmp_path: Path, pruned_quantised: Callable[..., Sequential],
                                    same_bits: SameBits) -> None:
    model = pruned_quantised("lenet5", 0.9, 4)
    path = tcz.save(model, tmp_path / "l5.tcz")
    assert tcz.read_file(path) == tcz.to_bytes(model)  # save writes exactly to_bytes
    decoded, meta = tcz.load(path)
    assert same_bits(model, decoded) and meta == {}


def test_bytes_round_trip_without_a_file(small_tcz: bytes, same_bits: SameBits,
                                         tmp_path: Path) -> None:
    model, meta = tcz.from_bytes(small_tcz)
    assert meta == {"note": "test"}
    assert tcz.to_bytes(model, index_bits=3, meta=meta) == small_tcz
    path = tcz.write_file(small_tcz, tmp_path / "sub" / "m.tcz")
    assert path.read_bytes() == small_tcz
    loaded, loaded_meta = tcz.load(path)
    assert same_bits(loaded, model) and loaded_meta == meta


def test_assemble_writes_the_documented_layout(small_tcz: bytes) -> None:
    doc, sections = _split(small_tcz)
    assert tcz.assemble(doc, sections) == small_tcz
    assert tcz.read_records(_rebuild(doc, sections))[2][0].section == sections[0]


def test_bit_patterns_survive(same_bits: SameBits) -> None:
    model = Sequential([Dense(4, 3)], (4,), "odd")
    w = np.array([[0.0, -0.0, 1.0], [np.nan, 0.0, 0.0], [np.inf, -np.inf, 0.0],
                  [0.0, 0.0, 2.0]], dtype=np.float32)
    model.layers[0].params["W"] = w
    for bits in (None, 1):
        decoded, _, _ = tcz.read_records(tcz.to_bytes(model, index_bits=bits))
        assert same_bits(model, decoded)


def test_encode_tensor_picks_the_smallest() -> None:
    rng = np.random.default_rng(0)
    dense = rng.normal(size=1000).astype(np.float32)
    assert tcz.encode_tensor(dense)[0]["k"] == "r"
    shared = rng.choice(np.float32([-1, 0.5, 2]), size=1000)
    desc, data = tcz.encode_tensor(shared)
    assert desc["k"] == "d" and desc["c"] == 3 and len(data) < 1000 // 4
    sparse = np.where(rng.random(5000) < 0.03, shared[:1].repeat(5000), 0).astype(np.float32)
    desc, _ = tcz.encode_tensor(sparse)
    assert desc["k"] == "s" and desc["c"] == 1
    for arr in (dense, shared, sparse, np.zeros(7, np.float32), np.zeros(0, np.float32)):
        desc, data = tcz.encode_tensor(arr)
        back = tcz.decode_tensor(data, desc, arr.size, arr.dtype, "t")
        assert np.array_equal(back.view(np.uint32), arr.view(np.uint32))


def test_streams_fixed_or_huffman() -> None:
    rng = np.random.default_rng(0)
    uniform = rng.integers(0, 8, size=1000)
    desc, data = tcz.encode_stream(uniform, 8)
    assert desc == {"f": 3} and len(data) == 375
    skewed = np.minimum(rng.geometric(0.5, size=1000) - 1, 31)
    desc, data = tcz.encode_stream(skewed, 32)
    assert "h" in desc and len(data) < 1000 * 5 // 8
    back = tcz.decode_stream(tcz._Cursor(data, "s"), desc, 1000, 32)
    assert np.array_equal(back, skewed)


# --- bad files ---------------------------------------------------------------------------------
def test_header_errors(small_tcz: bytes, tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="magic"):
        tcz.read_records(b"PK\x03\x04" + small_tcz[4:])
    with pytest.raises(FormatError, match="version 9"):
        tcz.read_records(small_tcz[:4] + b"\x09" + small_tcz[5:])
    with pytest.raises(FormatError, match="too short"):
        tcz.read_records(small_tcz[:5])
    with pytest.raises(FormatError, match="truncated"):
        tcz.read_records(small_tcz[:-1])
    with pytest.raises(FormatError, match="accounts for"):
        tcz.read_records(small_tcz + b"\x00")
    with pytest.raises(FormatError, match="no .tcz file"):
        tcz.load(tmp_path / "missing.tcz")


def test_absurd_sizes_rejected_before_allocating(small_tcz: bytes) -> None:
    """A manifest claiming 10^12 weights is refused from the manifest alone: reading it
    allocates next to nothing (the time this takes is measured by bench/bench_container.py)."""
    doc, sections = _split(small_tcz)
    doc["arch"]["layers"][0]["config"].update(in_features=1_000_000, out_features=1_000_000)
    doc["arch"]["layers"][2]["config"]["in_features"] = 1_000_000
    doc["arch"]["input_shape"] = [1_000_000]
    huge = _rebuild(doc, sections)
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match="over the limit"):  # 10^12 weights
            tcz.read_records(huge)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # bytes; the weights claimed would take 4 TB
    doc["arch"]["layers"][0]["config"]["in_features"] = 10**13
    with pytest.raises(FormatError, match="dimension"):
        tcz.read_records(_rebuild(doc, sections))


def test_invalid_code_lengths_and_short_streams(small_tcz: bytes) -> None:
    doc, sections = _split(small_tcz)
    i = next(i for i, t in enumerate(doc["t"]) if "h" in t.get("v", {}))
    t = doc["t"][i]
    book = 4 * t["c"]
    table_bytes = -(-t["v"]["a"] * t["v"]["w"] // 8)
    bad = bytearray(sections[i])
    ones = bitio.pack_fixed(np.ones(t["v"]["a"], dtype=np.int64), t["v"]["w"])[0]
    bad[book : book + table_bytes] = ones  # every length 1: Kraft sum > 1
    with pytest.raises(FormatError, match="Kraft"):
        tcz.read_records(_rebuild(doc, sections[:i] + [bytes(bad)] + sections[i + 1 :]))
    t["v"]["h"] -= 3  # the bit stream claims to end early
    with pytest.raises(FormatError):
        tcz.read_records(_rebuild(doc, sections))
    doc, _ = _split(small_tcz)
    doc["t"][i]["k"] = "x"
    with pytest.raises(FormatError, match="unknown tensor kind"):
        tcz.read_records(_rebuild(doc, sections))


def test_manifest_errors(small_tcz: bytes) -> None:
    doc, sections = _split(small_tcz)
    with pytest.raises(FormatError, match="tensors"):
        tcz.read_records(_rebuild({**doc, "t": doc["t"][:-1]}, sections[:-1]))
    for not_a_list in (5, None, "t"):
        with pytest.raises(FormatError, match="not a list"):
            tcz.read_records(_rebuild({**doc, "t": not_a_list}, sections))
    bad = {**doc, "arch": {**doc["arch"], "layers": [{"type": "Nope", "config": {}}]}}
    with pytest.raises(FormatError, match="architecture"):
        tcz.read_records(_rebuild(bad, sections))
    manifest = zlib.compress(b"[1, 2")
    head = struct.pack("<4sBII", tcz.MAGIC, 1, len(manifest), zlib.crc32(manifest))
    with pytest.raises(FormatError, match="unreadable"):
        tcz.read_records(head + manifest)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_corruptions_decode_or_raise(
    small_tcz: bytes, small_model: Sequential, same_bits: SameBits, data: st.DataObject
) -> None:
    blob = bytearray(small_tcz)
    kind = data.draw(st.sampled_from(["flip", "truncate", "insert", "overwrite"]))
    pos = data.draw(st.integers(0, len(blob) - 1))
    if kind == "flip":
        blob[pos] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "truncate":
        del blob[pos:]
    elif kind == "insert":
        blob[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    else:
        chunk = data.draw(st.binary(min_size=1, max_size=16))
        blob[pos : pos + len(chunk)] = chunk
    try:
        decoded, _, _ = tcz.read_records(bytes(blob))
    except FormatError:
        return
    assert same_bits(decoded, small_model)  # only a no-op corruption may decode


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_corrupt_sections_with_valid_checksums_decode_or_raise(
    small_tcz: bytes, small_model: Sequential, same_bits: SameBits, data: st.DataObject
) -> None:
    """Past the checksums (as if an attacker recomputed them), the parsers still hold: a
    corrupt section raises :class:`FormatError` or decodes to a tensor of its own shape and
    dtype (a raw one to exactly the bytes given), and the other tensors stay as they were."""
    doc, sections = _split(small_tcz)
    i = data.draw(st.integers(0, len(sections) - 1))
    sec = bytearray(sections[i])
    for _ in range(data.draw(st.integers(1, 4))):
        if sec:
            sec[data.draw(st.integers(0, len(sec) - 1))] = data.draw(st.integers(0, 255))
    entry = doc["t"][i]
    field = data.draw(st.sampled_from(["none", "n", "c", "b", "z"]))
    if field in entry:
        entry[field] = data.draw(st.integers(-2, 10**6))
    try:
        decoded, _, _ = tcz.read_records(
            _rebuild(doc, sections[:i] + [bytes(sec)] + sections[i + 1 :]))
    except FormatError:
        return
    if doc == _split(small_tcz)[0] and bytes(sec) == sections[i]:
        assert same_bits(decoded, small_model)  # a no-op corruption decodes as before
    got, want = state_arrays(decoded), state_arrays(small_model)
    name = list(want)[i]
    assert got.keys() == want.keys()
    for key, ref in want.items():
        assert got[key].shape == ref.shape and got[key].dtype == ref.dtype
        if key != name:
            assert got[key].tobytes() == ref.tobytes()
    if entry["k"] == "r":
        assert got[name].tobytes() == bytes(sec)
