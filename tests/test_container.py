"""Tests for tinycompress.container: the .tcz file round trip, its accounting and its defences."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinycompress import zoo
from tinycompress.coding import accounting, bitio, tcz
from tinycompress.errors import FormatError
from tinycompress.nn.checkpoint import state_arrays
from tinycompress.nn.dense import Dense
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.model import Sequential
from tinycompress.pruning import magnitude
from tinycompress.quantization import trained


def _same_bits(a: Sequential, b: Sequential) -> bool:
    sa, sb = state_arrays(a), state_arrays(b)
    return sa.keys() == sb.keys() and all(
        sa[k].dtype == sb[k].dtype and sa[k].shape == sb[k].shape
        and np.array_equal(sa[k].view(np.uint8), sb[k].view(np.uint8)) for k in sa)


def _pruned_quantised(name: str, sparsity: float, bits: int) -> Sequential:
    model = zoo.build(name, seed=1)
    magnitude.prune(model, sparsity=sparsity)
    trained.quantize_model(model, bits, rng=0)
    return model


@pytest.fixture(scope="module")
def small_file() -> bytes:
    """A small pruned + quantised MLP, its file (gap width 3, so fillers occur)."""
    rng = np.random.default_rng(0)
    model = Sequential([Dense(64, 32, rng=rng), ReLU(), Dense(32, 10, rng=rng)], (64,), "mlp")
    for layer in (model.layers[0], model.layers[2]):
        w = layer.params["W"]
        w[np.abs(w) < np.quantile(np.abs(w), 0.85)] = 0
        levels = np.linspace(w.min(), w.max(), 8).astype(np.float32)
        q = levels[np.abs(w[..., None] - levels).argmin(-1)]
        layer.params["W"] = np.where(w == 0, 0, q).astype(np.float32)
    return tcz.to_bytes(model, index_bits=3, meta={"note": "test"})


def _rebuild(doc: dict, sections: list[bytes]) -> bytes:
    """A file with the given manifest and sections and *valid* checksums."""
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


# --- round trips ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "stage",
    ["dense", *(pytest.param(s, marks=pytest.mark.task_magnitude_prune)
               for s in ("pruned", "pruned+quantised"))],
)
def test_lenet_300_100_round_trip_is_bit_exact(stage: str) -> None:
    model = zoo.build("lenet-300-100", seed=0)
    if stage != "dense":
        magnitude.prune(model, sparsity=0.92)
    if stage == "pruned+quantised":
        trained.quantize_model(model, 5, rng=0)
    blob = tcz.to_bytes(model, index_bits=5)
    decoded, _, records = tcz.read_records(blob)
    assert _same_bits(model, decoded)
    x = np.random.default_rng(0).normal(size=(4, 1, 28, 28)).astype(np.float32)
    assert np.array_equal(model.forward(x), decoded.forward(x))
    kinds = {r.name: r.desc["k"] for r in records}
    assert kinds["fc1/W"] == {"dense": "r", "pruned": "s", "pruned+quantised": "s"}[stage]
    if stage == "pruned+quantised":  # the 32x target's neighbourhood even at 8% kept
        assert 4 * model.num_params() / len(blob) > 25


@pytest.mark.task_magnitude_prune
def test_lenet5_pruned_quantised_round_trip_auto_bits(tmp_path) -> None:
    model = _pruned_quantised("lenet5", 0.9, 4)
    path = tcz.save(model, tmp_path / "l5.tcz")
    decoded, meta = tcz.load(path)
    assert _same_bits(model, decoded) and meta == {}
    report = accounting.inspect(path)
    assert report["file_bytes"] == path.stat().st_size
    assert report["dense_bytes"] == 4 * 431_080
    assert report["ratio"] == pytest.approx(report["dense_bytes"] / report["file_bytes"])
    assert report["header_and_manifest_bytes"] + sum(r["bytes"] for r in report["layers"]) == (
        report["file_bytes"])
    fc1 = next(r for r in report["layers"] if r["name"] == "fc1")
    assert fc1["kept_fraction"] == pytest.approx(0.1, abs=0.01)
    assert fc1["layout"] == "sparse"
    # 16 centroids, plus the zero value if the chosen gap width needed filler entries
    assert fc1["codebook"] == 16 + (fc1["fillers"] > 0)
    assert fc1["weight_bits"] == (fc1["codebook"] - 1).bit_length()
    assert fc1["rate_pqh"] < fc1["rate_pq"]  # Huffman coding saves something


def test_bit_patterns_survive(small_file: bytes) -> None:
    model = Sequential([Dense(4, 3)], (4,), "odd")
    w = np.array([[0.0, -0.0, 1.0], [np.nan, 0.0, 0.0], [np.inf, -np.inf, 0.0],
                  [0.0, 0.0, 2.0]], dtype=np.float32)
    model.layers[0].params["W"] = w
    for bits in (None, 1):
        decoded, _, _ = tcz.read_records(tcz.to_bytes(model, index_bits=bits))
        assert _same_bits(model, decoded)


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


@pytest.mark.task_magnitude_prune
def test_huffman_streams_beat_zlib_and_lzma(tmp_path) -> None:
    path = tcz.save(_pruned_quantised("lenet-300-100", 0.92, 5), tmp_path / "m.tcz")
    rows = {r["data"].split()[0]: r for r in accounting.general_purpose_sizes(path)}
    for kind in ("indices", "gaps"):
        assert rows[kind]["tcz"] <= rows[kind]["zlib"]
    assert rows["float32"]["raw"] == 4 * 266_610
    assert rows[".tcz"]["zlib"] >= 0.95 * rows[".tcz"]["raw"]  # nothing left to squeeze


# --- bad files ---------------------------------------------------------------------------------
def test_header_errors(small_file: bytes) -> None:
    with pytest.raises(FormatError, match="magic"):
        tcz.read_records(b"PK\x03\x04" + small_file[4:])
    with pytest.raises(FormatError, match="version 9"):
        tcz.read_records(small_file[:4] + b"\x09" + small_file[5:])
    with pytest.raises(FormatError, match="too short"):
        tcz.read_records(small_file[:5])
    with pytest.raises(FormatError, match="truncated"):
        tcz.read_records(small_file[:-1])
    with pytest.raises(FormatError, match="accounts for"):
        tcz.read_records(small_file + b"\x00")


def test_absurd_sizes_rejected_before_allocating(small_file: bytes) -> None:
    doc, sections = _split(small_file)
    doc["arch"]["layers"][0]["config"].update(in_features=1_000_000, out_features=1_000_000)
    doc["arch"]["layers"][2]["config"]["in_features"] = 1_000_000
    doc["arch"]["input_shape"] = [1_000_000]
    start = time.perf_counter()
    with pytest.raises(FormatError, match="over the limit"):  # 10^12 weights
        tcz.read_records(_rebuild(doc, sections))
    doc["arch"]["layers"][0]["config"]["in_features"] = 10**13
    with pytest.raises(FormatError, match="dimension"):
        tcz.read_records(_rebuild(doc, sections))
    assert time.perf_counter() - start < 2


def test_invalid_code_lengths_and_short_streams(small_file: bytes) -> None:
    doc, sections = _split(small_file)
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
    doc, _ = _split(small_file)
    doc["t"][i]["k"] = "x"
    with pytest.raises(FormatError, match="unknown tensor kind"):
        tcz.read_records(_rebuild(doc, sections))


def test_manifest_errors(small_file: bytes) -> None:
    doc, sections = _split(small_file)
    with pytest.raises(FormatError, match="tensors"):
        tcz.read_records(_rebuild({**doc, "t": doc["t"][:-1]}, sections[:-1]))
    bad = {**doc, "arch": {**doc["arch"], "layers": [{"type": "Nope", "config": {}}]}}
    with pytest.raises(FormatError, match="architecture"):
        tcz.read_records(_rebuild(bad, sections))
    manifest = zlib.compress(b"[1, 2")
    head = struct.pack("<4sBII", tcz.MAGIC, 1, len(manifest), zlib.crc32(manifest))
    with pytest.raises(FormatError, match="unreadable"):
        tcz.read_records(head + manifest)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_corruptions_decode_or_raise(small_file: bytes, data: st.DataObject) -> None:
    original, _, _ = tcz.read_records(small_file)
    blob = bytearray(small_file)
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
    assert _same_bits(decoded, original)  # only a no-op corruption may decode


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_corrupt_sections_with_valid_checksums_never_crash(
    small_file: bytes, data: st.DataObject
) -> None:
    """Past the checksums (as if an attacker recomputed them), the parsers still hold."""
    doc, sections = _split(small_file)
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
        tcz.read_records(_rebuild(doc, sections[:i] + [bytes(sec)] + sections[i + 1 :]))
    except FormatError:
        pass


# --- command line -------------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinycompress.cli", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.task_magnitude_prune
def test_cli_encode_inspect_decode(tmp_path) -> None:
    src = tmp_path / "m.npz"
    from tinycompress.nn.checkpoint import save_model

    save_model(_pruned_quantised("lenet-300-100", 0.92, 5), src, {"x": 1})
    tcz = tmp_path / "m.tcz"
    done = _cli("encode", str(src), "--out", str(tcz), "--index-bits", "5", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["file_bytes"] == tcz.stat().st_size
    shown = json.loads(_cli("inspect", str(tcz), "--json").stdout)
    assert shown["layers"] == report["layers"]
    text = _cli("inspect", str(tcz)).stdout
    assert "fc1" in text and "ratio" in text
    assert _cli("decode", str(tcz), "--out", str(tmp_path / "back.npz")).returncode == 0
    summary = json.loads(_cli("summary", str(tcz), "--json").stdout)
    assert summary  # the .tcz is accepted wherever a model is
    tcz.write_bytes(tcz.read_bytes()[:-10])
    bad = _cli("inspect", str(tcz))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
