"""Experiment: the studies of the trained-quantisation chapter, as functions that return tables
(Han, Mao & Dally, *Deep Compression*, ICLR 2016, §3 and Figs. 7-8).

What it measures:

* :func:`init_sweep`: the error after clustering alone, for each initialisation and bit width
  (the paper's Fig. 8: linear initialisation wins except at very low bits).
* :func:`bits_by_kind`: the error when only the conv layers, or only the fully-connected
  layers, are quantised to b bits (the paper's Fig. 7: conv layers need about 4+ bits, fc
  layers hold down to about 2).
* :func:`baselines`: float16, and uniform quantisation beside k-means sharing at equal bits.
* :func:`ablation`: what the fine-tuning recipe buys: none, the paper's summed centroid
  gradient, "centroid = mean of the fine-tuned weights", and re-assigning every step; each with
  its validation error after every epoch, and the test error of the final model.
* :func:`choose_lr`: the learning rate of each fine-tuning mode, the one of :data:`LR_GRID`
  with the lowest *validation* error after one epoch (how :data:`ABLATION_LR` was chosen).

**Which images.** Every choice is made on the validation split, never on the test set
(:mod:`.results`). The first three studies take the ``(X, y)`` their errors are measured on:
pass the validation split when a table is used to choose (bits, an initialisation), the test
split when it is only shown. :func:`ablation` and :func:`choose_lr` take the splits by name.

How to run it: chapter 4 calls the functions on the shipped LeNet checkpoints, e.g.
``init_sweep(lambda: zoo.load_pretrained("lenet5")[0], s.X_val, s.y_val)`` with the splits
``s = load_splits(...)`` of :mod:`tinycompress.nn.data`. Every function
takes ``load``, a zero-argument callable returning a fresh copy of the model, so runs never
leak into each other. The learning-rate sweep and the ablation at the chosen rates run as::

    OPENBLAS_NUM_THREADS=1 python -m tinycompress.experiments.quant_study \\
        [--model lenet-300-100] [--bits 2] [--epochs 3] [--data DIR] [--out PATH]

(about 9 minutes for LeNet-300-100 on one thread of a busy 2-core machine).

Where its JSON goes: the functions return lists of plain dicts (one row each) for printing,
plotting or ``json.dumps``; the command writes ``data/results/quant_study.json``
(:func:`~tinycompress.experiments.results.results_path`): the validation split, the sweep's
validation errors, the chosen rates, and the ablation's rows with their test errors.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import zoo
from ..errors import TrainingDivergedError
from ..nn.data import Splits, load_splits, normalization_of
from ..nn.model import Sequential
from ..nn.train import EpochStats, evaluate
from ..quantization.kmeans import INITS
from ..quantization.trained import (
    SPEC_KINDS,
    BitsSpec,
    finetune,
    quantize_model,
    shared_constraints,
)
from ..quantization.uniform import float16_roundtrip, linear_quantize
from .results import results_path, write_results

Loader = Callable[[], Sequential]


FINETUNE_MODES = ("paper", "mean", "reassign")
"""The fine-tuning modes of :func:`ablation` (besides ``"none"``, clustering alone)."""


LR_GRID: dict[str, tuple[float, ...]] = {"paper": (3e-6, 1e-5, 1e-4, 1e-3),
                                         "mean": (1e-3, 1e-2, 1e-1),
                                         "reassign": (1e-3, 1e-2, 1e-1)}
"""The learning rates :func:`choose_lr` tries per mode: around a thousand times smaller for the
paper's summed centroid gradient than for the per-weight steps of the other two."""


ABLATION_LR: dict[str, float] = {"paper": 1e-4, "mean": 1e-1, "reassign": 1e-2}
"""Learning rates per fine-tuning mode (SGD, momentum 0.9, cosine decay). The paper's centroid
gradient sums the gradients of a whole cluster (thousands of weights), so it needs a step about
a thousand times smaller than the per-weight steps of "mean" and "reassign".

Each value is :func:`choose_lr`'s: the lowest *validation* error after one epoch at 2 bits,
over :data:`LR_GRID`, for the shipped LeNet-300-100 (trained on the 55,000 training images
only; the 5,000 validation images never trained on): paper 2.52, 2.52, **2.38**, 89.96 %; mean
4.70, 3.64, **2.86** %; reassign 1.62, **1.28**, 1.64 % (``data/results/quant_study.json``,
``python -m tinycompress.experiments.quant_study``). They were first picked on the test set
(1e-5, 1e-1, 1e-2) with a LeNet-300-100 trained on all 60,000 images, on which a validation
split measures training images and cannot choose."""


def _error(model: Sequential, X: np.ndarray, y: np.ndarray) -> float:
    """Error of the weight-shared model on ``(X, y)``.

    In ``"mean"`` mode the weights train freely and become shared only at the end, so for a
    measurement mid-way they are snapped to their cluster means and restored afterwards.
    """
    saved = []
    for layer, c in shared_constraints(model):
        if c.mode == "mean":
            W = layer.params["W"]
            saved.append((W, W.copy()))
            W[...] = c.finalize(W)
    error = float(evaluate(model, X, y)["error"])
    for W, old in saved:
        W[...] = old
    return error


