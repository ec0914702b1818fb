"""A model as JSON, and the one way back: the schema every model file's architecture follows.

Both files the project writes (the ``.npz`` checkpoint of :mod:`.checkpoint` and the ``.tcz``
file of :mod:`tinycompress.coding.tcz`) store a model as its *architecture*, a JSON description
``{"name", "input_shape", "layers": [{"type", "config"}, ...]}``, plus its arrays keyed
``<layer>/<name>`` (:func:`state_arrays`). :func:`build_from_architecture` turns the
description back into a model with weightless placeholders (:data:`~.base.SHAPE_ONLY`), so
nothing is drawn at random or allocated before the caller has checked the arrays it read
against the shapes the description implies.

The description is checked field by field first (the checkers of :mod:`.schema`):

- ``name``: a printable string of at most :data:`MAX_NAME` characters; ``input_shape``: 1 to 3
  integers in ``1..``:data:`MAX_DIMENSION`; ``layers``: at most :data:`MAX_LAYERS` of them;
- each layer: ``type`` one of :data:`LAYER_TYPES` (concrete layers only), ``config`` the
  keyword arguments of that class's constructor, each of the type and range
  :data:`LAYER_CONFIGS` gives (sizes and kernels >= 1, padding >= 0, booleans, finite reals),
  ``name`` unique among the layers and without ``/`` (it prefixes the array keys), ``dtype``
  (optional) one of :data:`FILE_DTYPES`;
- then, layer by layer, the shapes follow by shape inference, one example holds at most
  :data:`MAX_ACTIVATION` values in any layer (input, output and scratch), and the parameters
  and buffers counted so far, from the placeholders' shapes alone, stay within
  ``max_parameters`` (:data:`MAX_PARAMETERS` unless the caller opts in to more).

Any violation raises the reading format's own error class, one line naming the field.
:func:`engine_array` is the one rule for the arrays themselves: the engine's float32.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from ..errors import CheckpointError, ShapeError, TinyCompressError, shown
from .base import SHAPE_ONLY, Layer, Shape
from .batchnorm import BatchNorm2D
from .conv import Conv2D
from .dense import Dense, Flatten
from .depthwise import DepthwiseConv2D, PointwiseConv2D
from .elementwise import Dropout, ReLU
from .model import Sequential
from .pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from .schema import (
    Anything,
    ErrorClass,
    Field,
    Flag,
    Int,
    Items,
    OneOf,
    Real,
    Text,
    check_object,
)

MAX_DIMENSION = 1 << 24
"""No size in an architecture (a width, a kernel, a stride, a padding, an input side) may
exceed this."""

MAX_LAYERS = 1 << 10
"""The most layers an architecture may list (MobileNetV1 has 83)."""

MAX_PARAMETERS = 1 << 28
"""Default cap on a file's parameters and buffers, in values: 1 GiB of float32 (VGG-16 has
138 M). Counted from shapes alone; readers take ``max_parameters`` to opt in to more."""

MAX_ACTIVATION = 1 << 26
"""The most values one example may hold at once in any layer's forward pass, its input, output
and scratch (:meth:`~.base.Layer.working_values`): 256 MiB of float32. VGG-16's busiest
layer, conv1_2 with its patch matrix, holds 39 M; LeNet-5's 41 K."""

MAX_NAME = 100
"""The longest model or layer name, in characters."""

ENGINE_DTYPE = np.dtype(np.float32)
"""What every array of a model file holds (the engine computes in float32)."""

FILE_DTYPES = ("float32",)
"""The ``dtype`` a file's layer config may name. The constructors also take float64, for
gradient checks in memory; a file never needs it: :meth:`~.base.Layer.config` writes no dtype,
and a file's arrays are float32 (:func:`engine_array`)."""

_SIZE = Int(1, MAX_DIMENSION)
_PADDING = Int(0, MAX_DIMENSION)
_WINDOW = {"kernel_size": _SIZE, "stride": Int(1, MAX_DIMENSION, null=True)}

LAYER_CONFIGS: dict[type[Layer], dict[str, Field]] = {
    Dense: {"in_features": _SIZE, "out_features": _SIZE},
    Flatten: {},
    Conv2D: {"in_channels": _SIZE, "out_channels": _SIZE, "kernel_size": _SIZE,
             "stride": _SIZE, "padding": _PADDING, "bias": Flag()},
    DepthwiseConv2D: {"channels": _SIZE, "kernel_size": _SIZE, "stride": _SIZE,
                      "padding": _PADDING, "bias": Flag()},
    PointwiseConv2D: {"in_channels": _SIZE, "out_channels": _SIZE, "bias": Flag()},
    MaxPool2D: _WINDOW,
    AvgPool2D: _WINDOW,
    GlobalAvgPool2D: {},
    BatchNorm2D: {"num_features": _SIZE, "momentum": Real(0, 1),
                  "eps": Real(0, math.inf, lo_open=True)},
    ReLU: {},
    Dropout: {"p": Real(0, 1, hi_open=True), "seed": Int(0, 2**64 - 1)},
}
"""Every layer type a file may name, with the type and range of each constructor argument
(``name`` and ``dtype``, common to all, are added by :data:`_SCHEMAS`)."""

LAYER_TYPES: dict[str, type[Layer]] = {cls.__name__: cls for cls in LAYER_CONFIGS}
"""Every layer type a file may name, by class name."""

