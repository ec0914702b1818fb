"""Bring your own model: what ``tinycompress import`` and ``tinycompress export`` do.

:func:`import_model` reads a model another framework wrote and returns it as the engine's,
with the ``meta`` a checkpoint records, so every other command works on it:

- ``.onnx``: a graph of a sequential network (:mod:`.onnx_read`, :mod:`.onnx_import`);
- ``.safetensors``: a PyTorch state dict (:mod:`.safetensors`, :mod:`.layout`) plus the
  engine's architecture JSON (``{"name", "input_shape", "layers": [{"type", "config"}]}``,
  layer names = the PyTorch module names), given as a file or recorded in the file's metadata
  (as :func:`export_model` records it);
- ``.pt``, ``.pth``, ``.ckpt``, ``.bin``, ``.pkl``: refused. They are pickles, and loading a
  pickle runs whatever code it names: save the state dict with ``safetensors.torch.save_file``
  instead.

The input convention is explicit: the model receives ``(pixel/255 - mean)/std`` for the
``mean`` and ``std`` given (default 0 and 1, ``pixel/255``; a safetensors file exported here
records its own), and that normalisation is stored in the model's meta.

:func:`export_model` writes the decoded dense model of a zoo name, checkpoint or ``.tcz``
file as ONNX (:mod:`.onnx_export`, dense or compact) or as a PyTorch state dict in
safetensors; an ONNX export is run in onnxruntime against the engine (:mod:`.runtime`) and
its bytes are reported beside those of the file it came from.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import zoo
from ..errors import InteropError, UsageError, shown
from ..files import atomic_write
from ..nn.architecture import MAX_PARAMETERS, architecture, build_from_architecture
from ..nn.data import Normalization, load_split, normalization_of
from ..nn.model import Sequential
from ..nn.schema import Int, Real, parse_json, plain
from . import safetensors
from .layout import load_torch_state, torch_state
from .onnx_export import build_graph
from .onnx_import import import_graph
from .onnx_read import read_onnx
from .runtime import agreement
from .support import read_bounded

FORMATS = ("onnx", "safetensors")
PICKLES = (".pt", ".pth", ".ckpt", ".bin", ".pkl")
ARCH_KEY, NORM_KEY = "tinycompress.architecture", "tinycompress.normalization"
"""The safetensors metadata keys of the architecture and the normalisation."""

MAX_ARCH_BYTES = 1 << 24
"""The largest architecture JSON file read."""

MEAN, STD = Real(), Real(0.0, math.inf, lo_open=True)
CHECK = Int(0, 100_000)
"""What ``--mean``, ``--std`` and ``--check N`` (images; 0 for none) accept."""


def _given(mean: float | None, std: float | None) -> Normalization | None:
    if mean is None and std is None:
        return None
    return Normalization(0.0 if mean is None else mean, 1.0 if std is None else std)


def import_model(path: str | Path, arch: str | Path | None = None, mean: float | None = None,
                 std: float | None = None, max_parameters: int = MAX_PARAMETERS
                 ) -> tuple[Sequential, dict[str, Any]]:
    """Read another framework's model file as the engine's: ``(model, meta)``.

    Parameters
    ----------
    path : an ``.onnx`` or ``.safetensors`` file (see the module docstring).
    arch : for safetensors, the architecture JSON file (default: the file's metadata).
    mean, std : the model's input is ``(pixel/255 - mean)/std`` (default 0 and 1, or what a
        safetensors file records).
    max_parameters : a file describing more parameters and buffers is refused before they
        are converted.

    Raises
    ------
    InteropError
        For a malformed file or one the engine cannot run; UsageError for a pickle, another
        suffix, or ``arch`` given with an ONNX file.
    """
    path, given = Path(path), _given(mean, std)
    suffix = path.suffix.lower()
    if suffix in PICKLES:
        raise UsageError(f"{plain(path)} is a pickle, which is never loaded (loading one runs "
                         "the code it names): export the model with torch.onnx.export, or "
                         "save its state dict with safetensors.torch.save_file")
    if suffix == ".onnx":
        if arch is not None:
            raise UsageError("--arch is for .safetensors files; an ONNX file holds its graph")
        graph = read_onnx(path, max_parameters)
        model, norm = import_graph(graph, plain(path), given or Normalization(0.0, 1.0),
                                   path.stem[:100] if path.stem.isprintable() else "imported")
        origin = {"format": "onnx", "producer": graph.producer, "opset": graph.opset,
                  "nodes": len(graph.nodes)}
    elif suffix == ".safetensors":
        model, norm = _import_state(path, arch, given, max_parameters)
        origin = {"format": "safetensors"}
    else:
        raise UsageError(f"{plain(path)}: import reads .onnx and .safetensors files")
    return model, {"normalization": norm.to_json(), "source": str(path), "imported": origin}


def _import_state(path: Path, arch: str | Path | None, given: Normalization | None,
                  max_parameters: int) -> tuple[Sequential, Normalization]:
    tensors, metadata = safetensors.load(path)
    where = plain(path)
    if arch is not None:
        text, arch_where = read_bounded(arch, MAX_ARCH_BYTES)
    elif ARCH_KEY in metadata:
        text, arch_where = metadata[ARCH_KEY].encode(), f"{where}: metadata {ARCH_KEY}"
    else:
        raise UsageError(f"{where} records no architecture: give --arch FILE, the engine's "
                         "architecture JSON with the PyTorch module names as layer names")
    doc = parse_json(text, arch_where, InteropError)
    model = build_from_architecture(doc, InteropError, where=arch_where,
                                    max_parameters=max_parameters)
    load_torch_state(model, tensors, where)
    if given is None and NORM_KEY in metadata:
        recorded = parse_json(metadata[NORM_KEY].encode(), f"{where}: metadata {NORM_KEY}",
                              InteropError)
        given = Normalization.from_json(recorded, InteropError, f"{where}: {NORM_KEY}")
    return model, given or Normalization(0.0, 1.0)


def check_pixels(model: Sequential, n: int, data: str | Path | None
                 ) -> tuple[np.ndarray, str]:
    """``n`` inputs (``pixel/255``) to check an export on, and what they are: the first test
    images of ``data`` if the model reads images of their size, else seeded random ones."""
    shape = model.input_shape
    if len(shape) == 3 and shape[0] == 1:
        images = load_split("test", data).images
        if images.shape[1:] == shape[1:]:
            return images[:n].astype(np.float32)[:, None] / np.float32(255), "test images"
    pixels = np.random.default_rng(0).random((n, *shape), dtype=np.float32)
    return pixels, "random images (seed 0)"


def export_model(source: str, out: str | Path, fmt: str = "onnx", compact: bool = False,
                 check: int = 1000, data: str | Path | None = None,
                 max_parameters: int = MAX_PARAMETERS) -> dict[str, Any]:
    """Write the decoded dense model of ``source`` to ``out``; returns the report.

    Parameters
    ----------
    source : a zoo name, checkpoint or ``.tcz`` file (:func:`tinycompress.zoo.resolve_model`).
    out : the file to write.
    fmt : ``"onnx"`` or ``"safetensors"`` (a PyTorch state dict, with the architecture and
        normalisation in its metadata).
    compact : ONNX only: keep the compression (:mod:`.onnx_compact`).
    check : ONNX only: compare onnxruntime with the engine on this many images (0: none).
    data : the dataset whose test images the check uses, and whose training images give the
        normalisation of a model that records none.
    max_parameters : a model file describing more parameters is refused (as every command).
    """
    if fmt not in FORMATS or (compact and fmt != "onnx"):
        raise UsageError(f"export writes the formats {', '.join(FORMATS)}; --compact is for "
                         f"onnx; got {shown(fmt)}" + (" with --compact" if compact else ""))
    model, meta = zoo.resolve_model(source, max_parameters)
    norm = normalization_of(meta, data)
    report: dict[str, Any] = {"source": source, "format": fmt, "compact": compact,
                              "out": str(out),
                              "source_bytes": zoo.model_path(source).stat().st_size}
    if fmt == "safetensors":
        blob = safetensors.to_bytes(torch_state(model), {
            "format": "pt", ARCH_KEY: json.dumps(architecture(model)),
            NORM_KEY: json.dumps(norm.to_json())})
    else:
        proto, forms = build_graph(model, norm, compact)
        blob = proto.SerializeToString()
        report["forms"] = forms
        if compact:
            report["dense_bytes"] = build_graph(model, norm)[0].ByteSize()
        if check:
            pixels, what = check_pixels(model, check, data)
            report["check"] = {"images": what, **agreement(model, norm, blob, pixels)}
    atomic_write(out, lambda f: f.write(blob))
    report["bytes"] = len(blob)
    return report


def format_import(model: Sequential, meta: dict[str, Any], out: str | Path) -> str:
    """What an import made, in one line."""
    norm = meta["normalization"]
    return (f"imported {meta['source']} ({meta['imported']['format']}): {len(model.layers)} "
            f"layers, {model.num_params():,} parameters, input (pixel/255 - {norm['mean']:.6g}) "
            f"/ {norm['std']:.6g}; saved {out}")


def format_export(report: dict[str, Any]) -> str:
    """The export report as text: the bytes beside the source's, and the runtime check."""
    kind = "compact ONNX" if report["compact"] else report["format"]
    text = (f"wrote {report['out']} ({kind}): {report['bytes']:,} B; {report['source']}: "
            f"{report['source_bytes']:,} B")
    if "dense_bytes" in report:
        text += (f"; the dense ONNX: {report['dense_bytes']:,} B "
                 f"({report['dense_bytes'] / report['bytes']:.1f}x larger)")
    if "check" in report:
        c = report["check"]
        text += (f"\nonnxruntime vs the engine on {c['n']:,} {c['images']}: the same class on "
                 f"{c['same_class']:,}, logits within {c['max_abs_diff']:.2e}")
    return text
