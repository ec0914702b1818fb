"""MNIST (or any dataset in MNIST's IDX layout): reading, checking, normalising, batching.

The IDX format (LeCun et al.) is a big-endian header -- two zero bytes, a type code, the number
of dimensions, then one 32-bit size per dimension -- followed by the raw array. The four MNIST
files ship with the project under ``data/mnist`` and are verified by SHA-256 of their
decompressed bytes; another folder with the same file names is read the same way and its
checksums are reported, not enforced.

Where data lives: ``$TINYCOMPRESS_DATA`` if set, else the ``data/`` folder beside the package.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


SPLIT_PREFIX = {"train": "train", "test": "t10k"}


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def data_dir() -> Path:
    """Root of the project's data: ``$TINYCOMPRESS_DATA`` or ``<repo>/data`` beside the package."""
    env = os.environ.get("TINYCOMPRESS_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data"


def mnist_dir() -> Path:
    """The shipped MNIST folder."""
    return data_dir() / "mnist"


def _read_bytes(folder: Path, stem: str) -> tuple[bytes, Path]:
    """The decompressed bytes of ``stem`` or ``stem.gz`` in ``folder``."""
    for path in (folder / f"{stem}.gz", folder / stem):
        if path.is_file():
            try:
                raw = path.read_bytes()
                return (gzip.decompress(raw) if path.suffix == ".gz" else raw), path
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise DataError(
                    f"{path}: cannot decompress ({exc}); the file is truncated or corrupt: "
                    "replace it with a fresh copy"
                ) from exc
    raise DataError(
        f"missing data file {stem}(.gz) in {folder}; put the IDX files there or point "
        "--data / $TINYCOMPRESS_DATA at the folder that holds them"
    )


def parse_idx(buf: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode one IDX file's bytes into an array, checking the header against the length."""
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0 or buf[2] not in _IDX_DTYPES:
        raise DataError(f"{source}: not an IDX file (bad magic number {buf[:4].hex()})")
    ndim = buf[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(buf) < header:
        raise DataError(f"{source}: IDX header truncated")
    dims = tuple(int.from_bytes(buf[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[buf[2]])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(buf) != expected:
        raise DataError(
            f"{source}: header says {dims} of {dtype} ({expected} bytes) but the file has "
            f"{len(buf)} bytes; it is truncated or corrupt: replace it"
        )
    return np.frombuffer(buf, dtype=dtype, offset=header).reshape(dims)


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


def load_split(split: str, folder: str | Path | None = None) -> Split:
    """Read ``train`` or ``test`` images and labels from ``folder`` (default: the shipped MNIST).

    The SHA-256 of each decompressed file is computed; for the shipped MNIST folder a mismatch is
    a :class:`DataError`, for any other folder the digests are only reported in ``Split.sha256``.
    """
    if split not in SPLIT_PREFIX:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
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
                f"{path}: SHA-256 {digest[:16]}... does not match the MNIST file "
                f"({MNIST_SHA256[stem][:16]}...); it is corrupt: restore it with "
                "`git checkout -- data/mnist`"
            )
        arr = parse_idx(buf, str(path))
        if arr.ndim != ndim:
            raise DataError(f"{path}: expected a {ndim}-D IDX array, got shape {arr.shape}")
        arrays.append(arr)
    images, labels = arrays
    if len(images) != len(labels):
        raise DataError(f"{folder}: {len(images)} {split} images but {len(labels)} labels")
    return Split(images, labels.astype(np.int64), folder, digests)


@dataclass(frozen=True)
class Normalization:
    """Pixels are scaled to [0, 1], then standardised: ``x = (pixel/255 - mean) / std``."""

    mean: float
    std: float

    @classmethod
    def fit(cls, images: np.ndarray) -> Normalization:
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

    A model whose meta records none (say, a freshly built one) gets statistics fitted on the
    training images of ``folder`` (default: the shipped MNIST).
    """
    if "normalization" in meta:
        return Normalization(**meta["normalization"])
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
