"""Forged checkpoints, written by hand: every field and member refused by name, nothing lost.

Each case starts from a real checkpoint of ``tiny_net`` (conv1 r1 flat fc1 r2 fc2) and changes
one thing: the JSON description, the meta, an array's dtype, or the zip members themselves
(written here byte by byte, so sizes, flags and methods can lie).
"""

import dataclasses
import io
import json
import struct
import zipfile
import zlib

import numpy as np
import pytest

from tinycompress.errors import CheckpointError
from tinycompress.nn import checkpoint
from tinycompress.nn.checkpoint import MAX_DESCRIPTION, load_model, save_model
from tinycompress.nn.train import Recipe


def members_of(path):
    """``{name: uncompressed bytes}`` of a zip file, in order."""
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write_zip(path, members, lie=None):
    """A zip file of stored ``members`` (name -> bytes); ``lie`` maps a name to the header
    fields to forge: ``size`` (declared uncompressed size), ``flags``, ``method``, ``data``
    (the stored bytes), ``crc``."""
    out, central = bytearray(), bytearray()
    for name, payload in members.items():
        f = {"size": len(payload), "flags": 0, "method": 0, "data": payload,
             "crc": zlib.crc32(payload), **(lie or {}).get(name, {})}
        n, offset = name.encode(), len(out)
        fields = (f["flags"], f["method"], 0, 0, f["crc"], len(f["data"]), f["size"], len(n))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, *fields, 0) + n + f["data"]
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, *fields, 0, 0, 0, 0,
                               0, offset) + n
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                       len(out), 0)
    path.write_bytes(bytes(out + central + eocd))
    return path


