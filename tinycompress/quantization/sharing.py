"""Weight sharing with a k-means codebook, and its centroid gradient (Han, Mao & Dally,
*Deep Compression*, ICLR 2016, §3).

A layer's weight tensor ``W`` becomes a codebook ``C`` of ``2**b`` float32 values and an integer
index per weight, ``W = C[I]``: b bits per weight instead of 32, plus the (tiny) codebook. On a
pruned layer only the kept weights are clustered; a pruned weight stays exactly zero and is not
a cluster (a boolean ``mask`` says which weights are kept), so the sparsity is preserved.

Trained quantisation fine-tunes the centroids with the assignments held fixed. Since every kept
weight is a copy of one centroid, the chain rule groups the weight gradients by index
(:func:`centroid_grad`): the gradient of a centroid is the sum of the gradients of its weights.

This file holds the codebook and indices of one tensor (:class:`SharedWeights`, made by
:func:`share_weights`) and :func:`centroid_grad`; the training loop that uses them on a whole
model is :mod:`tinycompress.quantization.trained`, the uniform baselines
:mod:`tinycompress.quantization.uniform`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError
from .kmeans import RngLike, assign_sorted, kmeans_1d


def check_bits(bits: int, top: int = 16) -> None:
    """Raise :class:`~tinycompress.errors.ShapeError` unless ``bits`` is an integer in 1..top."""
    if int(bits) != bits or not 1 <= bits <= top:
        raise ShapeError(f"bits must be an integer in 1..{top}, got {bits!r}")


def index_dtype(bits: int) -> np.dtype:
    """Smallest unsigned integer dtype that holds indices ``0 .. 2**bits - 1``."""
    check_bits(bits)
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
        Centroid initialisation (:func:`tinycompress.quantization.kmeans.init_centroids`).
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
    check_bits(bits)
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
