"""The baselines trained quantisation is compared with: uniform (affine) integer quantisation
with a scale and a zero point, as in Jacob et al., "Quantization and Training of Neural Networks
for Efficient Integer-Arithmetic-Only Inference" (CVPR 2018), and plain float16.

This file holds :class:`LinearQuant` and :func:`linear_quantize` (int8 at 8 bits, any width
2..16) and :func:`float16_roundtrip`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError
from .sharing import check_bits


@dataclass
class LinearQuant:
    """Uniform affine quantisation ``W ~ scale * (q - zero_point)``.

    Attributes
    ----------
    q : ndarray of int8 (bits <= 8) or int16, shape of the weight tensor
    scale : float
        Step between neighbouring levels.
    zero_point : int
        The integer that represents the real value 0 exactly.
    bits : int
    """

    q: np.ndarray
    scale: float
    zero_point: int
    bits: int

    def decode(self) -> np.ndarray:
        """Dequantised float32 tensor ``scale * (q - zero_point)``."""
        return (self.scale * (self.q.astype(np.float64) - self.zero_point)).astype(np.float32)


def linear_quantize(W: np.ndarray, bits: int = 8) -> LinearQuant:
    """Uniform quantisation to signed ``bits``-bit integers with a scale and a zero point.

    The real range is widened to contain 0, ``[lo, hi] = [min(W, 0), max(W, 0)]``, and cut into
    ``2**b - 1`` equal steps, ``scale = (hi - lo) / (2**b - 1)``. The zero point
    ``z = round(qmin - lo / scale)`` makes 0 exactly representable, and

    .. math::  q = \\mathrm{clip}(\\mathrm{round}(W / s) + z,\\ q_{min},\\ q_{max}),
               \\qquad \\hat W = s (q - z) .

    Rounding the zero point shifts the grid by at most half a step, so the grid still reaches
    within ``s/2`` of ``lo`` and ``hi`` and the round-trip error is at most ``scale / 2``.

    Parameters
    ----------
    W : ndarray, any shape
    bits : int, 2..16 (default 8: int8)

    Returns
    -------
    LinearQuant
    """
    check_bits(bits)
    if bits < 2:
        raise ShapeError("linear quantisation needs at least 2 bits (a signed range)")
    x = np.asarray(W, dtype=np.float64)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    lo, hi = min(float(x.min(initial=0.0)), 0.0), max(float(x.max(initial=0.0)), 0.0)
    # BEGIN SOLUTION linear-quantize
    scale = (hi - lo) / (qmax - qmin) if hi > lo else 1.0
    zero_point = int(np.clip(np.round(qmin - lo / scale), qmin, qmax))
    q = np.clip(np.round(x / scale) + zero_point, qmin, qmax)
    # END SOLUTION
    dtype = np.int8 if bits <= 8 else np.int16
    return LinearQuant(q=q.astype(dtype), scale=scale, zero_point=zero_point, bits=int(bits))


def float16_roundtrip(W: np.ndarray) -> np.ndarray:
    """The float16 baseline: ``W`` rounded to half precision and back to float32.

    Half precision keeps 11 significant bits, so the relative error is at most ``2**-11``
    for weights in the normal range (|w| >= 6.1e-5); smaller ones lose relative precision.
    """
    return np.asarray(W).astype(np.float16).astype(np.float32)
