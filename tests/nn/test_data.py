"""IDX reading, checksums, clear errors, other folders, augmentation."""

import gzip
import shutil

import numpy as np
import pytest

from tinycompress.errors import DataError
from tinycompress.nn import data


def test_shipped_mnist_loads_and_verifies():
    test = data.load_split("test")
    assert test.images.shape == (10_000, 28, 28) and test.images.dtype == np.uint8
    assert test.labels.shape == (10_000,) and test.num_classes == 10
    assert test.sha256["t10k-images-idx3-ubyte"] == data.MNIST_SHA256["t10k-images-idx3-ubyte"]


@pytest.mark.parametrize("compress", [True, False])
def test_other_folder_any_size_and_classes(tmp_path, compress, make_dataset):
    folder = make_dataset(tmp_path / "other", compress=compress)
    split = data.load_split("train", folder)
    assert split.images.shape == (12, 6, 7) and split.num_classes == 3
    assert len(split.sha256) == 2  # reported, not enforced
    X, y = data.load_arrays("test", folder)
    assert X.shape == (5, 1, 6, 7) and X.dtype == np.float32


def test_missing_file_names_the_file(tmp_path, make_dataset):
    folder = make_dataset(tmp_path / "d")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.*--data"):
        data.load_split("test", folder)


def test_truncated_and_corrupt_files(tmp_path, make_dataset):
    folder = make_dataset(tmp_path / "d", compress=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(DataError, match="truncated"):
        data.load_split("train", folder)
    path.write_bytes(b"\x12\x34\x08\x03" + b"\0" * 20)
    with pytest.raises(DataError, match="magic"):
        data.load_split("train", folder)
    gz = make_dataset(tmp_path / "g") / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:30])
    with pytest.raises(DataError, match="decompress"):
        data.load_split("train", tmp_path / "g")


def test_corrupt_shipped_mnist_fails_checksum(tmp_path, monkeypatch):
    root = tmp_path / "root"
    shutil.copytree(data.mnist_dir(), root / "mnist")
    labels = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[100] ^= 1  # one flipped bit: still a valid IDX file, wrong checksum
    labels.write_bytes(gzip.compress(bytes(raw)))
    monkeypatch.setenv("TINYCOMPRESS_DATA", str(root))
    assert data.mnist_dir() == root / "mnist"
    with pytest.raises(DataError, match="SHA-256"):
        data.load_split("test")


def test_random_shift_is_seeded_and_moves_content():
    x = np.zeros((3, 1, 6, 6), np.float32)
    x[:, 0, 2:4, 2:4] = 1.0
    a = data.random_shift(x, 2, np.random.default_rng(0))
    b = data.random_shift(x, 2, np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and (a.sum(axis=(1, 2, 3)) == 4).all()  # nothing cut off at +-2
    assert any(not np.array_equal(a[i], x[i]) for i in range(3))
