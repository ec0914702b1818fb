r"""Integer-only inference: int8 weights, uint8 activations, int32 accumulators, end to end
(Jacob et al., "Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference", CVPR 2018; the gemmlowp / TFLite scheme).

:func:`compile_int8` turns a float model and a calibration set into an :class:`IntModel`:

- the input image is quantised once (:class:`~.calibration.QParams`), and from there on every
  value is an integer;
- each Dense / Conv2D becomes an :class:`IntLinear`: per-channel int8 weights, an int32 bias,
  the accumulation :math:`a = q_b + \sum q_w (q_{in} - Z_{in})`, and the requantisation to
  uint8 by a fixed-point multiplier and a rounding shift (:mod:`.fixedpoint`); a ReLU right
  after it is fused as the clamp :math:`q \ge Z_{out}`;
- max-pooling compares the integers (the map :math:`q \mapsto S(q - Z)` is increasing, so
  the largest integer is the largest real); average pooling adds them and divides with
  rounding; Flatten reshapes; Dropout is the identity; a BatchNorm after a convolution is
  folded into it first (:func:`~.gemm.fold_batchnorm`).

The class scores are the last layer's uint8 outputs: their argmax is the prediction (ties, which
8 bits make possible, go to the first class).

**Narrower integers.** The same algebra runs on fewer levels: ``compile_int8``'s
``weight_bits`` and ``activation_bits`` give a layer symmetric weights of 2 to 8 bits
(:func:`~.fixedpoint.weight_levels`) and output activations of 1 to 8 bits
(:func:`~.calibration.levels`), still held in int8 / uint8 arrays.

Every accumulator is computed two ways, which must agree bit for bit:

- the **reference** (``exact=True``): the integers in int64, NumPy's integer matrix product
  (plain loops, no BLAS);
- the **fast path** (``exact=False``): the same integers carried as float32 through BLAS, which
  is exact because :func:`~.fixedpoint.accumulator_bound` proves every partial sum stays below
  2^24 (float64 where it does not; :func:`~.fixedpoint.exact_carrier`). NumPy has no int8
  matrix product, so this is the fastest exact way it has; it keeps a float copy of the int8
  weights for BLAS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..errors import UsageError
from ..nn.base import Layer
from ..nn.dense import Flatten
from ..nn.elementwise import Dropout, ReLU
from ..nn.im2col import windows
from ..nn.model import Sequential
from ..nn.pooling import AvgPool2D, MaxPool2D, maxpool_forward
from .calibration import QParams, activation_ranges, levels
from .fixedpoint import (
    INT32_LIMIT,
    accumulator_bound,
    exact_carrier,
    quantize_multiplier,
    quantize_per_channel,
    requantize,
    weight_levels,
)
from .gemm import Geometry, as_gemm, fold_batchnorm, is_weight_layer


class IntOp(Protocol):
    """One step of an integer model: uint8 in, uint8 out."""

    name: str

    def forward(self, q: np.ndarray, exact: bool = False) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class IntLinear:
    """A Dense or Conv2D layer in integers (the notation of :mod:`.fixedpoint`)."""

    name: str
    weights: np.ndarray  # (out, in) int8, q_w
    weight_scale: np.ndarray  # (out,) float64, S_w per channel
    bias: np.ndarray  # (out,) int32, q_b at scale S_in * S_w
    multiplier: np.ndarray  # (out,) int64, M0 in Q31
    shift: np.ndarray  # (out,) int64, n: M = M0 2^-(31 + n)
    q_in: QParams
    q_out: QParams
    relu: bool  # a fused ReLU: clamp at Z_out
    geometry: Geometry
    bound: np.ndarray  # (out,) int64, the largest |a - q_b| any input can give
    carried: np.ndarray  # the int8 weights as the fast path's float carrier

    def accumulate(self, q: np.ndarray, exact: bool = False) -> np.ndarray:
        """int64 accumulators (out, columns): ``q_b + q_w @ cols(q - Z_in)``."""
        x = q.astype(np.int16) - np.int16(self.q_in.zero_point)  # real 0 -> integer 0
        if exact:
            acc = self.weights.astype(np.int64) @ self.geometry.columns(x.astype(np.int64))
        else:
            acc = self.carried @ self.geometry.columns(x.astype(self.carried.dtype))
        return acc.astype(np.int64) + self.bias[:, None]

    def forward(self, q: np.ndarray, exact: bool = False) -> np.ndarray:
        """uint8 outputs: the accumulators requantised to the output's scale and zero point."""
        lo = self.q_out.zero_point if self.relu else 0
        y = requantize(self.accumulate(q, exact), self.multiplier[:, None], self.shift[:, None],
                       self.q_out.zero_point, lo, self.q_out.qmax)
        return self.geometry.fold(y, q.shape)


