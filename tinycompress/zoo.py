"""The model zoo: architectures by name, and the trained checkpoints the project ships.

- ``lenet-300-100``: 784-300-100-10 with ReLU (LeCun et al. 1998; the Deep Compression
  baseline): 266,610 parameters.
- ``lenet5``: the Caffe variant used by Deep Compression: conv 20@5x5, max-pool 2,
  conv 50@5x5, max-pool 2, fc 500, ReLU, fc 10 (no ReLU after the convolutions): 431,080
  parameters.
- ``mobilenet-v1``: MobileNetV1 (Howard et al. 2017) with ``alpha``, ``resolution``,
  ``num_classes``, ``in_channels``, ``full_conv`` (see :mod:`tinycompress.models.mobilenet`).
- ``mobilenet-mnist``: a five-block MobileNet for 28x28 digits, same options.
- ``vgg16``: VGG-16 (Simonyan & Zisserman 2015, configuration D), the largest network Deep
  Compression compresses: 138,357,544 parameters, 15,470,264,320 MultAdds at 224x224. Built
  here for counting (``shape_only=True``), never trained (see chapter 6).

A zoo name given to a command means its shipped checkpoint (``data/checkpoints/<name>.npz``);
:func:`resolve_model` turns what a command is given (a zoo name, a checkpoint path or a
``.tcz`` file) into ``(model, meta)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .coding import tcz
from .errors import CheckpointError, UsageError, shown
from .models.lenet import lenet5, lenet_300_100
from .models.mobilenet import mobilenet_mnist, mobilenet_v1
from .models.vgg import vgg16
from .nn.architecture import MAX_PARAMETERS
from .nn.checkpoint import load_model
from .nn.data import VALIDATION, Normalization, data_dir, load_arrays, load_split
from .nn.model import Sequential
from .nn.train import Recipe, evaluate, train_with_recipe

BUILDERS: dict[str, Callable[..., Sequential]] = {
    "lenet-300-100": lenet_300_100,
    "lenet5": lenet5,
    "mobilenet-v1": mobilenet_v1,
    "mobilenet-mnist": mobilenet_mnist,
    "vgg16": vgg16,
}


COUNTABLE: frozenset[str] = frozenset({"mobilenet-v1", "mobilenet-mnist", "vgg16"})
"""Builders that accept ``shape_only=True`` (weightless placeholders, for counting only)."""

SCALABLE: frozenset[str] = frozenset({"mobilenet-v1", "mobilenet-mnist"})
"""Builders that take MobileNet's ``alpha``, ``resolution`` and ``full_conv``."""


TRAINING_RECIPES: dict[str, Recipe] = {
    # SGD momentum 0.9, weight decay 5e-4, cosine decay to 0, inputs standardised. Random shifts
    # of up to 2 pixels, chosen on the validation split: shift 0 / 1 / 2 gave 1.90% / 1.04% /
    # 0.94% validation error (seed 0).
    "lenet-300-100": Recipe(epochs=30, batch_size=128, lr=0.1, shift=2),
    # Caffe's LeNet-5 has no ReLU after its convolutions: lr 0.05 diverges, 0.01 is safe.
    # Random shifts of up to 2 pixels leave room under the paper's 0.80% error.
    "lenet5": Recipe(epochs=20, batch_size=64, lr=0.01, shift=2),
    # BatchNorm takes a large rate. Chosen on the validation split: after 1 epoch on 15k
    # images lr 0.05 / 0.1 / 0.2 / 0.4 reach 7.5 / 4.4 / 3.9 / 3.6% error; after 2 epochs on
    # 20k, lr 0.2 2.20%, 0.4 2.16%, weight decay 1e-4 2.02%, 1-pixel shifts 2.30%. 12 epochs
    # of 55k images take about 20 minutes on a shared 2-core machine.
    "mobilenet-mnist": Recipe(epochs=12, batch_size=128, lr=0.2, weight_decay=1e-4),
}
"""How each shipped checkpoint was trained (``tinycompress train NAME`` uses these defaults)."""


FALLBACK_LR: float = 0.01
"""The training learning rate assumed for a checkpoint that records no recipe (lenet5's, safe
for nets without batch normalisation): pruning retrains at a tenth of the training rate."""


PRETRAINED: dict[str, str] = {
    "lenet-300-100": "checkpoints/lenet-300-100.npz",
    "lenet5": "checkpoints/lenet5.npz",
    # Pruned by `tinycompress prune NAME --recipe NAME` (recipes in tinycompress.pruning.iterative).
    "lenet-300-100-pruned": "checkpoints/lenet-300-100-pruned.npz",
    "lenet5-pruned": "checkpoints/lenet5-pruned.npz",
    "mobilenet-mnist": "checkpoints/mobilenet-mnist.npz",
}
"""Zoo names of shipped checkpoints, relative to :func:`tinycompress.nn.data.data_dir`."""