def quantized_error(load: Loader, bits: BitsSpec, X: np.ndarray, y: np.ndarray,
                    init: str = "linear", seed: int = 0) -> float:
    """Error on ``(X, y)`` of a freshly loaded model after clustering alone (no fine-tuning)."""
    model = load()
    quantize_model(model, bits, init=init, rng=seed)
    return _error(model, X, y)


def init_sweep(load: Loader, X: np.ndarray, y: np.ndarray, bits: Iterable[int] = range(2, 9),
               inits: Iterable[str] = INITS, seed: int = 0) -> list[dict[str, Any]]:
    """One row per (bits, init): ``{"bits", "init", "error"}``; all layers at the same bits."""
    return [{"bits": b, "init": init, "error": quantized_error(load, b, X, y, init, seed)}
            for b in bits for init in inits]


def bits_by_kind(load: Loader, X: np.ndarray, y: np.ndarray, bits: Iterable[int] = range(1, 9),
                 kinds: Iterable[str] = ("conv", "fc"), init: str = "linear",
                 seed: int = 0) -> list[dict[str, Any]]:
    """One row per (kind, bits): only the layers of that kind are quantised, the others stay
    float32. Rows: ``{"kind", "bits", "error"}``."""
    return [{"kind": kind, "bits": b, "error": quantized_error(load, {kind: b}, X, y, init, seed)}
            for kind in kinds for b in bits]


def baselines(load: Loader, X: np.ndarray, y: np.ndarray,
              bits: Iterable[int] = (8, 6, 4)) -> list[dict[str, Any]]:
    """Error on ``(X, y)`` of the float32 model beside float16, and, at each bit width, uniform
    quantisation (one scale and zero point per tensor; int8 at 8 bits) and k-means sharing, all
    without fine-tuning. Only the weight tensors are converted (biases stay float32).
    Rows: ``{"method", "bits", "error"}``, method one of float32, float16, uniform, k-means."""
    def converted(fn: Callable[[np.ndarray], np.ndarray]) -> float:
        model = load()
        for layer in model.layers:
            if layer.kind in SPEC_KINDS:
                layer.params["W"][...] = fn(layer.params["W"])
        return _error(model, X, y)

    rows = [{"method": "float32", "bits": 32, "error": _error(load(), X, y)},
            {"method": "float16", "bits": 16, "error": converted(float16_roundtrip)}]
    for b in bits:
        rows.append({"method": "uniform", "bits": b,
                     "error": converted(lambda W, b=b: linear_quantize(W, b).decode())})
        rows.append({"method": "k-means", "bits": b, "error": quantized_error(load, b, X, y)})
    return rows


def _finetuned(load: Loader, X: np.ndarray, y: np.ndarray, X_val: np.ndarray,
               y_val: np.ndarray, bits: BitsSpec, mode: str, lr: float, epochs: int,
               batch_size: int, init: str, seed: int
               ) -> tuple[Sequential, list[float], list[EpochStats]]:
    """A fresh model clustered to ``bits`` and fine-tuned in ``mode`` (no training for
    ``"none"``): the model, its validation error after clustering and after every epoch, and
    the epochs' training statistics."""
    model = load()
    quantize_model(model, bits, init=init, rng=seed, mode="paper" if mode == "none" else mode)
    curve = [_error(model, X_val, y_val)]
    history: list[EpochStats] = []
    if mode != "none":
        history = finetune(model, X, y, epochs=epochs, lr=lr, batch_size=batch_size,
                           seed=seed, progress=False,
                           on_epoch=lambda _: curve.append(_error(model, X_val, y_val)))
    return model, curve, history


