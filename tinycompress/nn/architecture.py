"""A model as JSON, and the one way back: every layer type the engine knows, by name.

Both files the project writes (the ``.npz`` checkpoint of :mod:`.checkpoint` and the ``.tcz``
file of :mod:`tinycompress.coding.tcz`) store a model as its *architecture*, a JSON description
``{"name", "input_shape", "layers": [{"type", "config"}, ...]}``, plus its arrays keyed
``<layer>/<name>`` (:func:`state_arrays`). :func:`build_from_architecture` turns the
description back into a model with weightless placeholders (:data:`~.base.SHAPE_ONLY`), so
nothing is drawn at random or allocated before the caller has checked the arrays it read
against the shapes the description implies.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from ..errors import CheckpointError, TinyCompressError
from .base import SHAPE_ONLY, Layer
from .batchnorm import BatchNorm2D
from .conv import Conv2D
from .dense import Dense, Flatten
from .depthwise import DepthwiseConv2D, PointwiseConv2D
from .elementwise import Dropout, ReLU
from .model import Sequential
from .pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D

LAYER_TYPES: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (Dense, Flatten, Conv2D, DepthwiseConv2D, PointwiseConv2D, MaxPool2D, AvgPool2D,
                GlobalAvgPool2D, BatchNorm2D, ReLU, Dropout)
}
"""Every layer type a file may name, by class name."""

MAX_DIMENSION = 1 << 24
"""No integer in an architecture (a width, a kernel, an input side) may exceed this."""


def architecture(model: Sequential) -> dict[str, Any]:
    """The JSON description from which :func:`build_from_architecture` rebuilds the model."""
    return {
        "name": model.name,
        "input_shape": list(model.input_shape),
        "layers": [{"type": type(layer).__name__, "config": layer.config()}
                   for layer in model.layers],
    }


def state_arrays(model: Sequential) -> dict[str, np.ndarray]:
    """Every parameter and buffer keyed ``<layer>/<name>``."""
    return {f"{layer.name}/{key}": value
            for layer in model.layers
            for store in (layer.params, layer.buffers)
            for key, value in store.items()}


def _check_dimensions(value: Any, error: type[TinyCompressError]) -> None:
    """Refuse absurd integers anywhere in an architecture before any layer is built."""
    if isinstance(value, dict):
        for v in value.values():
            _check_dimensions(v, error)
    elif isinstance(value, list | tuple):
        for v in value:
            _check_dimensions(v, error)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_DIMENSION:
        raise error(f"the architecture has a dimension of {value}, over {MAX_DIMENSION}; the "
                    "file is corrupt or not for this program")


def build_from_architecture(arch: Any, error: type[TinyCompressError] = CheckpointError
                            ) -> Sequential:
    """The model :func:`architecture` described, with weightless placeholder parameters.

    The caller replaces every parameter and buffer by the arrays it read (checked against the
    placeholders' shapes). Any malformed description (an unknown layer type, a missing key, a
    bad config, an absurd dimension, layers that do not fit together) raises ``error``, the
    reading format's own exception.
    """
    try:
        _check_dimensions(arch["layers"], error)
        _check_dimensions(arch["input_shape"], error)
        layers = []
        for spec in arch["layers"]:
            cls = LAYER_TYPES.get(spec["type"])
            if cls is None:
                raise error(f"unknown layer type {spec['type']!r} in the architecture; known: "
                            f"{', '.join(sorted(LAYER_TYPES))}")
            config = dict(spec["config"])
            if "rng" in inspect.signature(cls).parameters:
                config["rng"] = SHAPE_ONLY
            layers.append(cls(**config))
        return Sequential(layers, tuple(arch["input_shape"]), arch["name"])
    except error:
        raise
    except Exception as exc:  # any malformed description: bad config, layers that do not fit, ...
        raise error(f"invalid architecture description: {exc!r}") from exc
