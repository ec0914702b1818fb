r"""The integer arithmetic of int8 inference: weight scales, the fixed-point multiplier, and the
bounds that prove the accumulators exact (Jacob et al., CVPR 2018, §2; gemmlowp).

**Weights**, symmetric per output channel: row f of a layer's matrix (:mod:`.gemm`) gets the
scale :math:`S_{w,f} = \max_d |A_{fd}| / 127` and the integers
:math:`q_{w,fd} = \mathrm{round}(A_{fd} / S_{w,f}) \in [-127, 127]`. No zero point, so a pruned
weight stays an exact 0; one scale per channel, so a channel of small weights keeps its
precision.

**One output**, from the activation algebra of :mod:`.calibration`
(:math:`r = S (q - Z)`) and the bias stored as the int32 :math:`q_{b,f} =
\mathrm{round}(b_f / (S_{in} S_{w,f}))`:

.. math::
    S_{out} (q_{out} - Z_{out}) = \sum_d S_{w,f} q_{w,fd}\, S_{in} (q_{in,d} - Z_{in}) + b_f
    \;\Longrightarrow\;
    q_{out} = Z_{out} + M_f\, a_f, \qquad
    a_f = q_{b,f} + \sum_d q_{w,fd} (q_{in,d} - Z_{in}), \qquad
    M_f = \frac{S_{in} S_{w,f}}{S_{out}} .

The accumulator :math:`a_f` is an integer sum (int32 on the hardware); the only real number
left is :math:`M_f`, written as :math:`M_f = 2^{-n} M_0` with :math:`M_0 \in [0.5, 1)` stored
as the int32 :math:`\mathrm{round}(M_0 2^{31})` (Q31). So the **requantisation**
:func:`requantize` is one integer multiply and one rounding right shift by :math:`31 + n`.

**Exactness.** :func:`accumulator_bound` bounds :math:`|a_f - q_{b,f}|` for every possible
input; :func:`exact_carrier` picks the float type that carries such sums exactly through BLAS.
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError

WEIGHT_QMAX = 127
"""int8 weights use -127 .. 127 (symmetric: -128 would have no positive twin)."""

INT32_LIMIT = 2**31
"""Accumulators and biases must stay below this in magnitude: they are int32."""

CARRIERS: tuple[tuple[type[np.floating], int], ...] = ((np.float32, 2**24), (np.float64, 2**53))
"""Float types that hold every integer up to their limit exactly: 24 and 53 significand bits."""


def weight_levels(bits: int) -> int:
    """The largest magnitude of a symmetric ``bits``-bit weight, ``2^(bits - 1) - 1``: 127 for
    int8, 7 for int4, 1 for 2 bits (-1, 0, 1).

    Raises :class:`UsageError` unless ``2 <= bits <= 8``.
    """
    if isinstance(bits, bool) or not isinstance(bits, int | np.integer) or not 2 <= bits <= 8:
        raise UsageError(f"weights take 2 to 8 bits, got {bits!r}")
    return 2 ** (int(bits) - 1) - 1


def quantize_per_channel(A: np.ndarray,
                         qmax: int = WEIGHT_QMAX) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric integer weights per row: ``(q (out, in) int8, scale (out,) float64)``.

    ``scale[f] = max |A[f]| / qmax`` (1.0 for an all-zero row, which stays zero), and
    ``q = round(A / scale)`` in ``[-qmax, qmax]`` (127 for int8, :func:`weight_levels` for
    fewer bits), so ``|A - scale q| <= scale / 2`` entry by entry.
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2:
        raise UsageError(f"per-channel quantisation needs an (out, in) matrix, got {A.shape}")
    peak = np.abs(A).max(axis=1, initial=0.0)
    scale = np.where(peak > 0, peak / qmax, 1.0)
    q = np.clip(np.round(A / scale[:, None]), -qmax, qmax)
    return q.astype(np.int8), scale


def quantize_multiplier(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""The fixed-point form of positive real multipliers: ``(M0 int64 Q31, n int64)``.

    ``np.frexp`` writes :math:`M = m\,2^{e}` with :math:`m \in [0.5, 1)`; then
    :math:`M_0 = \mathrm{round}(m\,2^{31}) \in [2^{30}, 2^{31})` and :math:`n = -e`, so
    :math:`M \approx M_0\,2^{-(31 + n)}` with a relative error of at most :math:`2^{-31}`.
    (If m rounds up to :math:`2^{31}` it becomes :math:`2^{30}` with e one larger.) A multiplier
    below :math:`2^{-31}` keeps the largest shift, 62, and a smaller :math:`M_0`.
    """
    M = np.asarray(M, dtype=np.float64)
    if not (np.all(M > 0) and np.all(M < 2.0**24)):
        raise UsageError("requantisation multipliers must be positive and below 2^24")
    m, e = np.frexp(M)
    m0 = np.round(m * INT32_LIMIT).astype(np.int64)
    carry = m0 == INT32_LIMIT
    m0, e = np.where(carry, INT32_LIMIT // 2, m0), e + carry
    tiny = 31 - e > 62
    m0 = np.where(tiny, np.round(np.minimum(M, 2.0**-31) * 2.0**62), m0).astype(np.int64)
    return m0, np.where(tiny, 31, -e).astype(np.int64)


def requantize(acc: np.ndarray, multiplier: np.ndarray, shift: np.ndarray, zero_point: int,
               lo: int = 0, hi: int = 255) -> np.ndarray:
    r"""int32 accumulators to uint8 outputs: :math:`q = \mathrm{clip}(Z + \mathrm{round}(a M_0
    / 2^{31 + n}), lo, hi)`, in integer arithmetic only.

    The rounding is a right shift after adding half of its divisor,
    :math:`\lfloor (a M_0 + 2^{s-1}) / 2^s \rfloor` with :math:`s = 31 + n` (round half up; an
    arithmetic shift floors negative numbers too). With :math:`|a| < 2^{31}` and
    :math:`M_0 < 2^{31}` the product stays below :math:`2^{62}`: int64 holds it. gemmlowp rounds
    twice (a rounding doubling high multiply, then a rounding divide by :math:`2^n`); one
    rounding of the exact product is simpler and never less accurate. ReLU is the clamp
    ``lo = Z``.

    Parameters
    ----------
    acc : int64 array, any shape; accumulators (bias included).
    multiplier, shift : int64 arrays broadcasting against ``acc`` (one per output channel):
        :math:`M_0` in Q31 and n, from :func:`quantize_multiplier`.
    zero_point : the output's zero point Z.
    lo, hi : the clamp (0 and 255, or Z and 255 for a fused ReLU).
    """
    total = 31 + np.asarray(shift, dtype=np.int64)
    # BEGIN SOLUTION requantize
    half = np.left_shift(np.int64(1), total - 1)
    scaled = np.right_shift(acc * multiplier + half, total)
    # END SOLUTION
    return np.clip(scaled + zero_point, lo, hi).astype(np.uint8)


def accumulator_bound(q_weights: np.ndarray, zero_point: int, qmax: int = 255) -> np.ndarray:
    r"""Per output row, the largest :math:`|\sum_d q_{w,fd}(q_d - Z)|` any uint8 input can give.

    An input can sit :math:`u = q_{max} - Z` above its zero point and :math:`Z` below it. With
    :math:`P_f` the sum of the row's positive weights and :math:`N_f` of the magnitudes of its
    negative ones, the sum is largest when every input sits at the end its weight's sign
    favours, and most negative at the opposite ends, so

    .. math:: B_f = \max(P_f u + N_f Z,\; P_f Z + N_f u),

    reached by one of those two inputs. It bounds every partial sum too, in any order: a
    subset of the terms has smaller P and N. Shapes: (out, in) int8 -> (out,) int64.
    """
    w = q_weights.astype(np.int64)
    positive = np.where(w > 0, w, 0).sum(axis=1)
    negative = np.where(w < 0, -w, 0).sum(axis=1)
    up, down = qmax - zero_point, zero_point
    return np.maximum(positive * up + negative * down, positive * down + negative * up)


def exact_carrier(bound: int) -> type[np.number]:
    r"""The narrowest type in which integer dot products bounded by ``bound`` are exact.

    A float with p significand bits holds every integer of magnitude up to :math:`2^p`. If every
    product and every partial sum of a dot product is an integer no larger than that (which
    :func:`accumulator_bound` guarantees for any summation order BLAS may choose), each
    multiply and add returns its exact result: rounding has nothing to round. So float32 is
    exact for ``bound <= 2**24``, float64 for ``bound <= 2**53``; beyond, int64 (no BLAS).
    """
    for dtype, limit in CARRIERS:
        if bound <= limit:
            return dtype
    return np.int64
