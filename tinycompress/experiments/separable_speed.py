"""Experiment: is a depthwise-separable convolution as much faster as its MultAdds promise?

After Howard et al. 2017, "MobileNets", §3.1: a 3x3 depthwise + 1x1 pointwise pair costs
1/C + 1/9 of the MultAdds of a standard 3x3 convolution C -> C.

What it measures: :func:`time_separable_vs_standard` times, for each channel count, the
forward and backward pass of the three layers of this NumPy engine, each alone, several times
over, and reports milliseconds, GMAC/s and the measured speed-up beside the MultAdd saving;
:func:`summarise_speed` condenses the rows into the figures chapter 1 discusses (throughput
ranges, which GEMM ran faster, how much repeated timings move).

How to run it: it takes seconds, so chapter 1 calls it live on the reader's machine, e.g.
``summarise_speed(time_separable_vs_standard([8, 32, 128]))``. (``bench/bench_separable.py``
compares the same layers with PyTorch.)

Where its JSON goes: nowhere; it returns the rows (one dict per channel count).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import UsageError
from ..nn.base import Layer
from ..nn.conv import Conv2D
from ..nn.depthwise import DepthwiseConv2D, PointwiseConv2D
from ..nn.model import Sequential
from ..timing import best_time


def _forward_backward(model: Sequential, x: np.ndarray) -> None:
    """The passes of one training step (no update): forward, then backward from ones."""
    out = model.forward(x, train=True)
    model.backward(np.ones_like(out))


LAYERS = ("standard", "depthwise", "pointwise")
"""The three layers timed: 3x3 standard convolution, 3x3 depthwise, 1x1 pointwise (C -> C)."""


def _layers(c: int, rng: np.random.Generator) -> dict[str, Layer]:
    return {"standard": Conv2D(c, c, 3, 1, 1, bias=False, rng=rng),
            "depthwise": DepthwiseConv2D(c, 3, 1, 1, bias=False, rng=rng),
            "pointwise": PointwiseConv2D(c, c, bias=False, rng=rng)}


def time_separable_vs_standard(
    channels: Sequence[int], size: int = 16, batch: int = 32, repeats: int = 3, seed: int = 0,
) -> list[dict[str, Any]]:
    r"""Forward+backward time of a 3x3 standard convolution C -> C against depthwise 3x3 +
    pointwise C -> C on a size x size map, beside the MultAdd ratio :math:`1/C + 1/9`.

    Each layer is timed alone, as inside a network (its input gradient is computed too): one
    warm-up call each, then ``repeats`` rounds in which the three layers take turns, one
    single-call timing each, so that a burst of load from other processes hits all three alike
    and every round gives a paired speed-up, standard time / (depthwise + pointwise time).

    Returns one dict per channel count: ``channels``; for each layer L of :data:`LAYERS`,
    ``L_ms`` (the best round, in milliseconds), ``L_ms_runs`` (every round) and ``L_gmacs``
    (throughput of the best round: 3 x its MultAdds x batch / time, forward and backward's two
    products of the same size); ``separable_ms`` (sum of the best depthwise and pointwise
    times), ``time_ratio`` (separable_ms / standard_ms), ``multadd_ratio`` (separable /
    standard MultAdds) and ``speedup_runs`` (the paired speed-up of every round).
    """
    if repeats < 1:
        raise UsageError(f"repeats must be at least 1, got {repeats}")
    rows = []
    rng = np.random.default_rng(seed)
    for c in channels:
        x = rng.standard_normal((batch, c, size, size)).astype(np.float32)
        calls, multadds = {}, {}
        for label, layer in _layers(c, rng).items():
            model = Sequential([layer], (c, size, size))
            layer.needs_input_grad = True
            calls[label] = lambda m=model, x=x: _forward_backward(m, x)
            multadds[label] = model.multadds()
            calls[label]()  # warm-up: first-call allocations are not timed
        runs = {label: [] for label in LAYERS}
        for _ in range(repeats):
            for label in LAYERS:
                runs[label].append(1e3 * best_time(calls[label], 1, min_seconds=0.0))
        row: dict[str, Any] = {"channels": c}
        for label in LAYERS:
            row[f"{label}_ms"] = min(runs[label])
            row[f"{label}_ms_runs"] = runs[label]
            row[f"{label}_gmacs"] = 3 * multadds[label] * batch / row[f"{label}_ms"] / 1e6
        row["separable_ms"] = row["depthwise_ms"] + row["pointwise_ms"]
        row["time_ratio"] = row["separable_ms"] / row["standard_ms"]
        separable = multadds["depthwise"] + multadds["pointwise"]
        row["multadd_ratio"] = separable / multadds["standard"]
        row["speedup_runs"] = [s / (d + p) for s, d, p in
                               zip(runs["standard"], runs["depthwise"], runs["pointwise"],
                                   strict=True)]
        rows.append(row)
    return rows


def summarise_speed(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    r"""The figures chapter 1 quotes, from the rows of :func:`time_separable_vs_standard`.

    Returns a dict of (min, max) pairs over the channel counts: ``L_gmacs`` for each layer L,
    ``speedup`` (the median of each row's paired ``speedup_runs``), ``saving``
    (1 / multadd_ratio) and ``depthwise_cost``, how many times more a depthwise MultAdd costs
    than a standard-convolution (GEMM) MultAdd (standard_gmacs / depthwise_gmacs);
    ``pointwise_faster``, the channel counts at which the pointwise GEMM ran at more GMAC/s
    than the standard convolution's; ``spread``, how far a layer's repeated timings move,
    (max - min) / min of each layer's rounds, as (median, max) over layers and channel counts;
    and, at the largest channel count, ``widest`` (its C), ``widest_multadd_share`` (the
    depthwise layer's share of the separable MultAdds, :math:`9/(9 + C)`) and
    ``widest_time_share`` (its share of the separable time).
    """
    if not rows:
        raise UsageError("no timing rows to summarise")

    def span(values: Sequence[float]) -> tuple[float, float]:
        return float(min(values)), float(max(values))

    out: dict[str, Any] = {f"{label}_gmacs": span([r[f"{label}_gmacs"] for r in rows])
                           for label in LAYERS}
    out["speedup"] = span([float(np.median(r["speedup_runs"])) for r in rows])
    out["saving"] = span([1 / r["multadd_ratio"] for r in rows])
    out["depthwise_cost"] = span([r["standard_gmacs"] / r["depthwise_gmacs"] for r in rows])
    out["pointwise_faster"] = [r["channels"] for r in rows
                               if r["pointwise_gmacs"] > r["standard_gmacs"]]
    spreads = [max(t) / min(t) - 1 for r in rows for t in (r[f"{k}_ms_runs"] for k in LAYERS)]
    out["spread"] = (float(np.median(spreads)), float(max(spreads)))
    widest = max(rows, key=lambda r: r["channels"])
    out["widest"] = widest["channels"]
    out["widest_multadd_share"] = 9 / (9 + widest["channels"])
    out["widest_time_share"] = widest["depthwise_ms"] / widest["separable_ms"]
    return out
