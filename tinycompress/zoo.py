"""The model zoo: architectures by name, and the trained checkpoints the project ships.

- ``lenet-300-100``: 784-300-100-10 with ReLU (LeCun et al. 1998; the Deep Compression
  baseline): 266,610 parameters.
- ``lenet5``: the Caffe variant used by Deep Compression: conv 20@5x5, max-pool 2,
  conv 50@5x5, max-pool 2, fc 500, ReLU, fc 10 (no ReLU after the convolutions): 431,080
  parameters.
- ``mobilenet-v1``: MobileNetV1 (Howard et al. 2017) with ``alpha``, ``resolution``,
  ``num_classes``, ``in_channels``, ``full_conv`` (see :mod:`tinycompress.mobilenet`).
- ``mobilenet-mnist``: a five-block MobileNet for 28x28 digits, same options.

A zoo name given to a command means its shipped checkpoint (``data/checkpoints/<name>.npz``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import load_model
from .data import data_dir
from .errors import CheckpointError
from .layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from .mobilenet import mobilenet_mnist, mobilenet_v1
from .model import Sequential
from .train import Recipe

Shape = tuple[int, int, int]


def lenet_300_100(num_classes: int = 10, input_shape: Shape = (1, 28, 28),
                  seed: int = 0) -> Sequential:
    """Two hidden fully-connected layers of 300 and 100 ReLU units."""
    rng = np.random.default_rng(seed)
    d = int(np.prod(input_shape))
    layers = [Flatten(name="flatten"),
              Dense(d, 300, name="fc1", rng=rng), ReLU(name="relu1"),
              Dense(300, 100, name="fc2", rng=rng), ReLU(name="relu2"),
              Dense(100, num_classes, name="fc3", rng=rng)]
    return Sequential(layers, input_shape, "lenet-300-100")


def lenet5(num_classes: int = 10, input_shape: Shape = (1, 28, 28), seed: int = 0) -> Sequential:
    """Caffe's LeNet-5: two 5x5 convolutions with max-pooling, then fc 500 (ReLU) and fc 10."""
    rng = np.random.default_rng(seed)
    features = [Conv2D(input_shape[0], 20, 5, name="conv1", rng=rng), MaxPool2D(2, name="pool1"),
                Conv2D(20, 50, 5, name="conv2", rng=rng), MaxPool2D(2, name="pool2"),
                Flatten(name="flatten")]
    (flat,) = Sequential(features, input_shape).shapes()[-1]
    layers = [*features,
              Dense(flat, 500, name="fc1", rng=rng), ReLU(name="relu"),
              Dense(500, num_classes, name="fc2", rng=rng)]
    return Sequential(layers, input_shape, "lenet5")


BUILDERS: dict[str, Callable[..., Sequential]] = {
    "lenet-300-100": lenet_300_100,
    "lenet5": lenet5,
    "mobilenet-v1": mobilenet_v1,
    "mobilenet-mnist": mobilenet_mnist,
}

COUNTABLE: frozenset[str] = frozenset({"mobilenet-v1", "mobilenet-mnist"})
"""Builders that accept ``shape_only=True`` (weightless placeholders, for counting only)."""

RECIPES: dict[str, Recipe] = {
    # SGD momentum 0.9, weight decay 5e-4, cosine decay to 0, inputs standardised.
    "lenet-300-100": Recipe(epochs=30, batch_size=128, lr=0.1),
    # Caffe's LeNet-5 has no ReLU after its convolutions: lr 0.05 diverges, 0.01 is safe.
    # Random shifts of up to 2 pixels leave room under the paper's 0.80% error.
    "lenet5": Recipe(epochs=20, batch_size=64, lr=0.01, shift=2),
}
"""How each shipped checkpoint was trained (``tinycompress train NAME`` uses these defaults)."""

PRETRAINED: dict[str, str] = {
    "lenet-300-100": "checkpoints/lenet-300-100.npz",
    "lenet5": "checkpoints/lenet5.npz",
    # Pruned by `tinycompress prune NAME --recipe NAME` (recipes in tinycompress.prune).
    "lenet-300-100-pruned": "checkpoints/lenet-300-100-pruned.npz",
    "lenet5-pruned": "checkpoints/lenet5-pruned.npz",
}
"""Zoo names of shipped checkpoints, relative to :func:`tinycompress.data.data_dir`."""


def build(name: str, **kwargs: Any) -> Sequential:
    """A freshly initialised model of the named architecture."""
    if name not in BUILDERS:
        raise KeyError(f"unknown model {name!r}; the zoo has {sorted(BUILDERS)}")
    return BUILDERS[name](**kwargs)


def pretrained_path(name: str) -> Path:
    if name not in PRETRAINED:
        raise CheckpointError(
            f"no shipped checkpoint named {name!r}; shipped: {sorted(PRETRAINED)}"
        )
    return data_dir() / PRETRAINED[name]


def load_pretrained(name: str) -> tuple[Sequential, dict[str, Any]]:
    """The shipped checkpoint of a zoo name: ``(model, meta)``."""
    path = pretrained_path(name)
    if not path.is_file():
        base = name.removesuffix("-pruned")
        remake = (f"tinycompress prune {base} --recipe {base} --out data/{PRETRAINED[name]}"
                  if base != name else f"tinycompress train {name}")
        raise CheckpointError(
            f"the shipped checkpoint {path} is missing; restore it with `git checkout -- "
            f"data/{PRETRAINED[name]}` or re-create it with `{remake}`"
        )
    return load_model(path)
