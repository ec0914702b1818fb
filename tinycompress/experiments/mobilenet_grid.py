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

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..models.mobilenet import mobilenet_mnist, resize_images
from ..nn.checkpoint import atomic_write, save_model
from ..nn.data import Normalization, load_split
from ..nn.optim import SGD, cosine
from ..nn.train import evaluate, fit

MNIST_RESOLUTIONS = (28, 24, 20, 16)
"""rho = 1, 6/7, 5/7, 4/7: the paper's 224, 192, 160, 128 scaled to 28x28 digits."""


def mnist_arrays(
    split: str, resolution: int, norm: Normalization, limit: int | None = None,
    folder: str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised MNIST images resized to ``resolution`` (first ``limit``), and labels."""
    data = load_split(split, folder)
    images, labels = data.images[:limit], data.labels[:limit]
    return resize_images(norm(images), resolution), labels


def train_point(
    alpha: float, resolution: int, full_conv: bool = False, *, train_limit: int = 20000,
    test_limit: int | None = None, epochs: int = 2, batch_size: int = 64, lr: float = 0.1,
    weight_decay: float = 1e-4, seed: int = 0, folder: str | Path | None = None,
    save: str | Path | None = None,
) -> dict[str, Any]:
    """Train one MNIST MobileNet from scratch and report its counts, accuracy and time.

    SGD with momentum 0.9 and cosine decay, inputs standardised then resized; the test images
    are resized the same way. Returns a JSON-able dict, also stored as the checkpoint's meta
    (with the normalisation) when ``save`` names a checkpoint file to write.
    """
    norm = Normalization.fit(load_split("train", folder).images)
    X, y = mnist_arrays("train", resolution, norm, train_limit, folder)
    Xt, yt = mnist_arrays("test", resolution, norm, test_limit, folder)
    model = mobilenet_mnist(alpha, resolution, full_conv=full_conv, seed=seed)
    steps = epochs * -(-len(X) // batch_size)
    optimizer = SGD(model, lr, 0.9, weight_decay)
    start = time.perf_counter()
    fit(model, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
        schedule=cosine(lr, steps), seed=seed, progress=False)
    seconds = time.perf_counter() - start
    summary = model.summary()
    result = evaluate(model, Xt, yt)
    row = {"alpha": alpha, "resolution": resolution, "full_conv": full_conv,
           "multadds": summary["multadds"], "params": summary["params"],
           "weights": summary["weights"], "accuracy": result["accuracy"],
           "test_n": result["n"], "train_n": len(X), "epochs": epochs,
           "train_seconds": round(seconds, 1), "seed": seed}
    if save is not None:
        save_model(model, save, {**row, "normalization": norm.to_json(), "test": result})
    return row


def run_grid(
    points: Sequence[tuple[float, int, bool]], out: str | Path | None = None,
    log: Callable[[str], Any] = print, **train_kwargs: Any,
) -> list[dict[str, Any]]:
    """Train every ``(alpha, resolution, full_conv)`` point; after each one, rewrite ``out``
    (JSON, atomically) so an interrupted run keeps what it finished."""
    rows: list[dict[str, Any]] = []
    for alpha, resolution, full_conv in points:
        row = train_point(alpha, resolution, full_conv, **train_kwargs)
        rows.append(row)
        log(f"alpha {alpha:<5} res {resolution:<3} {'full' if full_conv else 'sep '}  "
            f"MultAdds {row['multadds']:>10,}  params {row['params']:>8,}  "
            f"acc {row['accuracy']:.4f}  ({row['train_seconds']} s)")
        if out is not None:
            text = json.dumps({"rows": rows, "settings": train_kwargs}, indent=1)
            atomic_write(out, lambda f, text=text: f.write(text.encode("utf-8")))
    return rows
