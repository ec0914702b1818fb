"""IDX reading, checksums, clear errors, other folders, the validation split, normalisation,
augmentation; forged IDX headers and .gz bombs refused before their payload is read."""

import gzip
import shutil

import numpy as np
import pytest

from tinycompress.errors import CheckpointError, DataError, UsageError
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
    assert split.images.shape == (11, 6, 7) and split.num_classes == 3  # 1 of 12 held out
    assert len(split.sha256) == 2  # reported, not enforced
    assert data.load_split("validation", folder).images.shape == (1, 6, 7)
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


def idx(code, dims, payload=b""):
    """IDX bytes: the magic (type ``code``), the big-endian sizes, then ``payload``."""
    return bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) + payload


@pytest.mark.parametrize("buf,match", [
    (idx(0x08, (1 << 16,) * 4), r"declares \(65536, 65536, 65536, 65536\) of uint8, "
                                r"18,446,744,073,709,551,616 bytes, over the limit"),  # wraps to 0
    (idx(0x0C, (1 << 30,)), r"4,294,967,296 bytes, over the limit of 1,073,741,824"),
    (idx(0x08, (3, 0, 2)), r"the IDX header declares the sizes \(3, 0, 2\); each must be >= 1"),
    (idx(0x08, ()), r"declares 0 dimensions; expected 1\.\.8"),
    (idx(0x08, (1,) * 9, b"x"), r"declares 9 dimensions"),
    (idx(0x07, (3,), b"abc"), r"bad magic number 00000701; the third byte is the type code: "
                              r"0x08 \(uint8\)"),
    (idx(0x08, (3,), b"abcd"), r"declares 3 bytes of data but more follow \(trailing bytes\)"),
    (idx(0x08, (3,), b"ab"), r"declares 3 bytes of data but only 2 follow; it is truncated"),
    (idx(0x08, (3, 4))[:9], r"IDX header truncated"),
])
def test_forged_idx_headers_are_refused(buf, match):
    with pytest.raises(DataError, match=match):
        data.parse_idx(buf, "x")


def test_idx_arrays_come_back_in_native_byte_order():
    values = np.array([[1, -2], [300, 4]], ">i2")
    arr = data.parse_idx(idx(0x0B, (2, 2), values.tobytes()))
    assert arr.dtype == np.int16 and arr.dtype.isnative
    np.testing.assert_array_equal(arr, values)


@pytest.mark.parametrize("compress", [True, False])
def test_a_file_is_read_no_further_than_its_header_says(tmp_path, compress, peak_of):
    """A .gz bomb (or a raw file) whose header declares 12 bytes, then 64 MiB more: refused
    after reading 13 bytes of payload, so memory stays small."""
    raw = idx(0x08, (3, 2, 2), bytes(12 + (64 << 20)))
    path = tmp_path / ("f.gz" if compress else "f")
    path.write_bytes(gzip.compress(raw, 1) if compress else raw)

    def read():
        with pytest.raises(DataError, match="trailing bytes"):
            data.read_idx(path)
    assert peak_of(read) < 1 << 20


def test_a_header_over_the_limit_is_refused_before_the_payload(tmp_path, peak_of):
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(idx(0x08, (1 << 16, 1 << 15), bytes(32 << 20)), 1))

    def read():
        with pytest.raises(DataError, match="over the limit of 1,073,741,824"):
            data.read_idx(path)
    assert peak_of(read) < 1 << 20


@pytest.mark.parametrize("kind,array,match", [
    ("images", np.zeros((12, 6, 7), ">f4"), r"images are float32; expected bytes \(IDX type 0x08"),
    ("images", np.zeros((12, 42), np.uint8), r"expected a 3-D IDX array, got shape \(12, 42\)"),
    ("labels", np.full(12, -1, np.int8), r"labels must be integers in 0\.\.65535; got int8 in -1"),
    ("labels", np.full(12, 1 << 20, ">i4"), r"labels must be integers .* got int32 in 1048576"),
    ("labels", np.zeros(12, ">f8"), r"labels must be integers .* got float64"),
])
def test_split_arrays_of_the_wrong_kind_are_refused(tmp_path, make_dataset, kind, array, match):
    folder = make_dataset(tmp_path / "d", compress=False)
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i4"): 0x0C,
            np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}[array.dtype]
    stem = "train-images-idx3-ubyte" if kind == "images" else "train-labels-idx1-ubyte"
    (folder / stem).write_bytes(idx(code, array.shape, array.tobytes()))
    with pytest.raises(DataError, match=match):
        data.load_split("train", folder)


def test_an_unknown_split_is_a_usage_error():
    with pytest.raises(UsageError, match=r"\['test', 'train', 'validation'\], got 'valid'"):
        data.load_split("valid")


@pytest.mark.parametrize("value,match", [
    ({"mean": 0.1, "std": 0.0}, r"normalization\.std is 0\.0; expected a finite number in "
                                r"\[1\.17549e-38, 3\.40282e\+38\]"),
    ({"mean": 0.1, "std": -1}, r"std is -1"),
    ({"mean": float("nan"), "std": 1}, r"mean is nan"),
    ({"mean": 1e39, "std": 1}, r"mean is 1e\+39"),  # finite, but not in float32
    ({"mean": True, "std": 1}, r"mean is True"),
    ({"mean": "0", "std": 1}, r"mean is '0'"),
    ({"mean": 0.1}, r"normalization lacks the key 'std'"),
    ({"mean": 0.1, "std": 1, "var": 1}, r"normalization has the unknown key 'var'"),
    ([0.1, 0.3], r"normalization is \[0\.1, 0\.3\]; expected an object"),
])
def test_a_recorded_normalization_is_checked_field_by_field(value, match):
    with pytest.raises(DataError, match=match):
        data.Normalization.from_json(value)
    with pytest.raises(CheckpointError, match="^m.npz: meta.normalization"):
        data.Normalization.from_json(value, CheckpointError, "m.npz: meta.normalization")


