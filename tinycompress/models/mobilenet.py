"""MobileNetV1 (Howard et al. 2017): the architecture, its width and resolution multipliers.

The body (the paper's Table 1) is a standard 3x3 convolution followed by 13 depthwise-separable
blocks (depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU), global average pooling and
one fully-connected classifier. Every 3x3 layer uses padding 1, so a stride-2 layer maps a side
I to ceil(I/2). Table 1 prints stride 2 for the last depthwise layer; the paper's counts need
stride 1 (its input is already 7x7), which is what is built here. :func:`mobilenet_mnist` is a
five-block variant for 28x28 digits, and :func:`resize_images` applies the resolution
multiplier to them (the study that trains it is :mod:`tinycompress.experiments.mobilenet_grid`).

Counting conventions, matching the paper's tables exactly:

- *MultAdds*: convolution and fully-connected multiply-accumulates (the convention of
  :mod:`tinycompress.nn.base`). 1.0 MobileNet-224: 568,740,352.
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

from collections.abc import Sequence

import numpy as np

from ..errors import ShapeError, UsageError
from ..nn.architecture import MAX_DIMENSION, MAX_PARAMETERS, state_size
from ..nn.base import SHAPE_ONLY, Layer, ShapeOnly
from ..nn.batchnorm import BatchNorm2D
from ..nn.conv import Conv2D
from ..nn.dense import Dense
from ..nn.depthwise import DepthwiseConv2D, PointwiseConv2D, scale_width
from ..nn.elementwise import ReLU
from ..nn.model import Sequential
from ..nn.pooling import GlobalAvgPool2D

Block = tuple[int, int]  # (output channels at alpha = 1, stride)

V1_STEM: Block = (32, 2)
V1_BODY: tuple[Block, ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)
"""The 13 separable blocks of Table 1 (last depthwise at stride 1, see the module docstring)."""

MNIST_STEM: Block = (16, 2)
MNIST_BODY: tuple[Block, ...] = ((32, 1), (64, 2), (64, 1), (128, 2), (128, 1))
"""A five-block MobileNet for 28x28 digits: 28 -> 14 (stem) -> 7 -> 4, 128 channels at the end."""


def separable_block(
    in_channels: int, out_channels: int, stride: int, name: str,
    rng: np.random.Generator | ShapeOnly,
) -> list[Layer]:
    """Depthwise 3x3 (stride, padding 1) -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU."""
    return [DepthwiseConv2D(in_channels, 3, stride, 1, bias=False, name=f"dw{name}", rng=rng),
            BatchNorm2D(in_channels, name=f"dw{name}_bn", rng=rng), ReLU(name=f"dw{name}_relu"),
            PointwiseConv2D(in_channels, out_channels, bias=False, name=f"pw{name}", rng=rng),
            BatchNorm2D(out_channels, name=f"pw{name}_bn", rng=rng),
            ReLU(name=f"pw{name}_relu")]


def conv_block(
    in_channels: int, out_channels: int, stride: int, name: str,
    rng: np.random.Generator | ShapeOnly,
) -> list[Layer]:
    """Standard 3x3 convolution (stride, padding 1) -> BN -> ReLU."""
    return [Conv2D(in_channels, out_channels, 3, stride, 1, bias=False, name=f"conv{name}",
                   rng=rng),
            BatchNorm2D(out_channels, name=f"conv{name}_bn", rng=rng),
            ReLU(name=f"conv{name}_relu")]


def mobilenet(
    stem: Block, body: Sequence[Block], *, alpha: float = 1.0, resolution: int = 224,
    num_classes: int = 1000, in_channels: int = 3, full_conv: bool = False, seed: int = 0,
    shape_only: bool = False, name: str = "mobilenet",
) -> Sequential:
    """A MobileNet: a 3x3 stem convolution, then one block per ``(channels, stride)`` of
    ``body`` (separable, or a full 3x3 convolution with ``full_conv``), global average pooling
    and a fully-connected classifier. Channels are ``scale_width(c, alpha)``; the input is
    ``(in_channels, resolution, resolution)``.

    ``shape_only=True`` builds weightless placeholders (see
    :class:`~tinycompress.nn.base.ShapeOnly`): for counting only, in milliseconds. Every width
    and the resolution must lie in ``1..MAX_DIMENSION``, and a model with weights at most
    :data:`~tinycompress.nn.architecture.MAX_PARAMETERS` values (counted first, from shapes).
    """
    if not 1 <= resolution <= MAX_DIMENSION:
        raise UsageError(f"resolution must be a number of pixels in 1..{MAX_DIMENSION}, got "
                         f"{resolution}")
    widest = max(scale_width(c, alpha) for c, _ in (stem, *body))
    if widest > MAX_DIMENSION:
        raise UsageError(f"alpha {alpha:g} makes a layer {widest:,} channels wide, over the "
                         f"limit of {MAX_DIMENSION:,}")
    args = (stem, body, alpha, num_classes, in_channels, full_conv)
    if not shape_only:
        size = sum(state_size(layer) for layer in _layers(*args, SHAPE_ONLY))
        if size > MAX_PARAMETERS:
            raise UsageError(f"this MobileNet has {size:,} parameters and buffers, over the "
                             f"limit of {MAX_PARAMETERS:,}; build it with shape_only=True to "
                             "count it")
    rng = SHAPE_ONLY if shape_only else np.random.default_rng(seed)
    return Sequential(_layers(*args, rng), (in_channels, resolution, resolution), name)


def _layers(stem: Block, body: Sequence[Block], alpha: float, num_classes: int,
            in_channels: int, full_conv: bool, rng: np.random.Generator | ShapeOnly
            ) -> list[Layer]:
    """The layers of :func:`mobilenet`, their weights drawn from ``rng`` in layer order."""
    width = scale_width(stem[0], alpha)
    layers: list[Layer] = [
        Conv2D(in_channels, width, 3, stem[1], 1, bias=False, name="conv0", rng=rng),
        BatchNorm2D(width, name="bn0", rng=rng), ReLU(name="relu0"),
    ]
    block = conv_block if full_conv else separable_block
    for k, (channels, stride) in enumerate(body, start=1):
        out = scale_width(channels, alpha)
        layers += block(width, out, stride, str(k), rng)
        width = out
    return [*layers, GlobalAvgPool2D(name="pool"),
            Dense(width, num_classes, name="fc", rng=rng)]


def mobilenet_v1(
    alpha: float = 1.0, resolution: int = 224, num_classes: int = 1000, in_channels: int = 3,
    full_conv: bool = False, seed: int = 0, shape_only: bool = False,
) -> Sequential:
    """MobileNetV1 of the paper (Table 1) with width multiplier ``alpha`` and input side
    ``resolution`` (224 * rho). ``full_conv`` replaces every separable block by a standard
    3x3 convolution (the paper's Table 4 "Conv MobileNet")."""
    return mobilenet(V1_STEM, V1_BODY, alpha=alpha, resolution=resolution,
                     num_classes=num_classes, in_channels=in_channels, full_conv=full_conv,
                     seed=seed, shape_only=shape_only, name="mobilenet-v1")


def mobilenet_mnist(
    alpha: float = 1.0, resolution: int = 28, num_classes: int = 10, in_channels: int = 1,
    full_conv: bool = False, seed: int = 0, shape_only: bool = False,
) -> Sequential:
    """The small MobileNet for MNIST (:data:`MNIST_STEM`, :data:`MNIST_BODY`)."""
    return mobilenet(MNIST_STEM, MNIST_BODY, alpha=alpha, resolution=resolution,
                     num_classes=num_classes, in_channels=in_channels, full_conv=full_conv,
                     seed=seed, shape_only=shape_only, name="mobilenet-mnist")


def resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    r"""Linear-interpolation matrix R (n_out, n_in) along one axis, antialiased when shrinking.

    Output pixel i is centred at :math:`c_i = (i + 1/2)\,n_{in}/n_{out} - 1/2` in input
    coordinates and averages the input with the tent weights :math:`\max(0, 1 - |j - c_i|/s)`,
    :math:`s = \max(1, n_{in}/n_{out})`, normalised to sum to 1 (PIL's bilinear filter).
    ``n_out == n_in`` gives the identity.
    """
    if n_in < 1 or n_out < 1:
        raise ShapeError(f"sizes must be positive, got {n_in} -> {n_out}")
    scale = n_in / n_out
    support = max(1.0, scale)
    centres = (np.arange(n_out) + 0.5) * scale - 0.5
    R = np.maximum(0.0, 1.0 - np.abs(np.arange(n_in)[None, :] - centres[:, None]) / support)
    return R / R.sum(axis=1, keepdims=True)


def resize_images(x: np.ndarray, size: int) -> np.ndarray:
    """Resize a batch (N, C, H, W) to (N, C, size, size): ``R_h @ x @ R_w^T`` per image."""
    _, _, H, W = x.shape
    if (H, W) == (size, size):
        return x
    Rh = resize_matrix(H, size).astype(x.dtype)
    Rw = resize_matrix(W, size).astype(x.dtype)
    return np.matmul(np.matmul(Rh, x), Rw.T)