def build(name: str, **kwargs: Any) -> Sequential:
    """A freshly initialised model of the named architecture."""
    if name not in BUILDERS:
        raise UsageError(f"unknown model {shown(name)}; the zoo has {sorted(BUILDERS)}")
    return BUILDERS[name](**kwargs)


def pretrained_path(name: str) -> Path:
    """Where the shipped checkpoint of a zoo name lives (the file may be missing)."""
    if name not in PRETRAINED:
        raise UsageError(
            f"no shipped checkpoint named {shown(name)}; shipped: {sorted(PRETRAINED)}"
        )
    return data_dir() / PRETRAINED[name]


def load_pretrained(name: str, max_parameters: int = MAX_PARAMETERS
                    ) -> tuple[Sequential, dict[str, Any]]:
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
    return load_model(path, max_parameters)


def training_lr(meta: dict[str, Any]) -> float:
    """The learning rate a checkpoint's model was trained with (else :data:`FALLBACK_LR`)."""
    return float(meta.get("recipe", {}).get("lr", FALLBACK_LR))


def train_model(name: str, folder: str | Path | None = None, seed: int = 0,
                limit: int | None = None, progress: bool = True,
                **overrides: Any) -> tuple[Sequential, dict[str, Any]]:
    """Train the architecture ``name`` from scratch with its recipe: ``(model, meta)``.

    Parameters
    ----------
    name : a zoo name with a recipe in :data:`TRAINING_RECIPES`.
    folder : a dataset in MNIST's IDX layout (default: the shipped MNIST). The model is sized
        to its images and classes; the input normalisation is fitted on its training images.
        The validation split (:data:`~tinycompress.nn.data.VALIDATION`) is never trained on.
    seed : the seed of the initial weights and of the batch order.
    limit : train on the first ``limit`` training images only (all if 0 or None).
    progress : show a progress bar.
    **overrides : recipe fields to change (``epochs``, ``lr``, ``shift``, ...).

    Returns
    -------
    The trained model and the meta its checkpoint records: recipe, seed, normalisation,
    training time, the validation split (``n``, ``seed``) and result, the test result, the
    data's SHA-256 digests and the final training loss.
    """
    if name not in TRAINING_RECIPES:
        raise UsageError(f"no training recipe for {shown(name)}; known: "
                         f"{sorted(TRAINING_RECIPES)}")
    recipe = replace(TRAINING_RECIPES[name], **overrides)
    split = load_split("train", folder)
    norm = Normalization.fit(split.images)
    X, y = norm(split.images), split.labels
    if limit:
        X, y = X[:limit], y[:limit]
    h, w = split.images.shape[1:]
    sized = ({"resolution": h} if name in SCALABLE and h == w
             else {"input_shape": (1, h, w)})  # MobileNets take square images
    model = build(name, num_classes=split.num_classes, seed=seed, **sized)
    start = time.perf_counter()
    history = train_with_recipe(model, X, y, recipe, seed=seed, progress=progress)
    seconds = time.perf_counter() - start
    val = load_split("validation", folder)
    return model, {"recipe": recipe.__dict__, "seed": seed, "normalization": norm.to_json(),
                   "train_seconds": round(seconds, 1),
                   "validation": {**VALIDATION.to_json(len(val.labels) + len(split.labels)),
                                  **evaluate(model, norm(val.images), val.labels)},
                   "test": evaluate(model, *load_arrays("test", folder, norm)),
                   "data_sha256": split.sha256, "final_train_loss": history[-1].loss}


def model_path(arg: str) -> Path:
    """The file a command's model argument names: a shipped checkpoint's, else ``arg`` itself
    (which may not exist: a bare architecture name names no file)."""
    return pretrained_path(arg) if arg in PRETRAINED else Path(arg)


def resolve_model(arg: str, max_parameters: int = MAX_PARAMETERS
                  ) -> tuple[Sequential, dict[str, Any]]:
    """What a command is given as its model -> ``(model, meta)``.

    Parameters
    ----------
    arg : a zoo name with a shipped checkpoint (:data:`PRETRAINED`), or the path of a
        checkpoint (``.npz``) or of a compressed ``.tcz`` file.
    max_parameters : a file describing a larger model is refused before anything is
        allocated (:data:`~tinycompress.nn.architecture.MAX_PARAMETERS` unless raised).

    Raises
    ------
    UsageError
        If ``arg`` names an architecture without shipped weights, or neither a zoo name nor an
        existing file.
    """
    if arg in PRETRAINED:
        return load_pretrained(arg, max_parameters)
    path = Path(arg)
    if path.is_file():
        load = tcz.load if path.suffix == ".tcz" else load_model
        return load(path, max_parameters)
    if arg in BUILDERS:
        raise UsageError(
            f"{shown(arg)} is an architecture without shipped weights; train it with `tinycompress "
            f"train {arg} --out PATH` where it has a recipe, or pass a checkpoint path"
        )
    raise UsageError(
        f"{shown(arg)} is neither a zoo name ({', '.join(sorted(BUILDERS))}) nor an existing file"
    )
