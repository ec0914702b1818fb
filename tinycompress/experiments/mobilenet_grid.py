"""Experiment: the MNIST MobileNet's accuracy and cost over width and resolution multipliers.

The analogue of Howard et al. 2017, "MobileNets", Tables 4-7.

What it measures: every (alpha, resolution) pair of :data:`ALPHAS` x
:data:`MNIST_RESOLUTIONS`, with depthwise-separable and with full convolutions, trained from
scratch for a few epochs on a subset of the training split (:func:`train_point`), evaluated on
the validation split and tested on all 10,000 test images: MultAdds, parameters, weights,
validation and test accuracy and training time. The grid makes no choice itself; a choice made
from it (which width or resolution to ship) is made on ``validation_accuracy``, and the test
accuracy is the figure shown.

How to run it (about 20 minutes; one BLAS thread, the machine is shared)::

    OPENBLAS_NUM_THREADS=1 python -m tinycompress.experiments.mobilenet_grid \
        [--train-limit 20000] [--epochs 2] [--seed 0] [--out PATH]

Where its JSON goes: ``data/results/mobilenet_grid.json``
(:func:`~tinycompress.experiments.results.results_path`), rewritten after every point so that
an interrupted run keeps what it finished, with the validation split (``n``, ``seed``);
chapter 2 loads it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..models.mobilenet import mobilenet_mnist, resize_images
from ..nn.checkpoint import save_model
from ..nn.data import VALIDATION, Normalization, load_split
from ..nn.optim import SGD, cosine
from ..nn.train import evaluate, fit
from .results import results_path, write_results

MNIST_RESOLUTIONS = (28, 24, 20, 16)
"""rho = 1, 6/7, 5/7, 4/7: the paper's 224, 192, 160, 128 scaled to 28x28 digits."""


ALPHAS = (1.0, 0.75, 0.5, 0.25)
"""The paper's width multipliers."""


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
    test_limit: int | None = None, validation_limit: int | None = None, epochs: int = 2,
    batch_size: int = 64, lr: float = 0.1, weight_decay: float = 1e-4, seed: int = 0,
    folder: str | Path | None = None, save: str | Path | None = None,
) -> dict[str, Any]:
    """Train one MNIST MobileNet from scratch and report its counts, accuracy and time.

    SGD with momentum 0.9 and cosine decay on the first ``train_limit`` images of the training
    split, inputs standardised then resized; the validation and test images (the first
    ``validation_limit`` and ``test_limit``) are resized the same way. Returns a JSON-able
    dict (``validation_accuracy`` and ``accuracy``, the test accuracy, among its keys), also
    stored as the checkpoint's meta (with the normalisation) when ``save`` names a checkpoint
    file to write.
    """
    norm = Normalization.fit(load_split("train", folder).images)
    X, y = mnist_arrays("train", resolution, norm, train_limit, folder)
    Xv, yv = mnist_arrays("validation", resolution, norm, validation_limit, folder)
    Xt, yt = mnist_arrays("test", resolution, norm, test_limit, folder)
    model = mobilenet_mnist(alpha, resolution, full_conv=full_conv, seed=seed)
    steps = epochs * -(-len(X) // batch_size)
    optimizer = SGD(model, lr, 0.9, weight_decay)
    start = time.perf_counter()
    fit(model, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
        schedule=cosine(lr, steps), seed=seed, progress=False)
    seconds = time.perf_counter() - start
    summary = model.summary()
    val, result = evaluate(model, Xv, yv), evaluate(model, Xt, yt)
    row = {"alpha": alpha, "resolution": resolution, "full_conv": full_conv,
           "multadds": summary["multadds"], "params": summary["params"],
           "weights": summary["weights"], "validation_accuracy": val["accuracy"],
           "validation_n": val["n"], "accuracy": result["accuracy"],
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
    (JSON, atomically) so an interrupted run keeps what it finished. The document holds the
    ``rows``, the ``settings`` and the ``validation`` split (``n``, ``seed``)."""
    total = len(load_split("train", train_kwargs.get("folder")).labels)
    total += len(load_split("validation", train_kwargs.get("folder")).labels)
    rows: list[dict[str, Any]] = []
    for alpha, resolution, full_conv in points:
        row = train_point(alpha, resolution, full_conv, **train_kwargs)
        rows.append(row)
        log(f"alpha {alpha:<5} res {resolution:<3} {'full' if full_conv else 'sep '}  "
            f"MultAdds {row['multadds']:>10,}  params {row['params']:>8,}  "
            f"val acc {row['validation_accuracy']:.4f}  test acc {row['accuracy']:.4f}  "
            f"({row['train_seconds']} s)")
        if out is not None:
            write_results(out, {"rows": rows, "settings": train_kwargs,
                                "validation": VALIDATION.to_json(total)})
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Train the whole grid (see the module docstring) and write its JSON."""
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--train-limit", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(results_path("mobilenet_grid")))
    args = parser.parse_args(argv)
    points = [(a, r, full) for full in (False, True) for a in ALPHAS for r in MNIST_RESOLUTIONS]
    run_grid(points, args.out, log=lambda s: print(s, flush=True),
             train_limit=args.train_limit, epochs=args.epochs, seed=args.seed)


if __name__ == "__main__":
    main()
