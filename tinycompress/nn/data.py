"""MNIST (or any dataset in MNIST's IDX layout): reading, checking, normalising, batching.

The IDX format (LeCun et al.) is a big-endian header -- two zero bytes, a type code, the number
of dimensions, then one 32-bit size per dimension -- followed by the raw array. The four MNIST
files ship with the project under ``data/mnist`` and are verified by SHA-256 of their
decompressed bytes; another folder with the same file names is read the same way and its
checksums are reported, not enforced.

A file is read header first (:func:`read_idx`), decompressed piece by piece if it is ``.gz``:
its type code must be one of :data:`IDX_DTYPES`, its 1 to :data:`MAX_IDX_DIMS` sizes positive,
their product (in Python integers, which never wrap) at most :data:`MAX_IDX_BYTES`, and the
payload exactly that long (no byte missing, none trailing), so no header and no ``.gz`` bomb
makes the reader inflate or allocate more than the array the header declares. Images must be
bytes (type ``0x08``), labels integers in ``0..``:data:`MAX_CLASSES` - 1.

**Three splits.** Every choice the project makes (when to stop pruning, how many bits, which
learning rate) is made on a *validation* split: :data:`VALIDATION` holds out a seeded random
part of the training file (5,000 images, or a tenth of a smaller training set), and ``"train"``
is the rest. Nothing trains on the validation images, and the test file is read only for the
numbers a reader is shown, once every choice is made.

Where data lives: ``$TINYCOMPRESS_DATA`` if set, else the ``data/`` folder beside the package.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, UsageError, shown
from .schema import ErrorClass, Field, Real, check_object, plain

MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


SPLIT_PREFIX = {"train": "train", "validation": "train", "test": "t10k"}
"""Each split's IDX file stem: the validation split is held out of the training file."""


IDX_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
"""The IDX type codes and the (big-endian) dtypes they stand for; no other code is read."""

MAX_IDX_BYTES = 1 << 30
"""The largest IDX payload read, decompressed: 1 GiB (MNIST's training images take 47 MB)."""

MAX_IDX_DIMS = 8
"""The most dimensions an IDX header may declare (MNIST's images have 3)."""

MAX_CLASSES = 1 << 16
"""Labels must lie in ``0..MAX_CLASSES - 1``."""


