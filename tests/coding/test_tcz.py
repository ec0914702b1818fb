"""Tests for tinycompress.coding.tcz: the .tcz file round trip and its defences.

The forged files of every field are in test_forged.py; here are the version 1 fixtures (the
files shipped before version 2), small tensors in fewer bits, the writer's refusals, the
reader's limits and naming, and corruptions drawn by Hypothesis."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinycompress import zoo
from tinycompress.coding import accounting, bitio, small_tensors, tcz
from tinycompress.errors import FormatError, UsageError
from tinycompress.nn.architecture import state_arrays
from tinycompress.nn.dense import Dense
from tinycompress.nn.model import Sequential
from tinycompress.pruning import magnitude
from tinycompress.quantization import trained

from .forge import fixture, serialise
from .forge import split as _split

SameBits = Callable[[Sequential, Sequential], bool]

SHIPPED_DIGESTS = {
    "lenet-300-100": "8d30f8691457f6e2499a23bc342553986a46d28d304153d8e31d8c4c892c9302",
    "lenet5": "0f02a65ea4b6fd94965e5a60577d6652548a0db7046decc5e91b6091c7b6acbb",
}
"""SHA-256 of every tensor's name, shape, dtype and bytes as the reader of the first commit
decoded the shipped files (before the manifest schema); the files of version 1 are kept as
fixtures in ``data/fixtures/v1``."""


def _rebuild(doc: object, sections: list[bytes], **parts: object) -> bytes:
    """A version 2 file of ``doc`` and ``sections`` with its checksum recomputed."""
    return serialise(doc, sections, version=2, **parts)


def _digest(model: Sequential) -> str:
    h = hashlib.sha256()
    for key, a in state_arrays(model).items():
        h.update(key.encode() + str(a.shape).encode() + str(a.dtype).encode() + a.tobytes())
    return h.hexdigest()


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
    assert kinds["fc1/W"] == {"dense": "r", "pruned": "a", "pruned+quantised": "a"}[stage]
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


def test_version_1_files_decode_exactly_as_before() -> None:
    for name, digest in SHIPPED_DIGESTS.items():
        blob = fixture(name)
        assert blob[4] == 1
        model, meta = tcz.from_bytes(blob)
        assert _digest(model) == digest
        assert set(meta) == {"normalization", "source", "pipeline"}
        again = tcz.to_bytes(model, meta=meta)  # version 2: the same weights, fewer bytes
        assert again[4] == 2 and len(again) < 0.95 * len(blob)
        assert _digest(tcz.from_bytes(again)[0]) == digest
        assert tcz.to_bytes(model, meta=meta, version=1) == blob  # the version 1 writer too


def test_every_section_is_at_most_its_version_1_size(small_tcz: bytes) -> None:
    model = tcz.from_bytes(small_tcz)[0]
    v1, v2 = (tcz.read_records(tcz.to_bytes(model, 3, version=v))[2] for v in (1, 2))
    assert all(len(b.section) <= len(a.section) for a, b in zip(v1, v2, strict=True))
    assert {r.desc["k"] for r in v2} == {"a", "r"} and {r.desc["k"] for r in v1} == {"s", "r"}


@pytest.mark.parametrize("small", ["fp16", "int8"])
def test_small_tensors_in_fewer_bits_decode_as_as_stored_says(
        small: str, small_model: Sequential, same_bits: SameBits, tmp_path: Path) -> None:
    stored = small_tensors.as_stored(small_model, small)
    path = tcz.save(small_model, tmp_path / "m.tcz", small=small)
    decoded, _, records = tcz.read_records(path.read_bytes())
    assert same_bits(decoded, stored) and not same_bits(decoded, small_model)
    kinds = {r.name: r.desc["k"] for r in records if r.name.endswith("/b")}
    assert set(kinds.values()) == {"h" if small == "fp16" else "q"}
    assert path.stat().st_size < len(tcz.to_bytes(small_model))
    assert tcz.checked_bytes(stored, small=small) == path.read_bytes()  # idempotent
    with pytest.raises(UsageError, match="one of fp32, fp16, int8; got 'bf16'"):
        tcz.to_bytes(small_model, small="bf16")


# --- what the writer refuses -------------------------------------------------------------------
def _one_layer(w: np.ndarray) -> Sequential:
    model = Sequential([Dense(*w.shape, name="fc")], w.shape[:1], "odd")
    model.layers[0].params["W"] = w
    return model


def test_minus_zero_survives_and_non_finite_values_are_refused(
        same_bits: SameBits, tmp_path: Path) -> None:
    w = np.array([[0.0, -0.0, 1.0], [-0.0, 0.0, 0.0], [0.0, 0.0, 2.0]], dtype=np.float32)
    for bits in (None, 1):
        assert same_bits(_one_layer(w), tcz.from_bytes(tcz.to_bytes(_one_layer(w), bits))[0])
    for bad in (np.nan, np.inf, -np.inf):
        w[1, 1] = bad
        with pytest.raises(FormatError, match="'fc/W' holds 1 NaN or infinite"):
            tcz.save(_one_layer(w), tmp_path / "x.tcz")
    assert not (tmp_path / "x.tcz").exists()


def test_only_float32_is_stored_and_big_endian_keeps_its_values() -> None:
    w = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    decoded = tcz.from_bytes(tcz.to_bytes(_one_layer(w.astype(">f4"))))[0]
    got = decoded.layers[0].params["W"]
    assert got.dtype == np.dtype("<f4") and np.array_equal(got, w)  # not byte-swapped
    for dtype in (np.float16, np.float64):
        with pytest.raises(FormatError, match="float32"):
            tcz.to_bytes(_one_layer(w).astype(dtype))


def test_meta_and_index_bits_are_checked_on_write(small_model: Sequential) -> None:
    for meta, match in (({"normalization": {"mean": 0.1, "std": 0}}, "std is 0"),
                        ({"normalization": {"mean": 0.1}}, "lacks the key 'std'"),
                        ({"x": float("nan")}, "not plain JSON"),
                        ({"x": object()}, "not plain JSON")):
        with pytest.raises(FormatError, match=match):
            tcz.to_bytes(small_model, 3, meta)
    meta = tcz.from_bytes(tcz.to_bytes(small_model, 3, {"normalization": None, "a": 1}))[1]
    assert meta == {"a": 1}  # a normalization of None records none
    for bits in (0, 17, True, 2.5, {"fc1": 20}):
        with pytest.raises(UsageError, match="index bits must be an integer in 1..16"):
            tcz.to_bytes(small_model, bits)


def test_save_writes_nothing_that_does_not_decode_to_the_model(
        small_model: Sequential, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tcz.save(small_model, tmp_path / "m.tcz")
    before = path.read_bytes()
    other = tcz.from_bytes(before)[0]
    other.layers[0].params["W"] = other.layers[0].params["W"] + 1
    monkeypatch.setattr(tcz, "from_bytes", lambda blob, limit: (other, {}))
    with pytest.raises(FormatError, match="do not decode to the model"):
        tcz.save(small_model, path)
    assert path.read_bytes() == before


# --- what the reader refuses, and how it says so ----------------------------------------------
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
    with pytest.raises(FormatError, match="missing.tcz'?: no .tcz file"):
        tcz.load(tmp_path / "missing.tcz")
    with pytest.raises(FormatError, match="no .tcz file"):
        tcz.load(tmp_path)


def test_errors_name_the_file_on_one_line(small_tcz: bytes, tmp_path: Path) -> None:
    path = tmp_path / "bad\nname.tcz"
    path.write_bytes(small_tcz[:-1])
    for read in (tcz.load, accounting.inspect):
        with pytest.raises(FormatError) as info:
            read(path)
        message = str(info.value)
        assert message.isprintable() and "bad\\nname.tcz" in message and "truncated" in message
    path.write_bytes(small_tcz + b"\x00")
    with pytest.raises(FormatError, match="accounts for"):
        tcz.load(path)


def test_a_file_longer_than_its_manifest_says_is_not_read(small_tcz: bytes,
                                                          tmp_path: Path) -> None:
    path = tmp_path / "long.tcz"
    path.write_bytes(small_tcz + bytes(64 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match="accounts for"):
            tcz.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20  # the header and manifest, not the 64 MB behind them


def test_max_parameters_is_the_readers_limit(small_tcz: bytes, tmp_path: Path) -> None:
    path = tcz.write_file(small_tcz, tmp_path / "m.tcz")
    assert tcz.load(path)[0].num_params() == 2410
    for read in (tcz.load, accounting.inspect):
        with pytest.raises(FormatError, match="over the limit of 1,000"):
            read(path, max_parameters=1000)
    assert tcz.read_records(small_tcz, max_parameters=2410)[0].num_params() == 2410


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
    with pytest.raises(FormatError, match="in_features is 10000000000000"):
        tcz.read_records(_rebuild(doc, sections))


def test_invalid_code_lengths_and_short_streams(small_tcz: bytes) -> None:
    v1 = tcz.to_bytes(tcz.from_bytes(small_tcz)[0], 3, version=1)  # Huffman-coded streams

    def _rebuild(doc: object, sections: list[bytes]) -> bytes:
        return serialise(doc, sections, version=1)

    doc, sections = _split(v1)
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
    doc, _ = _split(v1)
    doc["t"][i]["k"] = "x"
    with pytest.raises(FormatError, match=rf"manifest.t\[{i}\].k is 'x'; expected one of"):
        tcz.read_records(_rebuild(doc, sections))


def test_manifest_errors(small_tcz: bytes) -> None:
    doc, sections = _split(small_tcz)
    with pytest.raises(FormatError, match="lists 3 tensors; the architecture has 4"):
        tcz.read_records(_rebuild({**doc, "t": doc["t"][:-1]}, sections[:-1]))
    for not_a_list in (5, None, "t"):
        with pytest.raises(FormatError, match="manifest.t is .*; expected a list"):
            tcz.read_records(_rebuild({**doc, "t": not_a_list}, sections))
    bad = {**doc, "arch": {**doc["arch"], "layers": [{"type": "Nope", "config": {}}]}}
    with pytest.raises(FormatError, match=r"manifest.arch.layers\[0\].type is 'Nope'"):
        tcz.read_records(_rebuild(bad, sections))
    with pytest.raises(FormatError, match="not readable JSON"):
        tcz.read_records(_rebuild(None, [], text=b"[1, 2"))


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
