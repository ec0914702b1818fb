"""MobileNetV1 (Howard et al. 2017): the architecture, its multipliers, and a small MNIST study.

The body (the paper's Table 1) is a standard 3x3 convolution followed by 13 depthwise-separable
blocks (depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU), global average pooling and
one fully-connected classifier. Every 3x3 layer uses padding 1, so a stride-2 layer maps a side
I to ceil(I/2). Table 1 prints stride 2 for the last depthwise layer; the paper's counts need
stride 1 (its input is already 7x7), which is what is built here.

Counting conventions, matching the paper's tables exactly:

- *MultAdds*: convolution and fully-connected multiply-accumulates (the
  :mod:`tinycompress.layers` convention). 1.0 MobileNet-224: 568,740,352.
- The paper's *parameters* are the conv + FC **weights** (no biases, no BN): the ``weights``
  total of ``model.summary()`` (4,209,088 for 1.0-224). The summary's ``params`` counts every
  trainable array, as for every model in the zoo: the weights plus the classifier's bias plus
  BatchNorm's gamma and beta (4,231,976 for 1.0-224). Both round to the paper's 4.2 M, and so
  for every row of its Tables 4-7. (BatchNorm's running statistics are buffers, not
  parameters.)

Layer names: ``conv0 bn0 relu0`` (stem), then per block k = 1..13 ``dw{k} dw{k}_bn dw{k}_relu
pw{k} pw{k}_bn pw{k}_relu`` (or ``conv{k} conv{k}_bn conv{k}_relu`` with ``full_conv``), then
``pool`` and ``fc``. Filter-pruning pointwise layer ``pw{k}`` removes channels of ``dw{k+1}``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..nn.base import Layer
from ..nn.conv import Conv2D
from ..nn.depthwise import DepthwiseConv2D, PointwiseConv2D
from ..nn.model import Sequential


def time_separable_vs_standard(
    channels: Sequence[int], size: int = 16, batch: int = 32, repeats: int = 3, seed: int = 0,
) -> list[dict[str, Any]]:
    """Forward+backward time of a 3x3 standard convolution C -> C against depthwise 3x3 +
    pointwise C -> C on a size x size map, beside the MultAdd ratio 1/C + 1/9.

    Each layer is timed alone, as inside a network (its input gradient is computed too), best
    of ``repeats``. Besides milliseconds, each row gives every layer's throughput in GMAC/s:
    3 x its MultAdds x batch / time (forward, and backward's two products of the same size).
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
            best = np.inf
            for _ in range(repeats):
                start = time.perf_counter()
                out = model.forward(x, train=True)
                model.backward(np.ones_like(out))
                best = min(best, time.perf_counter() - start)
            multadds[label] = model.multadds()
            row[f"{label}_ms"] = 1e3 * best
            row[f"{label}_gmacs"] = 3 * multadds[label] * batch / best / 1e9
        row["separable_ms"] = row["depthwise_ms"] + row["pointwise_ms"]
        row["time_ratio"] = row["separable_ms"] / row["standard_ms"]
        separable = multadds["depthwise"] + multadds["pointwise"]
        row["multadd_ratio"] = separable / multadds["standard"]
        rows.append(row)
    return rows
