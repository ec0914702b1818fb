"""One model, four ways of running it, measured alike: error, time and energy per inference.

:data:`~tinycompress.energy.PRECISIONS` names them: ``fp32`` (the float model as it is),
``fp16`` (:mod:`.fp16`), ``int8`` (:mod:`.int8`, calibrated on training images) and
``codebook`` (:mod:`.codebook`). :func:`engine` builds the object that runs one of them and
:data:`VARIANTS` names the ways of calling those objects that the latency comparison times
(dense or CSR float32, BLAS-carried or NumPy-native float16, the fast or the int64 integer
path). :func:`evaluate_precision` measures one precision the way ``tinycompress evaluate
--precision`` reports it; :func:`latency_table` times variants against float32 dense in the
same run, for the benchmark and the chapter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..energy import PRECISIONS, assumptions, check_precision, precision_energy
from ..errors import UsageError
from ..nn.data import Normalization
from ..nn.model import Sequential
from ..pruning import sparse
from ..timing import batch_times
from .calibration import calibration_images
from .codebook import CodebookModel
from .fp16 import Float16Model
from .int8 import compile_int8

Runner = Callable[[np.ndarray], np.ndarray]
"""A batch of images (N, *input_shape) -> class scores (N, classes)."""

VARIANTS: dict[str, tuple[str, dict[str, bool]]] = {
    "fp32 dense": ("fp32", {}),
    "fp32 CSR": ("fp32", {"csr": True}),
    "fp16": ("fp16", {}),
    "fp16 NumPy loop": ("fp16", {"native": True}),
    "int8": ("int8", {}),
    "int8 int64 reference": ("int8", {"exact": True}),
    "codebook": ("codebook", {}),
}
"""Timed variants: the precision whose engine runs it and the options of its ``forward``."""

DEFAULT_VARIANT: dict[str, str] = dict(zip(PRECISIONS, ("fp32 dense", "fp16", "int8", "codebook"),
                                          strict=True))
"""How :func:`evaluate_precision` runs each precision."""

BASELINE = "fp32 dense"
"""The variant every time is compared with."""


class Float32Model:
    """The float32 model, run densely or with its Dense layers in CSR form
    (:func:`~tinycompress.pruning.sparse.sparse_forward`)."""

    def __init__(self, model: Sequential) -> None:
        self.model = model
        self.csr = sparse.to_sparse(model)

    def forward(self, x: np.ndarray, csr: bool = False) -> np.ndarray:
        """Class scores (N, classes) of images x (N, *input_shape), float32."""
        return sparse.sparse_forward(self.model, x, self.csr) if csr else self.model.forward(x)


def engine(model: Sequential, precision: str, calibration: np.ndarray | None = None) -> Any:
    """The object whose ``forward(x, **options)`` runs ``model`` in ``precision``.

    ``calibration`` (training images) is needed for int8 and ignored otherwise.
    """
    check_precision(precision)
    if precision == "int8":
        if calibration is None:
            raise UsageError("int8 inference needs calibration images (training images, e.g. "
                             "calibration.calibration_images) to choose activation scales")
        return compile_int8(model, calibration)
    builders = {"fp32": Float32Model, "fp16": Float16Model, "codebook": CodebookModel}
    return builders[precision](model)


def runners(model: Sequential, names: Sequence[str] = tuple(VARIANTS),
            calibration: np.ndarray | None = None) -> dict[str, Runner]:
    """A :data:`Runner` per variant name, each precision's engine built once."""
    if unknown := [n for n in names if n not in VARIANTS]:
        raise UsageError(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    engines: dict[str, Any] = {}
    out = {}
    for name in names:
        precision, options = VARIANTS[name]
        if precision not in engines:
            engines[precision] = engine(model, precision, calibration)
        out[name] = partial(engines[precision].forward, **options)
    return out


def predict(run: Runner, X: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Class predictions (N,): the argmax of the scores (the first of tied maxima)."""
    preds = [run(X[i : i + batch_size]).argmax(axis=1) for i in range(0, len(X), batch_size)]
    return np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)


def time_runner(run: Runner, X: np.ndarray, batch: int, repeat: int = 7,
                min_seconds: float = 0.02) -> float:
    """Seconds per call of ``run`` on the first ``batch`` images (best of ``repeat``)."""
    return min(_batch_times(run, X, batch, repeat, min_seconds))


def _batch_times(run: Runner, X: np.ndarray, batch: int, repeat: int,
                 min_seconds: float) -> list[float]:
    if len(X) < batch:
        raise UsageError(f"timing batch {batch} needs at least {batch} images, got {len(X)}")
    xb = X[:batch]
    return batch_times(lambda: run(xb), repeat, min_seconds)


def evaluate_precision(
    model: Sequential, X: np.ndarray, y: np.ndarray, precision: str, *,
    calibration: np.ndarray | None = None, weight_bytes: int | None = None,
    batches: Sequence[int] = (1, 64), repeat: int = 7, min_seconds: float = 0.02,
) -> dict[str, Any]:
    """Test error, time and energy per inference of ``model`` run in ``precision``.

    Parameters
    ----------
    model : the float model (a decoded ``.tcz`` file, a checkpoint).
    X, y : test images and labels.
    precision : one of :data:`~tinycompress.energy.PRECISIONS`.
    calibration : training images, for int8.
    weight_bytes : bytes of weights read per inference (a compressed file's size), default
        the dense storage at the precision's width (:func:`~tinycompress.energy.
        stored_weight_bytes`).
    batches, repeat, min_seconds : the batch sizes timed and :func:`~tinycompress.timing.
        best_time`'s settings (batches larger than ``len(X)`` are not timed).

    Returns
    -------
    dict : ``precision``, ``accuracy``, ``error``, ``n``, ``correct``, ``seconds`` (per call,
    by batch size), ``energy`` (:class:`~tinycompress.energy.PrecisionEnergy` as JSON) and
    ``assumptions`` (the cost model in words).
    """
    check_precision(precision)
    name = DEFAULT_VARIANT[precision]
    run = runners(model, [name], calibration)[name]
    correct = int((predict(run, X) == y).sum())
    n = len(y)
    seconds = {str(b): time_runner(run, X, b, repeat, min_seconds) for b in batches if b <= n}
    return {"precision": precision, "accuracy": correct / n if n else float("nan"),
            "error": 1 - correct / n if n else float("nan"), "n": n, "correct": correct,
            "seconds": seconds,
            "energy": precision_energy(model, precision, weight_bytes).to_json(),
            "assumptions": assumptions(precision)}


def evaluate_source(source: str, model: Sequential, norm: Normalization, X: np.ndarray,
                    y: np.ndarray, precision: str, folder: str | Path | None = None,
                    **options: Any) -> dict[str, Any]:
    """:func:`evaluate_precision` of the model a command was given as ``source``.

    A ``.tcz`` file's weights are read in its own form: its size is the bytes read per
    inference. int8 is calibrated on :func:`~.calibration.calibration_images` of ``folder``
    (the *training* images, normalised by ``norm``).
    """
    path = Path(source)
    weight_bytes = path.stat().st_size if path.suffix == ".tcz" and path.is_file() else None
    calibration = calibration_images(folder, norm) if precision == "int8" else None
    return {"model": source, **evaluate_precision(model, X, y, precision, calibration=calibration,
                                                  weight_bytes=weight_bytes, **options)}


def format_evaluation(result: dict[str, Any]) -> str:
    """:func:`evaluate_source`'s result as text: error, times, energy, the cost model."""
    e = result["energy"]
    times = ", ".join(f"{1e3 * s:.3f} ms per batch of {b}" for b, s in result["seconds"].items())
    where = "SRAM" if e["on_chip"] else "DRAM"
    return (f"{result['model']} ({result['precision']}): accuracy {result['accuracy']:.4%}  "
            f"error {result['error']:.2%}  on {result['n']} test images\n"
            f"time: {times}\n"
            f"energy per inference: {e['total_pj'] / 1e6:.4f} uJ (arithmetic "
            f"{e['compute_pj'] / 1e6:.4f} uJ, weights {e['memory_pj'] / 1e6:.4f} uJ: "
            f"{e['weight_bytes']:,} bytes from {where})\n"
            f"energy model: {result['assumptions']}")


def latency_table(model: Sequential, X: np.ndarray, names: Sequence[str] = tuple(VARIANTS),
                  calibration: np.ndarray | None = None, batches: Sequence[int] = (1, 64),
                  repeat: int = 7, min_seconds: float = 0.02) -> list[dict[str, Any]]:
    """Seconds per call of every variant at every batch size, timed in the same run as
    :data:`BASELINE` (added if missing).

    Each row has ``variant``, ``batch``, ``seconds`` (the best of ``repeat`` batches,
    :func:`~tinycompress.timing.batch_times`), ``ratio`` (that over the baseline's best: above
    1, slower), ``median_seconds`` and ``median_ratio`` (the same from the median batches, so
    that the gap between the two ratios shows how much the machine's other work moved them).
    """
    names = [BASELINE, *(n for n in names if n != BASELINE)]
    runs = runners(model, names, calibration)
    rows = []
    for batch in batches:
        base = _batch_times(runs[BASELINE], X, batch, repeat, min_seconds)
        for name in names:
            t = base if name == BASELINE else _batch_times(runs[name], X, batch, repeat,
                                                           min_seconds)
            rows.append({"variant": name, "batch": batch, "seconds": min(t),
                         "ratio": min(t) / min(base), "median_seconds": float(np.median(t)),
                         "median_ratio": float(np.median(t) / np.median(base))})
    return rows