@dataclass(frozen=True)
class IntPool:
    """Max or average pooling of uint8 maps with one scale and zero point in and out."""

    name: str
    kernel: int
    stride: int
    average: bool = False

    def forward(self, q: np.ndarray, exact: bool = False) -> np.ndarray:
        """Max: the largest integer of each window. Average: the window sum divided by K^2,
        rounded half up (all integers are >= 0), which is the mean of the reals rounded to
        the nearest level since ``S (mean(q) - Z) = mean(S (q - Z))``."""
        if not self.average:
            return maxpool_forward(q, self.kernel, self.stride)[0]
        area = self.kernel * self.kernel
        total = windows(q, self.kernel, self.stride).sum(axis=(-2, -1), dtype=np.int64)
        return ((total + area // 2) // area).astype(np.uint8)


@dataclass(frozen=True)
class IntReLU:
    """A ReLU that follows no weight layer: the clamp ``q >= Z``."""

    name: str
    zero_point: int

    def forward(self, q: np.ndarray, exact: bool = False) -> np.ndarray:
        return np.maximum(q, np.uint8(self.zero_point))


@dataclass(frozen=True)
class IntFlatten:
    """(N, C, H, W) -> (N, C*H*W), as :class:`~tinycompress.nn.dense.Flatten`."""

    name: str

    def forward(self, q: np.ndarray, exact: bool = False) -> np.ndarray:
        return q.reshape(q.shape[0], -1)


@dataclass(eq=False)
class IntModel:
    """A model in integers: the input's quantisation, then uint8 -> uint8 steps."""

    name: str
    input_shape: tuple[int, ...]
    q_in: QParams
    ops: list[IntOp]
    q_out: QParams  # of the class scores

    def forward(self, x: np.ndarray, exact: bool = False) -> np.ndarray:
        """uint8 class scores (N, classes) of float images x (N, *input_shape).

        ``exact`` selects the int64 reference instead of the float-carried fast path; the two
        return the same integers.
        """
        if tuple(x.shape[1:]) != self.input_shape:
            raise UsageError(f"{self.name} expects inputs of shape {self.input_shape}, "
                             f"got {tuple(x.shape[1:])}")
        q = self.q_in.quantize(x)
        for op in self.ops:
            q = op.forward(q, exact)
        return q

    def logits(self, x: np.ndarray, exact: bool = False) -> np.ndarray:
        """The class scores as the float32 reals they stand for."""
        return self.q_out.dequantize(self.forward(x, exact))

    def linear_ops(self) -> list[IntLinear]:
        """The weight layers, in order."""
        return [op for op in self.ops if isinstance(op, IntLinear)]

    def rows(self) -> list[dict[str, Any]]:
        """Per weight layer: the accumulator bound, its carrier, the int32 headroom, M and n."""
        rows = []
        for op in self.linear_ops():
            M = op.q_in.scale * op.weight_scale / op.q_out.scale
            worst = int((op.bound + np.abs(op.bias.astype(np.int64))).max())
            rows.append({"name": op.name, "inputs": int(op.weights.shape[1]),
                         "bound": int(op.bound.max()), "carrier": op.carried.dtype.name,
                         "float32_limit": 2**24, "int32_use": worst / INT32_LIMIT,
                         "M_min": float(M.min()), "M_max": float(M.max()),
                         "n_min": int(op.shift.min()), "n_max": int(op.shift.max()),
                         "zero_in": op.q_in.zero_point, "zero_out": op.q_out.zero_point})
        return rows


def int_linear(layer: Layer, q_in: QParams, q_out: QParams, relu: bool,
               weight_bits: int = 8) -> IntLinear:
    """The integer form of a Dense or Conv2D layer, given its input and output quantisation
    (their ``qmax`` sets the activations' width) and its weights' width in bits.

    Raises :class:`UsageError` if some input could push an accumulator beyond int32.
    """
    A, b, geometry = as_gemm(layer)
    q_w, s_w = quantize_per_channel(A, weight_levels(weight_bits))
    bias_scale = q_in.scale * s_w  # S_in S_w: the scale of every product q_w (q_in - Z_in)
    bias = np.round(b.astype(np.float64) / bias_scale)
    bound = accumulator_bound(q_w, q_in.zero_point, q_in.qmax)
    worst = float((bound + np.abs(bias)).max())
    if worst >= INT32_LIMIT:
        raise UsageError(f"{layer.name}: an accumulator could reach {worst:.3g}, beyond int32 "
                         "(2^31); the layer has too many or too large inputs for 8-bit "
                         "inference")
    m0, n = quantize_multiplier(bias_scale / q_out.scale)
    carried = q_w.astype(exact_carrier(int(bound.max())))
    return IntLinear(layer.name, q_w, s_w, bias.astype(np.int32), m0, n, q_in, q_out, relu,
                     geometry, bound, carried)


def _fused(layer: Layer, following: Layer) -> bool:
    return is_weight_layer(layer) and isinstance(following, ReLU)


def _int_op(layer: Layer, q: QParams, q_out: QParams, relu: bool,
            weight_bits: int) -> tuple[IntOp | None, QParams]:
    """The integer step of one float layer and the quantisation of its output."""
    if is_weight_layer(layer):
        return int_linear(layer, q, q_out, relu, weight_bits), q_out
    if isinstance(layer, MaxPool2D | AvgPool2D):
        average = isinstance(layer, AvgPool2D)
        return IntPool(layer.name, layer.kernel_size, layer.stride, average), q
    if isinstance(layer, Flatten):
        return IntFlatten(layer.name), q
    if isinstance(layer, ReLU):
        return IntReLU(layer.name, q.zero_point), q
    if isinstance(layer, Dropout):
        return None, q
    raise UsageError(f"{layer.name}: int8 inference runs Dense, Conv2D (a BatchNorm2D after it "
                     "is folded in), max and average pooling, ReLU, Flatten and Dropout, not "
                     f"{type(layer).__name__}")


def _widths(model: Sequential, bits: Mapping[str, int] | None, what: str,
            check: Callable[[int], int]) -> dict[str, int]:
    """Bits per weight layer of ``model``: 8 unless ``bits`` names the layer; every width is
    checked by ``check`` (which raises :class:`UsageError`) before any image is read."""
    names = [layer.name for layer in model.layers if is_weight_layer(layer)]
    bits = dict(bits or {})
    if unknown := sorted(set(bits) - set(names)):
        raise UsageError(f"{what} bits for {unknown}, which are not weight layers of "
                         f"{model.name} ({', '.join(names)})")
    for width in bits.values():
        check(width)
    return {name: bits.get(name, 8) for name in names}


def compile_int8(model: Sequential, calibration: np.ndarray, batch_size: int = 500,
                 weight_bits: Mapping[str, int] | None = None,
                 activation_bits: Mapping[str, int] | None = None) -> IntModel:
    """The integer model of ``model``, its activation ranges measured on ``calibration``.

    Parameters
    ----------
    model : a float model of the layers listed in the module docstring.
    calibration : float images (N, *input_shape) from the *training* set
        (:func:`~.calibration.calibration_images`), never the test set.
    batch_size : examples per forward pass while calibrating.
    weight_bits, activation_bits : per weight layer (by name), the width of its weights
        (2 to 8 bits, :func:`~.fixedpoint.weight_levels`) and of its output activations
        (1 to 8 bits, :func:`~.calibration.levels`, stored in uint8); 8 for a layer not named.
        The input image is always 8 bits.
    """
    model = fold_batchnorm(model)
    w_bits = _widths(model, weight_bits, "weight", weight_levels)
    a_bits = _widths(model, activation_bits, "activation", levels)
    ranges = activation_ranges(model, calibration, batch_size)
    q_in = q = QParams.from_range(*ranges["input"])
    layers, ops = model.layers, []
    for i, layer in enumerate(layers):
        if i and _fused(layers[i - 1], layer):
            continue  # applied by the layer before it
        relu = i + 1 < len(layers) and _fused(layer, layers[i + 1])
        measured = ranges[layers[i + 1].name if relu else layer.name]
        q_out = QParams.from_range(*measured, levels(a_bits.get(layer.name, 8)))
        op, q = _int_op(layer, q, q_out, relu, w_bits.get(layer.name, 8))
        if op is not None:
            ops.append(op)
    return IntModel(model.name, model.input_shape, q_in, ops, q)
