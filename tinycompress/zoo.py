"""The model zoo: architectures by name, and the trained checkpoints the project ships.

- ``lenet-300-100``: 784-300-100-10 with ReLU (LeCun et al. 1998; the Deep Compression
  baseline): 266,610 parameters.
- ``lenet5``: the Caffe variant used by Deep Compression: conv 20@5x5, max-pool 2,
  conv 50@5x5, max-pool 2, fc 500, ReLU, fc 10 (no ReLU after the convolutions): 431,080
  parameters.
- ``mobilenet-v1``: MobileNetV1 (Howard et al. 2017) with ``alpha``, ``resolution``,
  ``num_classes``, ``in_channels``, ``full_conv`` (see :mod:`tinycompress.mobilenet`).
- ``mobilenet-mnist``: a five-block MobileNet for 28x28 digits, same options.
- ``vgg16``: VGG-16 (Simonyan & Zisserman 2015, configuration D), the largest network Deep
  Compression compresses: 138,357,544 parameters, 15,470,264,320 MultAdds at 224x224. Built
  here for counting (``shape_only=True``), never trained (see chapter 6).

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
from .layers import SHAPE_ONLY, Conv2D, Dense, Dropout, Flatten, Layer, MaxPool2D, ReLU, ShapeOnly
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


VGG16_BLOCKS: tuple[tuple[int, int], ...] = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
"""VGG-16's five blocks: (channels, number of 3x3 convolutions), each followed by max-pool 2."""


def vgg16(num_classes: int = 1000, input_shape: Shape = (3, 224, 224), seed: int = 0,
          shape_only: bool = False) -> Sequential:
    """VGG-16: 13 convolutions 3x3 (padding 1, ReLU) in five blocks with max-pooling, then
    fc6 4096, fc7 4096 (ReLU, dropout 0.5) and fc8 ``num_classes``.

    Layer names follow Caffe (``conv1_1 .. conv5_3, fc6, fc7, fc8``), as in Deep Compression's
    Table 5. ``shape_only=True`` builds weightless placeholders (:class:`ShapeOnly`): the
    138 M weights (553 MB as float32) are then counted without being allocated.
    """
    rng: np.random.Generator | ShapeOnly = (
        SHAPE_ONLY if shape_only else np.random.default_rng(seed)
    )
    layers: list[Layer] = []
    channels = input_shape[0]
    for block, (width, convs) in enumerate(VGG16_BLOCKS, start=1):
        for k in range(1, convs + 1):
            layers += [Conv2D(channels, width, 3, 1, 1, name=f"conv{block}_{k}", rng=rng),
                       ReLU(name=f"relu{block}_{k}")]
            channels = width
        layers.append(MaxPool2D(2, name=f"pool{block}"))
    layers.append(Flatten(name="flatten"))
    (flat,) = Sequential(layers, input_shape).shapes()[-1]
    for name, d_in, d_out in (("6", flat, 4096), ("7", 4096, 4096)):
        layers += [Dense(d_in, d_out, name=f"fc{name}", rng=rng), ReLU(name=f"relu{name}"),
                   Dropout(0.5, seed=seed, name=f"drop{name}")]
    layers.append(Dense(4096, num_classes, name="fc8", rng=rng))
    return Sequential(layers, input_shape, "vgg16")


BUILDERS: dict[str, Callable[..., Sequential]] = {
    "lenet-300-100": lenet_300_100,
    "lenet5": lenet5,
    "mobilenet-v1": mobilenet_v1,
    "mobilenet-mnist": mobilenet_mnist,
    "vgg16": vgg16,
}

COUNTABLE: frozenset[str] = frozenset({"mobilenet-v1", "mobilenet-mnist", "vgg16"})
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
