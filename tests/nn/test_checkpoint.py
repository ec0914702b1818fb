"""Pickle-free checkpoints: exact round trip, atomic writes, clear errors on bad files."""

import json
import zipfile

import numpy as np
import pytest

from tinycompress.errors import CheckpointError
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.checkpoint import load_model, save_model
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Flatten
from tinycompress.nn.depthwise import DepthwiseConv2D, PointwiseConv2D
from tinycompress.nn.model import Sequential
from tinycompress.nn.pooling import GlobalAvgPool2D


def test_round_trip_is_exact(tmp_path):
    model = Sequential([Conv2D(1, 4, 3, stride=2, padding=1, bias=False), BatchNorm2D(4),
                        GlobalAvgPool2D(), Flatten()], (1, 9, 9), "tiny")
    model.layer("bn1").buffers["running_mean"][:] = [1, 2, 3, 4]
    path = save_model(model, tmp_path / "m.npz", meta={"note": "x"})
    loaded, meta = load_model(path)
    assert meta == {"note": "x"} and loaded.name == "tiny"
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    for (_, _, a), (_, _, b) in zip(model.parameters(), loaded.parameters(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.layer("bn1").buffers["running_mean"], [1, 2, 3, 4])
    x = np.random.default_rng(0).standard_normal((2, 1, 9, 9)).astype(np.float32)
    np.testing.assert_array_equal(model.forward(x), loaded.forward(x))
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_depthwise_and_pointwise_round_trip(tmp_path, rand):
    rng = np.random.default_rng(0)
    model = Sequential([DepthwiseConv2D(2, 3, 2, 1, rng=rng), PointwiseConv2D(2, 3, rng=rng)],
                       (2, 6, 5))
    x = rand(2, 2, 6, 5).astype(np.float32)
    loaded, _ = load_model(save_model(model, tmp_path / "m.npz"))
    assert [type(lay).__name__ for lay in loaded.layers] == ["DepthwiseConv2D", "PointwiseConv2D"]
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))


def test_loaded_arrays_replace_the_placeholders(tmp_path, tiny_net):
    loaded, _ = load_model(save_model(tiny_net(), tmp_path / "m.npz"))
    for layer, key, value in loaded.parameters():
        assert all(value.strides) and value.flags.writeable, (layer.name, key)  # trainable


def test_archive_holds_no_pickles(tmp_path, tiny_net):
    path = save_model(tiny_net(), tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as archive:
        assert all(archive[k].dtype != object for k in archive.files)


def test_truncated_file(tmp_path, tiny_net):
    path = save_model(tiny_net(), tmp_path / "m.npz")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_model(path)


def test_garbage_and_missing_files(tmp_path):
    (tmp_path / "g.npz").write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "g.npz")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_model(tmp_path / "absent.npz")


def _rewrite(path, mutate):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    mutate(arrays)
    np.savez(path, **arrays)


def test_wrong_shapes_nans_and_versions(tmp_path, tiny_net):
    path = save_model(tiny_net(), tmp_path / "m.npz")

    def bad_shape(a):
        a["fc1/W"] = a["fc1/W"][:10]
    _rewrite(path, bad_shape)
    with pytest.raises(CheckpointError, match=r"m\.npz: fc1/W has shape \(10, 5\), expected \(48,"):
        load_model(path)

    save_model(tiny_net(), path)

    def nan(a):
        a["fc2/b"] = a["fc2/b"] * np.nan
    _rewrite(path, nan)
    with pytest.raises(CheckpointError, match="NaN"):
        load_model(path)

    save_model(tiny_net(), path)

    def version(a):
        doc = json.loads(a["__meta__"].tobytes())
        doc["version"] = 99
        a["__meta__"] = np.frombuffer(json.dumps(doc).encode(), np.uint8)
    _rewrite(path, version)
    with pytest.raises(CheckpointError, match=r"__meta__\.version is 99; expected one of 1"):
        load_model(path)


def test_bit_flip_inside_archive_is_caught(tmp_path, tiny_net):
    path = save_model(tiny_net(), tmp_path / "m.npz")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises((CheckpointError, zipfile.BadZipFile)) as info:
        load_model(path)
    assert info.type is CheckpointError


def test_text_file_is_not_called_a_pickle(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("hello")
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    assert "pickle" not in str(info.value) and "not an .npz archive" in str(info.value)