def data_dir() -> Path:
    """Root of the project's data: ``$TINYCOMPRESS_DATA`` or ``<repo>/data`` beside the package."""
    env = os.environ.get("TINYCOMPRESS_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data"


def mnist_dir() -> Path:
    """The shipped MNIST folder."""
    return data_dir() / "mnist"


def _read_bytes(folder: Path, stem: str) -> tuple[bytes, Path]:
    """The decompressed bytes of ``stem`` or ``stem.gz`` in ``folder`` (:func:`read_idx`)."""
    for path in (folder / f"{stem}.gz", folder / stem):
        if path.is_file():
            return read_idx(path), path
    raise DataError(
        f"missing data file {stem}(.gz) in {plain(folder)}; put the IDX files there or point "
        "--data / $TINYCOMPRESS_DATA at the folder that holds them"
    )


def read_idx(path: str | Path) -> bytes:
    """The (decompressed) bytes of one IDX file, read header first.

    The payload is read only once the header is known good, and only as many bytes as it
    declares plus one (which must not exist), so neither a lying header nor a ``.gz`` bomb
    makes this read, inflate or allocate more than the declared array.
    """
    path = Path(path)
    source = plain(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            _idx_type(head, source)
            head += f.read(4 * head[3])
            _, _, size = _idx_header(head, source)
            payload = f.read(size + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{source}: cannot decompress ({plain(exc, 120)}); the file is truncated or corrupt: "
            "replace it with a fresh copy"
        ) from exc
    _check_length(len(payload), size, source)
    return head + payload


def _idx_type(buf: bytes, source: str) -> np.dtype:
    """The dtype of an IDX header's magic number (its first four bytes)."""
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0 or buf[2] not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X} ({dt.name})" for code, dt in IDX_DTYPES.items())
        raise DataError(f"{source}: not an IDX file (bad magic number {buf[:4].hex()}; the "
                        f"third byte is the type code: {known})")
    if not 1 <= buf[3] <= MAX_IDX_DIMS:
        raise DataError(f"{source}: the IDX header declares {buf[3]} dimensions; expected "
                        f"1..{MAX_IDX_DIMS}")
    return IDX_DTYPES[buf[2]]


def _idx_header(buf: bytes, source: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """``(dtype, dims, payload bytes)`` of the IDX header at the start of ``buf``, checked."""
    dtype = _idx_type(buf, source)
    ndim = buf[3]
    if len(buf) < 4 + 4 * ndim:
        raise DataError(f"{source}: IDX header truncated")
    dims = tuple(int.from_bytes(buf[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if 0 in dims:
        raise DataError(f"{source}: the IDX header declares the sizes {dims}; each must be >= 1")
    size = math.prod(dims) * dtype.itemsize  # Python integers: no wrap-around
    if size > MAX_IDX_BYTES:
        raise DataError(f"{source}: the IDX header declares {dims} of {dtype.name}, {size:,} "
                        f"bytes, over the limit of {MAX_IDX_BYTES:,}")
    return dtype, dims, size


def _check_length(got: int, size: int, source: str) -> None:
    """Refuse a payload of ``got`` bytes where the header declares ``size``."""
    if got < size:
        raise DataError(f"{source}: the header declares {size:,} bytes of data but only "
                        f"{got:,} follow; it is truncated or corrupt: replace it")
    if got > size:
        raise DataError(f"{source}: the header declares {size:,} bytes of data but more "
                        "follow (trailing bytes); it is corrupt: replace it")


def parse_idx(buf: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode one IDX file's bytes into a native-order array, checking the header against the
    length (see the module docstring)."""
    dtype, dims, size = _idx_header(buf, source)
    header = 4 + 4 * len(dims)
    _check_length(len(buf) - header, size, source)
    array = np.frombuffer(buf, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)


@dataclass(frozen=True)
class Holdout:
    """The validation split: ``n`` training images chosen by a seeded permutation.

    ``size(total)`` is ``min(n, total // 10)``, so a small dataset keeps nine tenths for
    training; ``n = 0`` holds nothing out (``"train"`` is then the whole training file).
    """

    n: int = 5000
    seed: int = 0

    def size(self, total: int) -> int:
        return min(self.n, total // 10)

    def indices(self, total: int) -> tuple[np.ndarray, np.ndarray]:
        """Sorted indices ``(train, validation)`` into a training file of ``total`` images."""
        order = np.random.default_rng(self.seed).permutation(total)
        k = self.size(total)
        return np.sort(order[k:]), np.sort(order[:k])

    def to_json(self, total: int) -> dict[str, int]:
        return {"n": self.size(total), "seed": self.seed}


VALIDATION = Holdout()
"""The project's validation split of every training file (recorded in every report)."""


@dataclass
class Split:
    """One split of a dataset: raw images (N, H, W) uint8 and labels (N,) int64."""

    images: np.ndarray
    labels: np.ndarray
    source: Path
    sha256: dict[str, str] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0


def load_split(split: str, folder: str | Path | None = None,
               holdout: Holdout = VALIDATION) -> Split:
    """Read ``train``, ``validation`` or ``test`` images and labels from ``folder`` (default: the
    shipped MNIST). ``validation`` is ``holdout``'s part of the training file, ``train`` the rest.

    The SHA-256 of each decompressed file is computed; for the shipped MNIST folder a mismatch is
    a :class:`DataError`, for any other folder the digests are only reported in ``Split.sha256``.
    """
    if split not in SPLIT_PREFIX:
        raise UsageError(f"split must be one of {sorted(SPLIT_PREFIX)}, got {shown(split)}")
    folder = Path(folder) if folder is not None else mnist_dir()
    enforce = folder.resolve() == mnist_dir().resolve()
    arrays, digests = [], {}
    for kind, ndim in (("images", 3), ("labels", 1)):
        stem = f"{SPLIT_PREFIX[split]}-{kind}-idx{ndim}-ubyte"
        buf, path = _read_bytes(folder, stem)
        digest = hashlib.sha256(buf).hexdigest()
        digests[stem] = digest
        if enforce and digest != MNIST_SHA256[stem]:
            raise DataError(
                f"{plain(path)}: SHA-256 {digest[:16]}... does not match the MNIST file "
                f"({MNIST_SHA256[stem][:16]}...); it is corrupt: restore it with "
                "`git checkout -- data/mnist`"
            )
        arrays.append(_check_split_array(parse_idx(buf, plain(path)), kind, ndim, plain(path)))
    images, labels = arrays
    if len(images) != len(labels):
        raise DataError(f"{plain(folder)}: {len(images)} {split} images but {len(labels)} labels")
    if split != "test":
        part = holdout.indices(len(images))[split == "validation"]
        if not len(part):
            raise DataError(f"{plain(folder)}: {len(images)} training images leave no "
                            f"{split} split; it needs at least 10")
        images, labels = images[part], labels[part]
    return Split(images, labels.astype(np.int64), folder, digests)


def _check_split_array(arr: np.ndarray, kind: str, ndim: int, source: str) -> np.ndarray:
    """Images: ``ndim``-D bytes; labels: ``ndim``-D integers in ``0..MAX_CLASSES - 1``."""
    if arr.ndim != ndim:
        raise DataError(f"{source}: expected a {ndim}-D IDX array, got shape {arr.shape}")
    if kind == "images" and arr.dtype != np.uint8:
        raise DataError(f"{source}: images are {arr.dtype}; expected bytes (IDX type 0x08)")
    if kind == "labels" and (arr.dtype.kind not in "iu" or arr.min() < 0
                             or arr.max() >= MAX_CLASSES):
        raise DataError(f"{source}: labels must be integers in 0..{MAX_CLASSES - 1}; got "
                        f"{arr.dtype} in {arr.min()}..{arr.max()}")
    return arr


_F32_MAX, _F32_TINY = float(np.finfo(np.float32).max), float(np.finfo(np.float32).tiny)
_NORMALIZATION: dict[str, Field] = {"mean": Real(-_F32_MAX, _F32_MAX),
                                    "std": Real(_F32_TINY, _F32_MAX)}
"""Both statistics are applied in float32: they must be finite there, and ``std`` positive."""


@dataclass(frozen=True)
class Normalization:
    """Pixels are scaled to [0, 1], then standardised: ``x = (pixel/255 - mean) / std``.

    ``mean`` and ``std`` are numbers finite in float32, and ``std > 0`` (:class:`DataError`
    otherwise).
    """

    mean: float
    std: float

    def __post_init__(self) -> None:
        check_object(self.to_json(), _NORMALIZATION, "normalization", DataError)

    @classmethod
    def from_json(cls, value: Any, error: ErrorClass = DataError,
                  where: str = "normalization") -> Normalization:
        """The normalisation a file records (``{"mean": m, "std": s}``), every field checked;
        a bad one raises ``error``, the reading format's, naming the field from ``where``."""
        return cls(**check_object(value, _NORMALIZATION, where, error, required=_NORMALIZATION))

    @classmethod
    def fit(cls, images: np.ndarray) -> Normalization:
        """The mean and standard deviation of ``images``' pixels (not all equal) in [0, 1]."""
        if images.size == 0 or images.min() == images.max():
            raise DataError("the training images are empty or constant: there is no standard "
                            "deviation to normalise by")
        x = images.astype(np.float64) / 255.0
        return cls(float(x.mean()), float(x.std()))

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """uint8 (N, H, W) -> float32 (N, 1, H, W)."""
        x = images.astype(np.float32)[:, None] / np.float32(255.0)
        return (x - np.float32(self.mean)) / np.float32(self.std)

    def to_json(self) -> dict[str, float]:
        return {"mean": self.mean, "std": self.std}


def normalization_of(meta: dict[str, Any], folder: str | Path | None = None) -> Normalization:
    """The input normalisation a model was trained with, from its checkpoint's ``meta``.

    A model whose meta records none (say, a freshly built one; or ``null``) gets statistics
    fitted on the training images of ``folder`` (default: the shipped MNIST).
    """
    if meta.get("normalization") is not None:
        return Normalization.from_json(meta["normalization"])
    return Normalization.fit(load_split("train", folder).images)


def load_arrays(
    split: str, folder: str | Path | None = None, norm: Normalization | None = None,
    limit: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised float32 images (N, 1, H, W) and int64 labels (N,), optionally the first ``limit``.

    ``norm`` defaults to statistics fitted on the training images of the same folder.
    """
    data = load_split(split, folder)
    if norm is None:
        norm = Normalization.fit(load_split("train", folder).images)
    images, labels = data.images, data.labels
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return norm(images), labels


@dataclass(frozen=True)
class Splits:
    """A dataset's three splits, normalised: train on ``X, y``, choose on ``X_val, y_val``,
    report on ``X_test, y_test``. ``validation`` is the record of the held-out split,
    ``{"n", "seed"}``, that every results file carries."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    validation: dict[str, int]

    def head(self, n_train: int, n_val: int, n_test: int) -> Splits:
        """The first images of each split (a quick run); ``validation`` counts what is kept."""
        return Splits(self.X[:n_train], self.y[:n_train], self.X_val[:n_val],
                      self.y_val[:n_val], self.X_test[:n_test], self.y_test[:n_test],
                      {**self.validation, "n": len(self.y_val[:n_val])})


def load_splits(norm: Normalization, folder: str | Path | None = None) -> Splits:
    """The ``"train"``, ``"validation"`` and ``"test"`` arrays of ``folder`` (default: the
    shipped MNIST), normalised by ``norm``, with the validation split's record.

    Parameters
    ----------
    norm : the input normalisation of the model the splits are fed to.
    folder : a dataset in MNIST's IDX layout.

    Returns
    -------
    The :class:`Splits`; ``validation`` is
    ``VALIDATION.to_json(total)``, ``total`` the number of images in the training file.
    """
    X, y = load_arrays("train", folder, norm)
    X_val, y_val = load_arrays("validation", folder, norm)
    X_test, y_test = load_arrays("test", folder, norm)
    return Splits(X, y, X_val, y_val, X_test, y_test, VALIDATION.to_json(len(y) + len(y_val)))


def random_shift(x: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Translate each image by an independent integer offset in [-max_shift, max_shift]^2.

    Vacated pixels take the batch's minimum (the background value after standardisation).
    Shapes: (N, C, H, W) -> (N, C, H, W).
    """
    if max_shift <= 0:
        return x
    N, _, H, W = x.shape
    s = max_shift
    padded = np.pad(x, ((0, 0), (0, 0), (s, s), (s, s)), constant_values=x.min())
    views = np.lib.stride_tricks.sliding_window_view(padded, (H, W), axis=(2, 3))
    dy, dx = rng.integers(0, 2 * s + 1, size=(2, N))
    return views[np.arange(N), :, dy, dx]  # (N, C, H, W)
