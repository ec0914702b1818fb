"""Experiment: is a depthwise-separable convolution as much faster as its MultAdds promise?

After Howard et al. 2017, "MobileNets", §3.1: a 3x3 depthwise + 1x1 pointwise pair costs
1/C + 1/9 of the MultAdds of a standard 3x3 convolution C -> C.

What it measures: :func:`time_separable_vs_standard` times, for each channel count, the
forward and backward pass of the three layers of this NumPy engine, each alone, and reports
milliseconds, GMAC/s and the measured time ratio beside the MultAdd ratio.

How to run it: it takes seconds, so chapter 1 calls it live on the reader's machine, e.g.
``time_separable_vs_standard([8, 32, 128])``. (``bench/bench_separable.py`` compares the same
layers with PyTorch.)

Where its JSON goes: nowhere; it returns the rows (one dict per channel count).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..nn.base import Layer
from ..nn.conv import Conv2D
from ..nn.depthwise import DepthwiseConv2D, PointwiseConv2D
from ..nn.model import Sequential
from ..timing import best_time


def _forward_backward(model: Sequential, x: np.ndarray) -> None:
    """The passes of one training step (no update): forward, then backward from ones."""
    out = model.forward(x, train=True)
    model.backward(np.ones_like(out))


def time_separable_vs_standard(
    channels: Sequence[int], size: int = 16, batch: int = 32, repeats: int = 3, seed: int = 0,
) -> list[dict[str, Any]]:
    """Forward+backward time of a 3x3 standard convolution C -> C against depthwise 3x3 +
    pointwise C -> C on a size x size map, beside the MultAdd ratio 1/C + 1/9.

    Each layer is timed alone, as inside a network (its input gradient is computed too), best
    of ``repeats`` single runs. Besides milliseconds, each row gives every layer's throughput in
    GMAC/s: 3 x its MultAdds x batch / time (forward, and backward's two products of the same
    size).
    """
    rows = []
    rng = np.random.default_rng(seed)
    for c in channels:
        x = rng.standard_normal((batch, c, size, size)).astype(np.float32)
        layers: dict[str, Layer] = {
            "standard": Conv2D(c, c, 3, 1, 1, bias=False, rng=rng),
            "depthwise": DepthwiseConv2D(c, 3, 1, 1, bias=False, rng=rng),
            "pointwise": PointwiseConv2D(c, c, bias=False, rng=rng),
        }
        row: dict[str, Any] = {"channels": c}
        multadds = {}
        for label, layer in layers.items():
            model = Sequential([layer], (c, size, size))
            layer.needs_input_grad = True
            best = best_time(lambda m=model, x=x: _forward_backward(m, x), repeats,
                             min_seconds=0.0)
            multadds[label] = model.multadds()
            row[f"{label}_ms"] = 1e3 * best
            row[f"{label}_gmacs"] = 3 * multadds[label] * batch / best / 1e9
        row["separable_ms"] = row["depthwise_ms"] + row["pointwise_ms"]
        row["time_ratio"] = row["separable_ms"] / row["standard_ms"]
        separable = multadds["depthwise"] + multadds["pointwise"]
        row["multadd_ratio"] = separable / multadds["standard"]
        rows.append(row)
    return rows