def npy(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def description(members):
    return json.loads(np.load(io.BytesIO(members["__meta__.npy"])).tobytes())


def with_description(members, doc):
    return {**members, "__meta__.npy": npy(np.frombuffer(json.dumps(doc).encode(), np.uint8))}


@pytest.fixture
def real(tmp_path, tiny_net):
    """The members of a real checkpoint, and where to write a forged one."""
    return members_of(save_model(tiny_net(), tmp_path / "real.npz")), tmp_path / "forged.npz"


def refused(path, match):
    with pytest.raises(CheckpointError, match=match) as info:
        load_model(path)
    message = str(info.value)
    assert message.isprintable() and len(message) < 500
    return message


def test_the_hand_written_archive_itself_loads(real, tiny_net, same_bits):
    members, path = real
    model, meta = load_model(write_zip(path, members))
    assert same_bits(model, tiny_net()) and meta == {}


DOC_CASES = [  # (change the description, the refusal must match)
    (lambda d: d.pop("model"), r"forged\.npz: __meta__ lacks the key 'model'"),
    (lambda d: d.pop("format"), r"__meta__ lacks the key 'format'"),
    (lambda d: d.update(format="tinycompress-tcz"), r"__meta__\.format is 'tinycompress-tcz'"),
    (lambda d: d.update(version=True), r"__meta__\.version is True; expected one of 1"),
    (lambda d: d.update(version="1"), r"__meta__\.version is '1'"),
    (lambda d: d.update(extra=1), r"__meta__ has the unknown key 'extra'"),
    (lambda d: d.update(meta=[1]), r"__meta__\.meta is \[1\]; expected an object"),
    (lambda d: d.update(meta={"normalization": {"mean": 0.1, "std": 0}}),
     r"__meta__\.meta\.normalization\.std is 0; expected a finite number in \[1\.17549e-38"),
    (lambda d: d.update(meta={"normalization": {"mean": "0.1", "std": 0.3}}),
     r"normalization\.mean is '0\.1'"),
    (lambda d: d.update(meta={"normalization": {"mean": 0.1}}), r"normalization lacks the key 's"),
    (lambda d: d.update(meta={"normalization": [0.1, 0.3]}), r"normalization is \[0\.1, 0\.3\]"),
    (lambda d: d.update(meta={"recipe": {"lr": "fast"}}), r"__meta__\.meta\.recipe\.lr is 'fast'"),
    (lambda d: d.update(meta={"recipe": 5}), r"__meta__\.meta\.recipe is 5; expected an object"),
    (lambda d: d["model"]["layers"][0]["config"].update(stride=0),
     r"__meta__\.model\.layers\[0\]\.config\.stride is 0; expected an integer in 1\.\."),
    (lambda d: d["model"]["layers"][0]["config"].update(rng=5),
     r"__meta__\.model\.layers\[0\]\.config has the unknown key 'rng'"),
    (lambda d: d["model"].update(layers=[{"type": "Dense", "config": {
        "in_features": 10**6, "out_features": 10**6, "name": "fc"}}], input_shape=[10**6]),
     r"over the limit of 268,435,456 values"),
]


@pytest.mark.parametrize("change,match", DOC_CASES)
def test_a_forged_description_is_refused_by_field(real, change, match):
    members, path = real
    doc = description(members)
    change(doc)
    refused(write_zip(path, with_description(members, doc)), match)


def test_a_huge_architecture_is_refused_before_anything_is_allocated(real, peak_of):
    members, path = real
    doc = description(members)
    DOC_CASES[-1][0](doc)
    write_zip(path, with_description(members, doc))
    assert peak_of(lambda: refused(path, "over the limit")) < 2 << 20  # Dense(10^6, 10^6): 4 TB


def test_a_recorded_recipe_is_typed_as_the_recipe_itself():
    assert set(checkpoint.RECIPE_FIELDS) == {f.name for f in dataclasses.fields(Recipe)}


def test_recorded_fields_that_are_sane_are_kept(real):
    members, path = real
    doc = description(members)
    doc["meta"] = {"normalization": None, "recipe": {"lr": 0.1, "epochs": 3}, "note": [1, {}]}
    _, meta = load_model(write_zip(path, with_description(members, doc)))
    assert meta == doc["meta"]


@pytest.mark.parametrize("blob,match", [
    (b"[1, 2]", r"__meta__ is \[1, 2\]; expected an object"),
    (b'{"format": 1, "format": 2}', r"__meta__ is not readable JSON \(the key 'format' appears"),
    (b"\xff\xfe", r"__meta__ is not readable JSON"),
    (b"[" * 100_000 + b"]" * 100_000, r"__meta__ is not readable JSON"),
    (b'{"version": 1' + b"0" * 5000 + b"}", r"__meta__ is not readable JSON"),
])
def test_an_unreadable_description_is_refused(real, blob, match):
    members, path = real
    members = {**members, "__meta__.npy": npy(np.frombuffer(blob, np.uint8))}
    refused(write_zip(path, members), match)


@pytest.mark.parametrize("meta_member,match", [
    (b'{"format": "tinycompress-checkpoint"}', r"__meta__: not a readable checkpoint \(its array: "
                                                "ValueError"),  # raw bytes, not an .npy array
    (npy(np.array([1.5, 2.5])), r"__meta__ is a float64 array of shape \(2,\); expected the UTF-8"),
    (npy(np.zeros((2, 2), np.uint8)), r"__meta__ is a uint8 array of shape \(2, 2\)"),
    (npy(np.array(["x"], dtype=object)), r"__meta__ is a object array"),
    (npy(np.zeros(3, np.uint8)).replace(b"'shape': (3,)", b"'shape':(-3,)"),
     r"__meta__ is a uint8 array of shape \(-3,\)"),
])
def test_a_description_that_is_not_bytes_is_refused(real, meta_member, match):
    members, path = real
    refused(write_zip(path, {**members, "__meta__.npy": meta_member}), match)


def test_a_description_over_its_limit_is_refused_before_reading(real):
    members, path = real
    header = npy(np.zeros(MAX_DESCRIPTION + 1, np.uint8))[:128]  # the header alone
    refused(write_zip(path, {**members, "__meta__.npy": header}), r"of at most 16,777,216")


def test_a_member_declaring_a_gibibyte_is_refused_before_it_is_read(real, peak_of):
    """The member fc1/W claims 1 GiB uncompressed (a deflate bomb's declaration)."""
    members, path = real
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = bomb.compress(members["fc1/W.npy"][:128] + bytes(1 << 24)) + bomb.flush()
    write_zip(path, members, lie={"fc1/W.npy": {"size": 1 << 30, "method": 8, "data": data}})
    message = r"fc1/W: the member declares 1,073,741,824 bytes, its header implies 1,088"
    assert peak_of(lambda: refused(path, message)) < 2 << 20


def test_a_header_claiming_a_larger_array_is_refused_before_it_is_read(real):
    members, path = real
    members["fc1/W.npy"] = npy(np.zeros((48, 5), np.float32)).replace(b"(48, 5)", b"(48, 9)")
    refused(write_zip(path, members), r"fc1/W has shape \(48, 9\), expected \(48, 5\)")


@pytest.mark.parametrize("lie,match", [
    ({"flags": 0x1}, r"the member 'fc2/b\.npy' is encrypted"),
    ({"method": 14}, r"'fc2/b\.npy' uses compression method 14; a checkpoint's members are "
                     r"stored \(0\) or deflated \(8\)"),
    ({"method": 12}, "compression method 12"),
    ({"crc": 0}, r"fc2/b: not a readable checkpoint \(its array: BadZipFile: Bad CRC-32"),
    ({"size": 144}, r"fc2/b: the member declares 144 bytes, its header implies 140"),
    ({"size": 3}, r"fc2/b: not a readable checkpoint \(its array: BadZipFile"),
])
def test_a_forged_member_header_is_refused(real, lie, match):
    members, path = real
    refused(write_zip(path, members, lie={"fc2/b.npy": lie}), match)


def test_members_the_architecture_does_not_name_are_refused(real):
    members, path = real
    refused(write_zip(path, {**members, "extra/W.npy": npy(np.zeros(3, np.float32))}),
            r"unexpected extra/W\.npy")
    refused(write_zip(path, {k: v for k, v in members.items() if k != "fc2/b.npy"}),
            r"missing fc2/b\.npy; unexpected none")
    refused(write_zip(path, {**members, "notes.txt": b"hi"}), r"the member 'notes\.txt' is not")
    del members["__meta__.npy"]
    refused(write_zip(path, members), r"no description \(__meta__\)")


def test_a_plain_npy_named_npz_is_not_an_archive(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(npy(np.zeros(3, np.float32)))
    refused(path, r"m\.npz: not a readable checkpoint \(not an \.npz archive: BadZipFile")


def test_big_endian_float32_loads_as_native_float32_with_equal_values(real, tiny_net):
    members, path = real
    swapped = {k: v if k == "__meta__.npy" else npy(np.load(io.BytesIO(v)).astype(">f4"))
               for k, v in members.items()}
    model, _ = load_model(write_zip(path, swapped))
    reference = tiny_net()
    for (_, key, got), (_, _, want) in zip(model.parameters(), reference.parameters(), strict=True):
        assert got.dtype == np.float32 and got.dtype.isnative and got.flags.writeable, key
        np.testing.assert_array_equal(got, want)
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(model.forward(x), reference.forward(x))


@pytest.mark.parametrize("dtype", ["<f2", "<f8", ">f8", "<i4", "|u1", "<c8"])
def test_arrays_that_are_not_float32_are_refused(real, dtype):
    members, path = real
    members["fc1/W.npy"] = npy(np.load(io.BytesIO(members["fc1/W.npy"])).astype(dtype))
    refused(write_zip(path, members), rf"fc1/W has dtype '{dtype}'; expected float32 \('<f4' or "
                                      r"'>f4'\)")


def test_a_float64_model_is_saved_as_float32(tmp_path, tiny_net):
    model = tiny_net(np.float64)
    loaded, _ = load_model(save_model(model, tmp_path / "m.npz"))
    for (_, _, got), (_, _, want) in zip(loaded.parameters(), model.parameters(), strict=True):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want.astype(np.float32))
