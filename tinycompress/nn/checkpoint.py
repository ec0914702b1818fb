"""Pickle-free checkpoints: one ``.npz`` file holding the arrays and a JSON description.

Layout of the archive (a zip file, each member an ``.npy`` array, stored or deflated):

- ``__meta__``: a uint8 array with UTF-8 JSON ``{"format": "tinycompress-checkpoint",
  "version": 1, "model": {"name", "input_shape", "layers": [{"type", "config"}, ...]},
  "meta": {...}}``; ``meta`` is free-form (training recipe, accuracy, normalisation), except
  for the fields the library reads back: ``normalization``
  (:meth:`~.data.Normalization.from_json`; ``null`` means none) and ``recipe`` (the fields of
  :class:`~.train.Recipe`, typed as there).
- ``<layer>/<param>`` for every parameter and buffer (e.g. ``conv1/W``, ``bn1/running_mean``),
  float32.

The description and the array names are those of :mod:`.architecture`. Loading reads the zip
directory, then the description (at most :data:`MAX_DESCRIPTION` bytes), and rebuilds the model
with :func:`~.architecture.build_from_architecture`, whose every field is checked and whose
layers hold shape-only placeholder weights (nothing drawn at random, no weight memory). Only
then are the arrays read, each member's declared size first compared with the size its
header and the rebuilt layer imply (so a member that would inflate past its tensor is refused
before a byte of it is read), its dtype the engine's float32
(:func:`~.architecture.engine_array`: either byte order, read as native), its values finite.
A member the architecture does not name, an encrypted member or an unknown compression method
is refused.

Writes are atomic (:func:`~tinycompress.files.atomic_write`): an interrupted save never leaves
a half-written checkpoint.
"""

from __future__ import annotations

import json
import math
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import CheckpointError, shown
from ..files import atomic_write
from .architecture import (
    ENGINE_DTYPE,
    MAX_DIMENSION,
    MAX_LAYERS,
    MAX_PARAMETERS,
    architecture,
    build_from_architecture,
    check_dtype,
    engine_array,
    state_arrays,
)
from .base import Shape
from .data import Normalization
from .model import Sequential
from .schema import Anything, Field, Int, OneOf, Real, check_object, parse_json, plain, refuse

FORMAT = "tinycompress-checkpoint"
VERSION = 1

MAX_DESCRIPTION = 1 << 24
"""The largest JSON description (``__meta__``) a checkpoint may hold, in bytes."""

_META_MEMBER = "__meta__.npy"
_CHUNK = 1 << 20  # members are read in pieces of 1 MiB into the array's own buffer
_DOC: dict[str, Field] = {"format": OneOf((FORMAT,)), "version": OneOf((VERSION,)),
                          "model": Anything(), "meta": Anything()}
RECIPE_FIELDS: dict[str, Field] = {
    "epochs": Int(1, 1 << 20), "batch_size": Int(1, 1 << 31),
    "lr": Real(0, math.inf, lo_open=True), "momentum": Real(0, 1),
    "weight_decay": Real(0, math.inf), "shift": Int(0, MAX_DIMENSION),
}
"""The types of a recorded training recipe (:class:`~.train.Recipe`); ``lr`` is read back."""


