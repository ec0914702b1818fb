r"""Activation scales and zero points, calibrated on training images (Jacob et al., CVPR 2018).

An activation tensor is stored as 8-bit unsigned integers ``q`` that stand for the reals

.. math:: r = S\,(q - Z), \qquad q \in \{0, \dots, 255\},

with one scale :math:`S > 0` and one integer zero point :math:`Z` per tensor. Weights need no
zero point (they are symmetric around 0, :mod:`.fixedpoint`); activations do, because their
range is not: an image standardised to mean 0 runs from -0.42 to 2.8, a ReLU's output from 0 up.
The zero point makes the real 0 exactly representable (it is the integer ``Z``), which matters
twice: the zero padding of a convolution must be an exact 0, and a ReLU is then the clamp
:math:`q \ge Z`.

**Calibration** chooses :math:`S` and :math:`Z` from the range :math:`[r_{min}, r_{max}]` each
tensor takes on a few thousand *training* images: the range is widened to contain 0, cut into
255 steps, and the zero point rounded to an integer (:meth:`QParams.from_range`). Values
outside the calibrated range saturate at 0 or 255.

**Which images.** The scales are a choice, so they are not made on the test set; nor on the
validation split (:data:`~tinycompress.nn.data.VALIDATION`), which is kept for judging the
choices made with them (an int8 model's validation error is a fair check of its calibration
only if the calibration never saw those images). :func:`calibration_images` draws a seeded
subset of the :data:`CALIBRATION_SPLIT` split, the training file minus the validation images.

Holds :class:`QParams` (and :func:`levels`, for activations narrower than 8 bits),
:func:`activation_ranges`, :func:`calibration_subset` and :func:`calibration_images`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..nn.data import Normalization, load_arrays
from ..nn.model import Sequential

QMAX = 255
"""Activations are uint8 by default: integers 0 .. 255."""

CALIBRATION_IMAGES = 5000
"""Default number of training images the activation ranges are measured on."""

CALIBRATION_SPLIT = "train"
"""The split calibration draws from (:func:`~tinycompress.nn.data.load_split`): never
``"validation"`` nor ``"test"``."""


@dataclass(frozen=True)
class QParams:
    """The affine quantisation of one tensor: ``real = scale * (q - zero_point)``, with ``q`` an
    integer of ``0 .. qmax`` (255 for uint8; :func:`levels` of fewer bits)."""

    scale: float
    zero_point: int
    qmax: int = QMAX

    @classmethod
    def from_range(cls, lo: float, hi: float, qmax: int = QMAX) -> QParams:
        r"""Scale and zero point for reals in ``[lo, hi]`` on the integers ``0 .. qmax``.

        The range is widened to contain 0, :math:`[l, h] = [\min(lo, 0), \max(hi, 0)]`, then

        .. math:: S = \frac{h - l}{q_{max}}, \qquad Z = \mathrm{round}(-l / S) \in [0, q_{max}],

        so the integer Z stands for exactly 0.0. Rounding Z moves the grid by at most half a
        step, so every real of ``[lo, hi]`` is still within :math:`S/2` of a level (one past an
        end of the moved grid saturates there, by at most that half step). An all-zero range
        gets ``S = 1, Z = 0``.
        """
        lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
        if not hi > lo:
            return cls(1.0, 0, qmax)
        scale = (hi - lo) / qmax
        return cls(scale, int(np.clip(np.round(-lo / scale), 0, qmax)), qmax)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """uint8 ``clip(round(x / S) + Z, 0, qmax)`` of a float array (any shape)."""
        q = np.round(np.asarray(x, dtype=np.float64) / self.scale) + self.zero_point
        return np.clip(q, 0, self.qmax).astype(np.uint8)

    @property
    def real_range(self) -> tuple[float, float]:
        """The reals of the integers 0 and qmax: anything outside saturates."""
        return self.scale * -self.zero_point, self.scale * (self.qmax - self.zero_point)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """The float32 reals ``S (q - Z)`` the integers stand for."""
        return (self.scale * (q.astype(np.float64) - self.zero_point)).astype(np.float32)


def levels(bits: int) -> int:
    """The largest unsigned integer of ``bits`` bits, ``2^bits - 1``: an activation's ``qmax``.

    Raises :class:`UsageError` unless ``1 <= bits <= 8`` (the integers are stored as uint8).
    """
    if isinstance(bits, bool) or not isinstance(bits, int | np.integer) or not 1 <= bits <= 8:
        raise UsageError(f"activations take 1 to 8 bits, got {bits!r}")
    return 2 ** int(bits) - 1


def activation_ranges(model: Sequential, X: np.ndarray,
                      batch_size: int = 500) -> dict[str, tuple[float, float]]:
    """Smallest and largest value of the input (key ``"input"``) and of every layer's output.

    ``X`` (N, *input_shape) is run through ``model`` in evaluation mode, ``batch_size`` examples
    at a time; the result maps layer names to ``(min, max)`` over all of ``X``.
    """
    if len(X) == 0:
        raise UsageError("calibration needs at least one image")
    names = ["input", *(layer.name for layer in model.layers)]
    lo = dict.fromkeys(names, np.inf)
    hi = dict.fromkeys(names, -np.inf)
    for start in range(0, len(X), batch_size):
        h = X[start : start + batch_size]
        for name, layer in zip(names, [None, *model.layers], strict=True):
            if layer is not None:
                h = layer.forward(h)
            lo[name] = min(lo[name], float(h.min()))
            hi[name] = max(hi[name], float(h.max()))
    return {name: (lo[name], hi[name]) for name in names}


def calibration_subset(X: np.ndarray, n: int = CALIBRATION_IMAGES, seed: int = 0) -> np.ndarray:
    """``n`` images of the training images ``X`` drawn without replacement by ``seed``, in their
    original order (all of them if there are fewer). ``X`` should be the ``"train"`` split (see
    the module docstring)."""
    if n <= 0:
        raise UsageError(f"the calibration set needs a positive number of images, got {n}")
    if n >= len(X):
        return X
    pick = np.random.default_rng(seed).choice(len(X), size=n, replace=False)
    return X[np.sort(pick)]


def calibration_images(folder: str | Path | None, norm: Normalization,
                       n: int = CALIBRATION_IMAGES, seed: int = 0) -> np.ndarray:
    """The calibration set of a dataset: ``n`` images of its ``"train"`` split.

    Parameters
    ----------
    folder : a dataset in MNIST's IDX layout (``None``: the shipped MNIST).
    norm : the model's input normalisation, applied to the images.
    n, seed : how many images :func:`calibration_subset` draws, and its seed.

    Returns
    -------
    float32 images (n, 1, H, W) from the :data:`CALIBRATION_SPLIT` split only: the held-out
    validation images and the test images are never used to choose a scale.
    """
    X, _ = load_arrays(CALIBRATION_SPLIT, folder, norm)
    return calibration_subset(X, n, seed)
