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

from .errors import CheckpointError
from .models.lenet import lenet5, lenet_300_100
from .models.mobilenet import mobilenet_mnist, mobilenet_v1
from .models.vgg import vgg16
from .nn.checkpoint import load_model
from .nn.data import data_dir
from .nn.model import Sequential
from .nn.train import Recipe

BUILDERS: dict[str, Callable[..., Sequential]] = {
    "lenet-300-100": lenet_300_100,
    "lenet5": lenet5,
    "mobilenet-v1": mobilenet_v1,
    "mobilenet-mnist": mobilenet_mnist,
    "vgg16": vgg16,
}


COUNTABLE: frozenset[str] = frozenset({"mobilenet-v1", "mobilenet-mnist", "vgg16"})
"""Builders that accept ``shape_only=True`` (weightless placeholders, for counting only)."""


TRAINING_RECIPES: dict[str, Recipe] = {
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