def save_model(model: Sequential, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (and JSON-able ``meta``) to ``path`` atomically; returns the path.

    Every array is stored as the engine's float32, the one dtype :func:`load_model` reads: a
    float64 model (a gradient check's) is rounded to it.
    """
    doc = {"format": FORMAT, "version": VERSION, "model": architecture(model), "meta": meta or {}}
    blob = np.frombuffer(json.dumps(doc).encode("utf-8"), dtype=np.uint8)
    arrays = {key: np.asarray(value, dtype=ENGINE_DTYPE)
              for key, value in state_arrays(model).items()}
    atomic_write(path, lambda f: np.savez(f, __meta__=blob, **arrays))
    return Path(path)


def load_model(path: str | Path, max_parameters: int = MAX_PARAMETERS
               ) -> tuple[Sequential, dict[str, Any]]:
    """Read a checkpoint written by :func:`save_model`. Returns ``(model, meta)``.

    Parameters
    ----------
    path : the ``.npz`` file.
    max_parameters : the most parameter and buffer values the model may have
        (:data:`~.architecture.MAX_PARAMETERS` unless raised to read a larger model).

    Raises
    ------
    CheckpointError
        If the file is missing, not a zip archive, truncated or corrupt, or any field of its
        description, any member or any array breaks the rules of the module docstring; one
        line naming the file and the field.
    """
    where = plain(path)
    if not Path(path).is_file():
        raise CheckpointError(f"no checkpoint at {where}")
    with _reading(where, "not an .npz archive"):
        archive = zipfile.ZipFile(path)
    with archive:
        members = _members(archive, where)
        doc = _description(archive, members.pop(_META_MEMBER, None), where)
        model = build_from_architecture(doc["model"], CheckpointError,
                                        where=f"{where}: __meta__.model",
                                        max_parameters=max_parameters)
        meta = _check_meta(doc.get("meta", {}), f"{where}: __meta__.meta")
        _same_members(members, {f"{key}.npy" for key in state_arrays(model)}, where)
        for layer in model.layers:
            for store in (layer.params, layer.buffers):
                for key, ref in store.items():
                    name = f"{layer.name}/{key}"
                    store[key] = _read_tensor(archive, members[f"{name}.npy"], ref.shape,
                                              f"{where}: {name}")
    return model, meta


@contextmanager
def _reading(where: str, what: str) -> Iterator[None]:
    """Turn whatever the zip and ``.npy`` readers raise on a damaged file into one line."""
    try:
        yield
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        raise CheckpointError(
            f"{where}: not a readable checkpoint ({what}: {type(exc).__name__}: "
            f"{plain(exc, 120)}); the file is truncated or corrupt: re-create it (e.g. "
            "`tinycompress train`) or restore it"
        ) from exc


def _members(archive: zipfile.ZipFile, where: str) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by name: ``.npy`` files, each once, stored or deflated."""
    infos = archive.infolist()
    if len(infos) > 4 * MAX_LAYERS + 1:
        raise CheckpointError(f"{where}: {len(infos):,} members, more than a model of at most "
                              f"{MAX_LAYERS:,} layers has arrays")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = shown(info.filename)
        if not info.filename.endswith(".npy") or info.filename in members:
            raise CheckpointError(f"{where}: the member {name} is not an array of its own "
                                  "(.npy, named once)")
        if info.flag_bits & 0x1:
            raise CheckpointError(f"{where}: the member {name} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CheckpointError(f"{where}: the member {name} uses compression method "
                                  f"{info.compress_type}; a checkpoint's members are stored "
                                  "(0) or deflated (8)")
        members[info.filename] = info
    return members


def _description(archive: zipfile.ZipFile, info: zipfile.ZipInfo | None,
                 where: str) -> dict[str, Any]:
    """The checked top level of the JSON description: format, version, model, meta."""
    if info is None:
        raise CheckpointError(f"{where}: no description (__meta__); not a tinycompress "
                              "checkpoint")
    at = f"{where}: __meta__"

    def check(shape: Shape, dtype: np.dtype) -> None:
        if dtype != np.uint8 or len(shape) != 1 or not 0 <= shape[0] <= MAX_DESCRIPTION:
            raise CheckpointError(f"{at} is a {dtype} array of shape {shape}; expected the "
                                  f"UTF-8 bytes (uint8) of at most {MAX_DESCRIPTION:,}")

    text = _read_npy(archive, info, at, check).tobytes()
    return check_object(parse_json(text, at, CheckpointError), _DOC, at, CheckpointError,
                        required=("format", "version", "model"))


def _check_meta(meta: Any, where: str) -> dict[str, Any]:
    """``meta``: an object whose ``normalization`` and ``recipe``, if recorded, are sane."""
    if not isinstance(meta, dict):
        refuse(where, meta, "an object", CheckpointError)
    if meta.get("normalization") is not None:
        Normalization.from_json(meta["normalization"], CheckpointError, f"{where}.normalization")
    if "recipe" in meta:
        check_object(meta["recipe"], RECIPE_FIELDS, f"{where}.recipe", CheckpointError)
    return meta


def _same_members(members: dict[str, zipfile.ZipInfo], expected: set[str], where: str) -> None:
    """Refuse an archive whose array members are not exactly the ``expected`` names."""
    if members.keys() != expected:
        missing, extra = sorted(expected - members.keys()), sorted(members.keys() - expected)
        raise CheckpointError(f"{where}: arrays do not match the architecture (missing "
                              f"{plain(', '.join(missing) or 'none', 100)}; unexpected "
                              f"{plain(', '.join(extra) or 'none', 100)})")


def _read_tensor(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shape: Shape,
                 where: str) -> np.ndarray:
    """One parameter or buffer: float32 of ``shape`` (native order, writable), finite."""

    def check(got: Shape, dtype: np.dtype) -> None:
        if got != shape:
            raise CheckpointError(f"{where} has shape {got}, expected {shape}")
        check_dtype(dtype, where, CheckpointError)

    value = engine_array(_read_npy(archive, info, where, check), where, CheckpointError)
    if not np.isfinite(value).all():
        raise CheckpointError(f"{where} contains NaN or inf")
    return value


def _read_npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str,
              check: Callable[[Shape, np.dtype], None]) -> np.ndarray:
    """The array of one ``.npy`` member, its header passed to ``check`` before any data is
    read, and the member's declared size required to be exactly what the header implies."""
    with _reading(where, "its array"), archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise CheckpointError(f"{where}: .npy format version {version}; expected 1.0 or 2.0")
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(f)
        check(shape, dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size != f.tell() + nbytes:
            raise CheckpointError(f"{where}: the member declares {info.file_size:,} bytes, its "
                                  f"header implies {f.tell() + nbytes:,}: the file is corrupt")
        buf = _read_exactly(f, nbytes)
    return np.frombuffer(buf, dtype).reshape(shape, order="F" if fortran else "C")


def _read_exactly(f: IO[bytes], n: int) -> bytearray:
    """``n`` bytes of ``f``, read piece by piece into one writable buffer."""
    buf = bytearray(n)
    view, pos = memoryview(buf), 0
    while pos < n:
        piece = f.read(min(_CHUNK, n - pos))
        if not piece:
            raise EOFError(f"the member ends after {pos:,} of {n:,} bytes")
        view[pos : pos + len(piece)] = piece
        pos += len(piece)
    return buf
