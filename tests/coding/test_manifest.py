"""Tests for tinycompress.coding.manifest: the rules of every field of the .tcz manifest."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tinycompress.coding import manifest, sections, small_tensors
from tinycompress.errors import FormatError
from tinycompress.nn.architecture import MAX_LAYERS

SPARSE = {"k": "s", "n": 220, "b": 6, "g": {"h": 712, "a": 37, "w": 4}, "c": 16,
          "v": {"h": 761, "a": 16, "w": 4}, "z": 276}
"""A sparse entry of the shipped LeNet-300-100 (fc3/W)."""


def _tensors() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    shared = rng.choice(np.float32([-1, 0.5, 2, 3]), size=3000)
    return [rng.normal(size=300).astype(np.float32), shared,
            np.where(rng.random(3000) < 0.05, shared, 0).astype(np.float32),
            np.where(rng.random(3000) < 0.3, rng.normal(size=3000), 0).astype(np.float32),
            np.zeros(50, np.float32), np.zeros(0, np.float32)]


@pytest.mark.parametrize("bits", [None, (1,), (5,), (16,)])
def test_every_entry_the_encoder_writes_passes_and_implies_its_size(bits: Any) -> None:
    for arr in _tensors():
        desc, data = sections.encode_tensor(arr, *(() if bits is None else (bits,)))
        entry = manifest.check_entry({**desc, "z": len(data)}, "t[0]")
        assert manifest.section_bytes(entry, arr.size) == len(data)
        assert manifest.check_sizes([entry], {"fc/W": arr}) == [len(data)]


@pytest.mark.parametrize("change, match", [
    ({"z": 276.0}, r"t\[0\].z is 276.0; expected an integer"),
    ({"z": True}, r"t\[0\].z is True"),
    ({"k": "R"}, r"t\[0\].k is 'R'; expected one of 'r', 'd', 's'"),
    ({"q": 1}, r"t\[0\] has the unknown key 'q'"),
    ({"c": 221}, r"t\[0\].c is 221, more codebook values than the 220 entries"),
    ({"c": 0}, r"must have a value stream 'v' exactly when c > 0"),
    ({"b": 17}, r"t\[0\].b is 17; expected an integer in 1..16"),
    ({"b": 5}, r"t\[0\].g.a is 37; expected an integer in 1..32"),
    ({"v": {"f": 5}}, r"t\[0\].v.f is 5; expected an integer in 4..4"),
    ({"v": {"f": 4, "h": 1}}, r"t\[0\].v has the unknown key 'h'"),
    ({"v": {"h": 761, "a": 16, "w": 8}}, r"t\[0\].v.w is 8; expected an integer in 1..7"),
    ({"g": [712, 37, 4]}, r"t\[0\].g is \[712, 37, 4\]; expected an object"),
    ({"n": -1}, r"t\[0\].n is -1"),
])
def test_check_entry_refuses_field_by_field(change: dict[str, Any], match: str) -> None:
    with pytest.raises(FormatError, match=match):
        manifest.check_entry({**SPARSE, **change}, "t[0]")


def test_raw_entries_have_two_keys_and_sizes_follow_the_tensor() -> None:
    with pytest.raises(FormatError, match="unknown key 'n'"):
        manifest.check_entry({"k": "r", "z": 8, "n": 2}, "t[1]")
    raw = manifest.check_entry({"k": "r", "z": 8}, "t[1]")
    with pytest.raises(FormatError, match=r"manifest.t\[0\].z is 8; the tensor 'fc/b' and the "
                                          "entry's fields imply a section of 12 bytes"):
        manifest.check_sizes([raw], {"fc/b": np.zeros(3, np.float32)})
    with pytest.raises(FormatError, match=r"t\[0\].n \(the tensor 'fc/W'\) is 220; expected "
                                          r"an integer in 0..100"):
        manifest.check_sizes([SPARSE], {"fc/W": np.zeros(100, np.float32)})
    with pytest.raises(FormatError, match="lists 1 tensors; the architecture has 2"):
        manifest.check_sizes([raw], {"a": np.zeros(2), "b": np.zeros(2)})


def test_meta_normalization() -> None:
    assert manifest.check_meta({"source": 5}) == {"source": 5}  # free-form otherwise
    assert manifest.check_meta({"normalization": None, "a": 1}) == {"a": 1}
    assert manifest.check_meta({"normalization": {"mean": 0, "std": 1}})["normalization"] == {
        "mean": 0.0, "std": 1.0}
    for norm, match in (({"mean": 0.1, "std": 0}, "std is 0"), ({"mean": 0.1, "std": 1e-50},
                        "std is 1e-50"), ({"mean": "0.1", "std": 1}, "mean is '0.1'"),
                        ({"mean": 1e39, "std": 1}, "mean is 1e"), ([0.1, 0.3], "an object"),
                        ({"mean": 0.1, "std": 0.3, "x": 1}, "unknown key 'x'")):
        with pytest.raises(FormatError, match=f"manifest.meta.normalization.*{match}"):
            manifest.check_meta({"normalization": norm})
    with pytest.raises(FormatError, match="manifest.meta is \\[\\]; expected an object"):
        manifest.check_meta([])


def test_parse_checks_the_document_before_the_entries() -> None:
    doc = {"arch": {}, "t": [{"k": "r", "z": 0}]}
    arch, meta, entries = manifest.parse(json.dumps(doc).encode())
    assert (arch, meta, entries) == ({}, {}, doc["t"])
    for text, match in ((b'{"arch": {}, "t": [], "t": []}', "appears twice"),
                        (b'{"arch": {}, "t": [], "x": 1}', "unknown key 'x'"),
                        (b'{"t": []}', "lacks the key 'arch'"),
                        (json.dumps({"arch": {}, "t": [{}] * (4 * MAX_LAYERS + 1)}).encode(),
                         r"manifest.t .*4,097 items; expected a list of 0..4096 items")):
        with pytest.raises(FormatError, match=match):
            manifest.parse(text)


@pytest.mark.parametrize("small", ["fp16", "int8"])
def test_every_version_2_entry_the_encoder_writes_passes(small: str) -> None:
    for arr in _tensors():
        forms = [sections.encode_tensor(arr, arith=True), small_tensors.encode_small(arr, small)]
        for desc, data in (f for f in forms if f is not None):
            entry = manifest.check_entry({**desc, "z": len(data)}, "t[0]", version=2)
            assert manifest.section_bytes(entry, arr.size) == len(data)
            assert manifest.check_sizes([entry], {"fc/W": arr}) == [len(data)]
    with pytest.raises(FormatError, match=r"t\[0\].k is 'a'; expected one of 'r', 'd', 's'"):
        manifest.check_entry({"k": "a", "n": 1, "c": 1, "z": 9}, "t[0]")  # not in version 1


@pytest.mark.parametrize("entry, match", [
    ({"k": "a", "n": 3, "c": 4, "z": 20}, r"t\[0\].c is 4, more codebook values than the 3"),
    ({"k": "a", "n": 3, "c": 2, "z": 20, "o": 1}, "unknown key 'o'"),
    ({"k": "a", "n": 3, "z": 20}, "lacks the key 'c'"),
    ({"k": "h", "z": 20, "n": 10}, "unknown key 'n'"),
    ({"k": "q", "e": -150, "v": {"f": 8}, "z": 10}, r"t\[0\].e is -150; expected an integer in "
                                                     r"-149..121"),
    ({"k": "q", "e": 0, "v": {"f": 7}, "z": 10}, r"t\[0\].v.f is 7; expected an integer in 8..8"),
    ({"k": "q", "e": 0, "z": 10}, "lacks the key 'v'"),
])
def test_version_2_entries_refused_field_by_field(entry: dict[str, Any], match: str) -> None:
    with pytest.raises(FormatError, match=match):
        manifest.check_entry(entry, "t[0]", version=2)


def test_version_2_sizes_follow_the_tensor() -> None:
    ten = {"fc/b": np.zeros(10, np.float32)}
    assert manifest.check_sizes([{"k": "h", "z": 20}], ten) == [20]
    assert manifest.check_sizes([{"k": "q", "e": 0, "v": {"f": 8}, "z": 10}], ten) == [10]
    for entry, match in (({"k": "h", "z": 40}, "imply a section of 20 bytes"),
                         ({"k": "a", "n": 4, "c": 2, "z": 7}, "imply a section of 8 bytes"),
                         ({"k": "a", "n": 4, "c": 0, "z": 15}, "imply a section of 16 bytes"),
                         ({"k": "a", "n": 11, "c": 2, "z": 90}, r"n \(the tensor 'fc/b'\) is 11")):
        with pytest.raises(FormatError, match=match):
            manifest.check_sizes([entry], ten)
    assert manifest.check_sizes([{"k": "a", "n": 4, "c": 2, "z": 99}], ten) == [99]