def ablation(load: Loader, X: np.ndarray, y: np.ndarray, X_val: np.ndarray,
             y_val: np.ndarray, bits: BitsSpec, epochs: int = 2,
             modes: Iterable[str] = ("none", *FINETUNE_MODES),
             lr: Mapping[str, float] | None = None, batch_size: int = 128,
             init: str = "linear", seed: int = 0, X_test: np.ndarray | None = None,
             y_test: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Fine-tuning ablation at fixed bits, every mode from the same clustering.

    Parameters
    ----------
    load : returns a fresh copy of the model.
    X, y : the training split, fine-tuned on.
    X_val, y_val : the validation split: the curves are measured on it.
    bits : the bit widths of the clustering.
    epochs, batch_size, init, seed : the fine-tuning's and the clustering's settings.
    modes : ``"none"`` (clustering only) and any of :data:`FINETUNE_MODES`.
    lr : learning rates overriding :data:`ABLATION_LR`, per mode.
    X_test, y_test : the test split, if the chosen models' test errors are to be reported.

    Returns
    -------
    One row per mode: ``{"mode", "lr", "error", "curve", "train_loss"}`` and, with a test
    split, ``"test_error"``. ``curve`` is the validation error after clustering and after every
    epoch (``epochs + 1`` values; one for ``"none"``), ``error`` its last value.
    """
    lrs = {**ABLATION_LR, **(lr or {})}
    rows = []
    for mode in modes:
        model, curve, history = _finetuned(load, X, y, X_val, y_val, bits, mode,
                                           lrs.get(mode, 0.0), epochs, batch_size, init, seed)
        row = {"mode": mode, "lr": lrs.get(mode, 0.0), "error": curve[-1], "curve": curve,
               "train_loss": [h.loss for h in history]}
        if X_test is not None and y_test is not None:
            row["test_error"] = _error(model, X_test, y_test)
        rows.append(row)
    return rows


def choose_lr(load: Loader, X: np.ndarray, y: np.ndarray, X_val: np.ndarray,
              y_val: np.ndarray, bits: BitsSpec = 2,
              grid: Mapping[str, Sequence[float]] = LR_GRID, epochs: int = 1,
              batch_size: int = 128, init: str = "linear", seed: int = 0,
              ) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Per fine-tuning mode, the learning rate of ``grid`` with the lowest validation error.

    Each rate fine-tunes a fresh clustering of ``load()`` for ``epochs`` epochs on ``(X, y)``;
    only ``(X_val, y_val)`` is measured, so the test set plays no part in the choice. A tie goes
    to the rate listed first; a diverged run (a NaN error) never wins.

    Returns
    -------
    ``(chosen, rows)``: ``{mode: rate}``, and one row per run,
    ``{"mode", "lr", "validation_error"}``.
    """
    chosen, rows = {}, []
    for mode, rates in grid.items():
        errors = []
        for rate in rates:
            try:
                _, curve, _ = _finetuned(load, X, y, X_val, y_val, bits, mode, rate, epochs,
                                         batch_size, init, seed)
            except TrainingDivergedError:  # a NaN loss stops training: this rate lost
                curve = [math.nan]
            errors.append(curve[-1])
            rows.append({"mode": mode, "lr": rate, "validation_error": curve[-1]})
        ranked = [(math.inf if math.isnan(e) else e, i) for i, e in enumerate(errors)]
        chosen[mode] = rates[min(ranked)[1]]
    return chosen, rows


def run(model: str = "lenet-300-100", bits: int = 2, epochs: int = 3,
        folder: str | None = None, splits: Splits | None = None,
        grid: Mapping[str, Sequence[float]] = LR_GRID, batch_size: int = 128,
        log: Callable[[str], Any] = print) -> dict[str, Any]:
    """The learning-rate sweep on the validation split, then the ablation at the chosen rates.

    Parameters
    ----------
    model : a zoo name or a checkpoint path (:func:`tinycompress.zoo.resolve_model`).
    bits, epochs, batch_size : the clustering's bits; the ablation's fine-tuning (the sweep
        fine-tunes one epoch).
    folder : the dataset (default: the shipped MNIST), unless ``splits`` are given.
    splits : the arrays to use (default: :func:`~tinycompress.nn.data.load_splits` of ``folder``).
    grid : the learning rates tried per mode.
    log : called with one line per finished stage.

    Returns
    -------
    The results document: ``validation`` (``n``, ``seed``), the model, its checkpoint's own
    validation record (``None`` if it predates the split and may have trained on it), the sweep
    (its rows and ``chosen`` rates, all on validation) and the ablation's rows (validation
    curves, ``test_error`` of the final models).
    """
    loaded, meta = zoo.resolve_model(model)
    if splits is None:
        splits = load_splits(normalization_of(meta, folder), folder)
    s = splits

    def load() -> Sequential:
        return zoo.resolve_model(model)[0]

    chosen, sweep = choose_lr(load, s.X, s.y, s.X_val, s.y_val, bits, grid, 1, batch_size)
    log(f"learning rates chosen on validation: {chosen}")
    rows = ablation(load, s.X, s.y, s.X_val, s.y_val, bits, epochs, lr=chosen,
                    batch_size=batch_size, X_test=s.X_test, y_test=s.y_test)
    log("  ".join(f"{r['mode']}: val {r['error']:.2%} test {r['test_error']:.2%}"
                  for r in rows))
    return {"validation": s.validation, "model": model, "bits": bits,
            "model_validation": meta.get("validation"),
            "float32": {"validation_error": _error(loaded, s.X_val, s.y_val),
                        "test_error": _error(loaded, s.X_test, s.y_test)},
            "lr_sweep": {"epochs": 1, "batch_size": batch_size, "rows": sweep,
                         "chosen": chosen},
            "ablation": {"epochs": epochs, "batch_size": batch_size, "rows": rows}}


def main(argv: Sequence[str] | None = None) -> None:
    """Run :func:`run` (see the module docstring) and write its JSON."""
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="lenet-300-100", help="zoo name or checkpoint")
    parser.add_argument("--bits", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3, help="the ablation's epochs")
    parser.add_argument("--data", default=None, help="dataset folder (default: MNIST)")
    parser.add_argument("--out", default=str(results_path("quant_study")))
    args = parser.parse_args(argv)
    doc = run(args.model, args.bits, args.epochs, args.data,
              log=lambda line: print(line, flush=True))
    write_results(args.out, doc)


if __name__ == "__main__":
    main()
