"""PyTorch's names and layouts for the engine's parameters: the conversions, stated once.

A PyTorch *state dict* names each tensor ``<module>.<attribute>``; the engine keys the same
arrays ``<layer>/<name>`` (:func:`~tinycompress.nn.architecture.state_arrays`). Layer by layer:

=====================  ===========================  =====================================
engine                 PyTorch                      conversion
=====================  ===========================  =====================================
``Dense`` ``W``        ``nn.Linear`` ``weight``     transposed: ``y = x W + b`` with W
                                                    (in, out), ``y = x weight^T + bias``
                                                    with weight (out, in)
``Dense`` ``b``        ``bias``                     none
``Conv2D`` ``W``       ``nn.Conv2d`` ``weight``     none: both (F, C, K, K)
``DepthwiseConv2D``    ``nn.Conv2d(groups=C)``      none: both (C, 1, K, K)
``BatchNorm2D``        ``nn.BatchNorm2d``           ``gamma`` / ``beta`` are ``weight`` /
                                                    ``bias``; running statistics as named
=====================  ===========================  =====================================

PyTorch's ``num_batches_tracked`` (a count the engine does not keep) is accepted and ignored.
BatchNorm's ``eps`` means the same everywhere (``sqrt(var + eps)``), and PyTorch's momentum is
the engine's (``running = (1 - m) running + m batch``); ONNX's is the other way round
(``running = m running + (1 - m) batch``), so ``m_onnx = 1 - m`` (:func:`onnx_momentum`).
Flattening needs no conversion: the engine, PyTorch and ONNX all flatten NCHW feature maps in
C order, channel-major.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InteropError, shown
from ..nn.architecture import engine_array
from ..nn.base import Layer
from ..nn.model import Sequential

TORCH_NAMES = {"W": "weight", "b": "bias", "gamma": "weight", "beta": "bias",
               "running_mean": "running_mean", "running_var": "running_var"}
"""The PyTorch attribute of each engine parameter or buffer name."""

UNTRACKED = "num_batches_tracked"
"""A PyTorch BatchNorm buffer the engine has no use for."""


def swap_layout(layer: Layer, key: str, array: np.ndarray) -> np.ndarray:
    """``array`` from the engine's layout to PyTorch's, or back: a transposition for a dense
    weight (its own inverse), the array itself otherwise."""
    return array.T if layer.kind == "fc" and key == "W" else array


def float32(value: float) -> float:
    """The shortest decimal that rounds to ``value`` in float32 (ONNX stores attributes in
    float32: ``1e-5`` comes back as ``9.99999974e-06``, and this makes it ``1e-05`` again)."""
    return float(str(np.float32(value)))


def onnx_momentum(momentum: float) -> float:
    """BatchNorm's momentum in ONNX's convention, from the engine's (= PyTorch's)."""
    return 1.0 - momentum


def engine_momentum(momentum: float) -> float:
    """BatchNorm's momentum in the engine's convention, from ONNX's float32 attribute."""
    return float32(1.0 - float32(momentum))


def engine_param(value: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    """A tensor read from another framework's file as an engine parameter: of ``shape``,
    float32, finite, and a writable copy (training updates parameters in place)."""
    value = np.asarray(value)
    if value.shape != tuple(shape):
        raise InteropError(f"{where} has shape {value.shape}; the layer needs {tuple(shape)}")
    value = engine_array(value, where, InteropError)
    if not np.isfinite(value).all():
        raise InteropError(f"{where} holds NaN or infinite values")
    return np.array(value, dtype=np.float32, order="C")


def torch_state(model: Sequential) -> dict[str, np.ndarray]:
    """The model's parameters and buffers as a PyTorch state dict, in PyTorch's layouts."""
    return {f"{layer.name}.{TORCH_NAMES[key]}": swap_layout(layer, key, value)
            for layer in model.layers
            for store in (layer.params, layer.buffers)
            for key, value in store.items()}


def _check_keys(model: Sequential, tensors: dict[str, np.ndarray], where: str) -> None:
    expected = set(torch_state(model))
    ignored = {f"{layer.name}.{UNTRACKED}" for layer in model.layers if layer.kind == "bn"}
    missing = sorted(expected - set(tensors))
    extra = sorted(set(tensors) - expected - ignored)
    if missing or extra:
        raise InteropError(f"{where}: the tensors do not match the architecture (missing "
                           f"{shown(missing)}, unexpected {shown(extra)})")
    for name in ignored & set(tensors):
        count = tensors[name]
        if count.shape != () or count.dtype.kind not in "iu":
            raise InteropError(f"{where}: {shown(name)} has shape {count.shape} dtype "
                               f"{count.dtype}; expected an integer scalar")


def load_torch_state(model: Sequential, tensors: dict[str, np.ndarray], where: str
                     ) -> Sequential:
    """Put a PyTorch state dict's tensors into ``model`` (built from its architecture, with
    placeholders), converting the layouts; every tensor is checked (:func:`engine_param`).

    Raises
    ------
    InteropError
        If a tensor is missing or unexpected, or has the wrong shape, dtype or values.
    """
    _check_keys(model, tensors, where)
    for layer in model.layers:
        for store in (layer.params, layer.buffers):
            for key, placeholder in store.items():
                name = f"{layer.name}.{TORCH_NAMES[key]}"
                torch_shape = swap_layout(layer, key, placeholder).shape
                value = engine_param(tensors[name], torch_shape, f"{where}: {shown(name)}")
                store[key] = np.ascontiguousarray(swap_layout(layer, key, value))
    return model
