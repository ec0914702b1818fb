"""Weight sharing with a k-means codebook, its centroid gradient, and the uniform baselines
(Han, Mao & Dally, *Deep Compression*, ICLR 2016, §3; Jacob et al., CVPR 2018, for int8).

A layer's weight tensor ``W`` becomes a codebook ``C`` of ``2**b`` float32 values and an integer
index per weight, ``W = C[I]``: b bits per weight instead of 32, plus the (tiny) codebook. On a
pruned layer only the kept weights are clustered; a pruned weight stays exactly zero and is not
a cluster (a boolean ``mask`` says which weights are kept), so the sparsity is preserved.

Trained quantisation fine-tunes the centroids with the assignments held fixed. Since every kept
weight is a copy of one centroid, the chain rule groups the weight gradients by index
(:func:`centroid_grad`): the gradient of a centroid is the sum of the gradients of its weights.

The baselines a reader compares with are uniform (affine) int8 quantisation with a scale and a
zero point (:func:`linear_quantize`) and plain float16.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinycompress.errors import ShapeError
from tinycompress.kmeans import RngLike, assign_sorted, kmeans_1d


def _check_bits(bits: int, top: int = 16) -> None:
    if int(bits) != bits or not 1 <= bits <= top:
        raise ShapeError(f"bits must be an integer in 1..{top}, got {bits!r}")


def index_dtype(bits: int) -> np.dtype:
    """Smallest unsigned integer dtype that holds indices ``0 .. 2**bits - 1``."""
    _check_bits(bits)
    return np.dtype(np.uint8 if bits <= 8 else np.uint16)


@dataclass
class SharedWeights:
    """A weight tensor stored as a codebook and indices.

    Attributes
    ----------
    codebook : ndarray, shape (2**bits,), float32
        The shared values (centroids), sorted ascending as :func:`share_weights` returns them
        (fine-tuning may reorder them; nothing relies on the order). Entries no weight uses may
        exist (fewer distinct kept weights than clusters); they cost codebook space only.
    indices : ndarray of uint8/uint16, shape of the weight tensor
        Index into ``codebook`` of every weight; 0 (meaningless) where ``mask`` is False.
    mask : ndarray of bool, shape of the weight tensor
        True for kept weights; False for pruned ones, which decode to exactly 0.
    bits : int
        Index width b; ``codebook.size == 2**bits``.
    """

    codebook: np.ndarray
    indices: np.ndarray
    mask: np.ndarray
    bits: int

    @property
    def k(self) -> int:
        """Number of codebook entries, ``2**bits``."""
        return int(self.codebook.size)

    def decode(self) -> np.ndarray:
        """The dense float32 weight tensor ``W = mask * C[I]``."""
        return np.where(self.mask, self.codebook[self.indices], np.float32(0))

    def counts(self) -> np.ndarray:
        """Number of kept weights per cluster, shape (k,)."""
        return np.bincount(self.indices[self.mask], minlength=self.k)


def share_weights(
    W: np.ndarray,
    bits: int,
    init: str = "linear",
    rng: RngLike = 0,
    mask: np.ndarray | None = None,
) -> SharedWeights:
    """Cluster the kept weights of ``W`` into ``2**bits`` shared values (1-D k-means).

    Parameters
    ----------
    W : ndarray, any shape
        A weight tensor (e.g. Dense ``(in, out)`` or Conv2D ``(F, C, K, K)``).
    bits : int
        Index width b in 1..16; the codebook has ``2**b`` entries.
    init : {"linear", "density", "random", "kmeans++"}
        Centroid initialisation (:func:`tinycompress.kmeans.init_centroids`).
    rng : int or numpy.random.Generator
        Seed or generator for the random initialisations.
    mask : ndarray of bool, shape ``W.shape``, optional
        Kept weights. Default ``W != 0``: a pruned weight is exactly zero, so the zeros of a
        pruned layer stay zero and take no cluster.

    Returns
    -------
    SharedWeights
        The indices are the nearest entries of the *float32* codebook, so ``decode()`` is the
        nearest-centroid quantisation of every kept weight.
    """
    _check_bits(bits)
    W = np.asarray(W)
    mask = (W != 0) if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != W.shape:
        raise ShapeError(f"mask shape {mask.shape} does not match weight shape {W.shape}")
    k = 2**bits
    kept = W[mask]
    if kept.size == 0:  # a fully pruned tensor: nothing to cluster
        codebook = np.zeros(k, dtype=np.float32)
    else:
        codebook = kmeans_1d(kept, k, init=init, rng=rng).centroids.astype(np.float32)
    codebook = np.sort(codebook)
    indices = np.zeros(W.shape, dtype=index_dtype(bits))
    indices[mask] = assign_sorted(kept, codebook)
    return SharedWeights(codebook=codebook, indices=indices, mask=mask, bits=int(bits))


def centroid_grad(dW: np.ndarray, shared: SharedWeights) -> np.ndarray:
    """Gradient of the loss with respect to the codebook, from the weight gradient.

    Derivation. Every kept weight is a copy of one centroid, ``W_ij = C_{I_ij}`` (``mask_ij``
    True), and a pruned weight is the constant 0. So ``dW_ij / dC_k = 1(I_ij = k) mask_ij`` and
    the chain rule gives (the paper's Eq. 3)

    .. math::  \\frac{\\partial L}{\\partial C_k}
               = \\sum_{i,j} \\frac{\\partial L}{\\partial W_{ij}}
                 \\frac{\\partial W_{ij}}{\\partial C_k}
               = \\sum_{i,j:\\, I_{ij} = k,\\ \\mathrm{mask}_{ij}}
                 \\frac{\\partial L}{\\partial W_{ij}} ,

    a grouped sum: "all the gradients are grouped by the colour and summed together". One
    ``np.bincount(I[mask], weights=dW[mask])`` computes all k sums in O(n).

    Parameters
    ----------
    dW : ndarray, shape of the weight tensor
        ``dL/dW`` evaluated at ``W = shared.decode()``.
    shared : SharedWeights

    Returns
    -------
    ndarray, shape (k,), float64
        ``dL/dC``; zero for clusters no weight uses.
    """
    dW = np.asarray(dW)
    if dW.shape != shared.indices.shape:
        raise ShapeError(
            f"gradient shape {dW.shape} does not match the indices' shape {shared.indices.shape}"
        )
    # BEGIN SOLUTION centroid-grad
    m = shared.mask
    dC = np.bincount(shared.indices[m], weights=dW[m], minlength=shared.k)
    # END SOLUTION
    return dC


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
    _check_bits(bits)
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
