"""Pickle-free checkpoints: one ``.npz`` file holding the arrays and a JSON description.

Layout of the archive (read with ``np.load(..., allow_pickle=False)``):

- ``__meta__``: a uint8 array with UTF-8 JSON ``{"format": "tinycompress-checkpoint",
  "version": 1, "model": {"name", "input_shape", "layers": [{"type", "config"}, ...]},
  "meta": {...}}``; ``meta`` is free-form (training recipe, accuracy, normalisation).
- ``<layer>/<param>`` for every parameter and buffer (e.g. ``conv1/W``, ``bn1/running_mean``).

The description and the array names are those of :mod:`.architecture`. Loading rebuilds the
model with :func:`~.architecture.build_from_architecture`, whose layers hold shape-only
placeholder weights (nothing drawn at random, no weight memory), checks every array of the
archive against the shape the rebuilt layer expects (floating point, finite), and puts the
loaded array in the placeholder's place.

Writes are atomic: the archive is written to a temporary file in the same folder, flushed and
renamed over the target, so an interrupted save never leaves a half-written checkpoint.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError
from .architecture import architecture, build_from_architecture, state_arrays
from .model import Sequential

FORMAT = "tinycompress-checkpoint"
VERSION = 1


def atomic_write(path: str | Path, write: Any) -> None:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(model: Sequential, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (and JSON-able ``meta``) to ``path`` atomically; returns the path."""
    doc = {"format": FORMAT, "version": VERSION, "model": architecture(model), "meta": meta or {}}
    blob = np.frombuffer(json.dumps(doc).encode("utf-8"), dtype=np.uint8)
    arrays = {"__meta__": blob, **state_arrays(model)}
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return Path(path)


def load_model(path: str | Path) -> tuple[Sequential, dict[str, Any]]:
    """Read a checkpoint written by :func:`save_model`. Returns ``(model, meta)``.

    Raises :class:`CheckpointError` if the file is missing, not an archive, truncated, has a
    wrong format or version, or holds arrays that do not fit the architecture it describes.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        # numpy's advice for object arrays (load them with pickle) is exactly what we must not do
        why = "not an .npz archive" if "pickle" in str(exc) else f"{type(exc).__name__}: {exc}"
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({why}); the file is truncated or corrupt: "
            "re-create it (e.g. `tinycompress train`) or restore it"
        ) from exc
    try:
        doc = json.loads(arrays.pop("__meta__").tobytes().decode("utf-8"))
    except (KeyError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: missing or unreadable description ({exc})") from exc
    if doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: format {doc.get('format')!r} version {doc.get('version')!r}; this "
            f"tinycompress reads {FORMAT!r} version {VERSION}"
        )
    model = build_from_architecture(doc["model"])
    expected = state_arrays(model)
    if set(arrays) != set(expected):
        missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
        raise CheckpointError(f"{path}: arrays do not match the architecture "
                              f"(missing {missing}, unexpected {extra})")
    for layer in model.layers:
        for store in (layer.params, layer.buffers):
            for key, ref in store.items():
                value = arrays[f"{layer.name}/{key}"]
                if value.shape != ref.shape or value.dtype.kind != "f":
                    raise CheckpointError(
                        f"{path}: {layer.name}/{key} has shape {value.shape} dtype {value.dtype},"
                        f" expected {ref.shape} floating point"
                    )
                if not np.isfinite(value).all():
                    raise CheckpointError(f"{path}: {layer.name}/{key} contains NaN or inf")
                store[key] = value
    return model, doc.get("meta", {})