_COMMON: dict[str, Field] = {"name": Text(MAX_NAME, forbidden="/"), "dtype": OneOf(FILE_DTYPES)}


def _schema(cls: type[Layer]) -> tuple[dict[str, Field], tuple[str, ...], bool]:
    """The config fields of ``cls``, the required ones (no default, and ``name``), and whether
    the constructor takes ``rng`` (and so builds placeholders for SHAPE_ONLY)."""
    params = inspect.signature(cls).parameters
    fields = {**LAYER_CONFIGS[cls], **{k: v for k, v in _COMMON.items() if k in params}}
    required = tuple(k for k in fields if params[k].default is inspect.Parameter.empty)
    return fields, (*required, "name"), "rng" in params


_SCHEMAS = {cls: _schema(cls) for cls in LAYER_CONFIGS}
_TOP: dict[str, Field] = {"name": Text(MAX_NAME), "input_shape": Items(3, _SIZE, min_len=1),
                          "layers": Items(MAX_LAYERS)}
_SPEC: dict[str, Field] = {"type": OneOf(tuple(LAYER_TYPES)), "config": Anything()}


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


def check_dtype(dtype: np.dtype, where: str, error: ErrorClass) -> None:
    """Refuse an array dtype other than float32 (in either byte order)."""
    if dtype.kind != "f" or dtype.itemsize != ENGINE_DTYPE.itemsize:
        raise error(f"{where} has dtype {shown(dtype.str)}; expected float32 ('<f4' or '>f4'), "
                    "the engine's dtype: convert the model with model.astype(np.float32)")


def engine_array(value: np.ndarray, where: str, error: ErrorClass) -> np.ndarray:
    """``value`` as the engine's native float32; any other dtype is refused.

    float32 in the other byte order (``>f4``) holds the same numbers and is converted: a model
    read from a file computes, and is written again, in native order. float16 and float64 are
    refused rather than converted, so a file and the model read from it never differ by a
    rounding nobody asked for (:func:`~.checkpoint.save_model` writes float32 only).
    """
    check_dtype(value.dtype, where, error)
    return value if value.dtype == ENGINE_DTYPE else value.astype(ENGINE_DTYPE)


def state_size(layer: Layer) -> int:
    """Values in the parameters and buffers of ``layer`` (placeholders count their shape)."""
    return sum(a.size for store in (layer.params, layer.buffers) for a in store.values())


def build_from_architecture(arch: Any, error: ErrorClass = CheckpointError, *,
                            where: str = "architecture",
                            max_parameters: int = MAX_PARAMETERS) -> Sequential:
    """The model :func:`architecture` described, with weightless placeholder parameters.

    The caller replaces every parameter and buffer by the arrays it read (checked against the
    placeholders' shapes). Every field is checked first (see the module docstring): any
    malformed description raises ``error``, the reading format's own exception, with a
    one-line message naming the field from ``where`` on (``architecture.layers[3].config``).

    Parameters
    ----------
    arch : the parsed JSON description.
    error : the exception class of the reading format.
    where : how the message names the description.
    max_parameters : the most parameter and buffer values the model may have; raise it above
        :data:`MAX_PARAMETERS` to read a larger model.
    """
    top = check_object(arch, _TOP, where, error, required=_TOP)
    shape = tuple(top["input_shape"])
    _within(math.prod(shape), f"{where}.input_shape {shape}", error)
    layers: list[Layer] = []
    first: dict[str, int] = {}
    total = 0
    for i, spec in enumerate(top["layers"]):
        at = f"{where}.layers[{i}]"
        layer = _build_layer(spec, at, error)
        if first.setdefault(layer.name, i) != i:
            raise error(f"{at}.config.name is {shown(layer.name)}, already the name of "
                        f"layers[{first[layer.name]}]; layer names must be unique")
        out = _output_shape(layer, shape, at, error)
        _within(layer.working_values(shape), f"{at} (input {shape}, output {out})", error)
        shape = out
        total += state_size(layer)
        if total > max_parameters:
            raise error(f"{where}: the parameters and buffers up to layers[{i}] number "
                        f"{total:,}, over the limit of {max_parameters:,} values; a genuine "
                        "model this large needs a larger limit (--max-params)")
        layers.append(layer)
    return Sequential(layers, tuple(top["input_shape"]), top["name"])


def _build_layer(spec: Any, at: str, error: ErrorClass) -> Layer:
    """One layer from its checked ``{"type", "config"}``, with placeholder weights."""
    spec = check_object(spec, _SPEC, at, error, required=_SPEC)
    cls = LAYER_TYPES[spec["type"]]
    fields, required, takes_rng = _SCHEMAS[cls]
    config = check_object(spec["config"], fields, f"{at}.config", error, required)
    if takes_rng:
        config["rng"] = SHAPE_ONLY
    try:
        return cls(**config)
    except TinyCompressError as exc:  # a placeholder too large to address
        raise error(f"{at}: {exc}") from exc


def _output_shape(layer: Layer, shape: Shape, at: str, error: ErrorClass) -> Shape:
    try:
        return tuple(layer.output_shape(shape))
    except ShapeError as exc:
        raise error(f"{at} does not fit its input: {exc}") from exc


def _within(values: int, what: str, error: ErrorClass) -> None:
    """Refuse ``what`` if one example of it holds more than :data:`MAX_ACTIVATION` values."""
    if values > MAX_ACTIVATION:
        raise error(f"{what} holds {values:,} values per example, over the limit of "
                    f"{MAX_ACTIVATION:,}")