def test_constant_images_have_no_normalization():
    with pytest.raises(DataError, match="empty or constant"):
        data.Normalization.fit(np.full((3, 4, 4), 7, np.uint8))


def test_normalization_of_reads_the_record_or_fits_when_there_is_none(make_dataset, tmp_path):
    assert data.normalization_of({"normalization": {"mean": 0.5, "std": 2}}) == \
        data.Normalization(0.5, 2.0)
    folder = make_dataset(tmp_path / "d")
    fitted = data.Normalization.fit(data.load_split("train", folder).images)
    assert data.normalization_of({"normalization": None}, folder) == fitted
    assert data.normalization_of({}, folder) == fitted


def test_the_shipped_training_file_splits_into_55000_and_5000():
    train, val = data.load_split("train"), data.load_split("validation")
    assert len(train.labels) == 55_000 and len(val.labels) == 5_000
    assert data.VALIDATION.to_json(60_000) == {"n": 5000, "seed": 0}
    assert train.sha256 == val.sha256  # the same file
    assert set(np.unique(val.labels)) == set(range(10))  # a random part: every class


@pytest.mark.parametrize("total,size", [(60_000, 5000), (50_001, 5000), (12, 1), (9, 0), (0, 0)])
def test_holdout_sizes_are_n_or_a_tenth(total, size):
    assert data.Holdout(5000, 0).size(total) == size
    train, val = data.Holdout(5000, 0).indices(total)
    assert len(val) == size and len(train) == total - size
    assert data.Holdout(5000, 3).to_json(total) == {"n": size, "seed": 3}
    assert data.Holdout(0, 0).size(total) == 0


def test_holdout_indices_are_disjoint_sorted_complete_and_seeded():
    h = data.Holdout(n=30, seed=7)
    train, val = h.indices(1000)
    assert len(val) == 30 and np.intersect1d(train, val).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(1000))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    again = data.Holdout(n=30, seed=7).indices(1000)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], val)
    assert not np.array_equal(data.Holdout(n=30, seed=8).indices(1000)[1], val)
    assert not np.array_equal(val, np.arange(30))  # a random part, not the first images


def test_train_and_validation_together_are_the_training_file(tmp_path, make_dataset):
    folder = make_dataset(tmp_path / "d", n_train=50, compress=False)
    train, val = data.load_split("train", folder), data.load_split("validation", folder)
    whole = data.parse_idx((folder / "train-images-idx3-ubyte").read_bytes())
    labels = data.parse_idx((folder / "train-labels-idx1-ubyte").read_bytes())
    i_train, i_val = data.VALIDATION.indices(50)
    assert len(val.labels) == 5 and len(train.labels) == 45
    np.testing.assert_array_equal(train.images, whole[i_train])
    np.testing.assert_array_equal(val.images, whole[i_val])
    np.testing.assert_array_equal(train.labels, labels[i_train])
    np.testing.assert_array_equal(val.labels, labels[i_val])
    other = data.load_split("validation", folder, data.Holdout(n=2, seed=1))
    np.testing.assert_array_equal(other.images, whole[data.Holdout(n=2, seed=1).indices(50)[1]])
    X, _ = data.load_arrays("validation", folder)  # normalised by "train"'s statistics alone
    norm = data.Normalization.fit(whole[i_train])
    assert norm != data.Normalization.fit(whole)
    np.testing.assert_allclose(X, norm(whole[i_val]))


def test_a_training_file_too_small_for_a_validation_split_is_refused(tmp_path, make_dataset):
    folder = make_dataset(tmp_path / "d", n_train=9)
    with pytest.raises(DataError, match="9 training images leave no validation split; it "
                                        "needs at least 10"):
        data.load_split("validation", folder)
    assert len(data.load_split("train", folder).labels) == 9  # nothing held out
    assert len(data.load_split("validation", make_dataset(tmp_path / "e", n_train=10)).labels) == 1


def test_load_splits_are_the_three_disjoint_splits(tmp_path, make_dataset) -> None:
    folder = make_dataset(tmp_path / "d", n_train=40, n_test=7)
    norm = data.Normalization.fit(data.load_split("train", folder).images)
    s = data.load_splits(norm, folder)
    assert (len(s.y), len(s.y_val), len(s.y_test)) == (36, 4, 7)
    assert s.validation == {"n": 4, "seed": 0}
    for split, X, y in (("train", s.X, s.y), ("validation", s.X_val, s.y_val),
                        ("test", s.X_test, s.y_test)):
        raw = data.load_split(split, folder)
        np.testing.assert_array_equal(X, norm(raw.images))
        np.testing.assert_array_equal(y, raw.labels)
    train_rows = {x.tobytes() for x in s.X}
    assert train_rows.isdisjoint(x.tobytes() for x in s.X_val)
    quick = s.head(30, 2, 5)
    assert (len(quick.y), len(quick.y_val), len(quick.y_test)) == (30, 2, 5)
    assert quick.validation == {"n": 2, "seed": 0}
    np.testing.assert_array_equal(quick.X_val, s.X_val[:2])
