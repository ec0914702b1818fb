"""Sparse inference for pruned fully-connected layers: CSR storage and its products, in NumPy.

This file holds the :class:`CSR` matrix, its matrix-vector and matrix-matrix products, the
CSR form of a pruned Dense layer (:class:`SparseDense`, :func:`to_sparse`), a forward pass
through a model with it (:func:`sparse_forward`) and the dense-against-sparse timing of the
chapter (:func:`time_dense_vs_sparse`).

After Han et al. (NeurIPS 2015, §6; Deep Compression, ICLR 2016, §6.3): a pruned layer stored
densely costs as much time as an unpruned one; stored as a *compressed sparse row* (CSR)
matrix, a product touches only the surviving weights. Whether that is faster depends on the
batch: for one input (a matrix-vector product, memory-bound) skipping 92% of the weights
pays; for a batch of 64 (matrix-matrix, where dense BLAS reuses each weight 64 times from
cache) the irregular gathers of a sparse product usually lose. The chapter measures both.

A Dense layer computes :math:`y = xW + b` with W (in, out). For row-wise access we store
:math:`A = W^T` (out, in) in CSR, so one output unit is one CSR row:

.. math:: y_m = b_m + \\sum_{k=p_m}^{p_{m+1}-1} v_k\\, x_{j_k}

with ``data`` :math:`v` (nnz,), ``indices`` :math:`j` (nnz,) the input index of each value,
and ``indptr`` :math:`p` (out + 1,) where row m's values start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError
from ..nn.base import Layer
from ..nn.model import Sequential
from ..timing import best_time


@dataclass(frozen=True)
class CSR:
    """A (rows, cols) matrix in compressed sparse row form."""

    data: np.ndarray  # (nnz,) the nonzero values, row by row
    indices: np.ndarray  # (nnz,) int32 column of each value
    indptr: np.ndarray  # (rows + 1,) int64; row i is data[indptr[i]:indptr[i + 1]]
    shape: tuple[int, int]

    @classmethod
    def from_dense(cls, a: np.ndarray) -> CSR:
        """Compress a 2-D array, keeping its exact nonzeros (row-major order)."""
        if a.ndim != 2:
            raise ShapeError(f"CSR needs a 2-D array, got shape {a.shape}")
        rows, cols = np.nonzero(a)
        indptr = np.zeros(a.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=a.shape[0]), out=indptr[1:])
        return cls(a[rows, cols], cols.astype(np.int32), indptr, (int(a.shape[0]),
                                                                  int(a.shape[1])))

    @property
    def nnz(self) -> int:
        """Number of stored values."""
        return int(self.data.size)

    @property
    def nbytes(self) -> int:
        """Storage of the three arrays."""
        return int(self.data.nbytes + self.indices.nbytes + self.indptr.nbytes)

    def to_dense(self) -> np.ndarray:
        """The full (rows, cols) array."""
        out = np.zeros(self.shape, dtype=self.data.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out[rows, self.indices] = self.data
        return out


def csr_matvec_naive(a: CSR, x: np.ndarray) -> np.ndarray:
    """:math:`y = A x` by the definition, one row at a time (the reference for tests)."""
    y = np.zeros(a.shape[0], dtype=np.result_type(a.data, x))
    # BEGIN SOLUTION csr-matvec-naive
    for i in range(a.shape[0]):
        lo, hi = a.indptr[i], a.indptr[i + 1]
        y[i] = np.dot(a.data[lo:hi], x[a.indices[lo:hi]])
    # END SOLUTION
    return y


def _row_sums(a: CSR, products: np.ndarray) -> np.ndarray:
    """Sum ``products`` (nnz, ...) over each row's segment; empty rows give 0.

    ``np.add.reduceat`` sums between consecutive start offsets; it is given only the starts of
    the nonempty rows, since an empty row's segment would otherwise read its neighbour's value.
    """
    out = np.zeros((a.shape[0], *products.shape[1:]), dtype=products.dtype)
    starts = a.indptr[:-1]
    nonempty = starts < a.indptr[1:]
    if products.shape[0]:
        out[nonempty] = np.add.reduceat(products, starts[nonempty], axis=0)
    return out


def csr_matvec(a: CSR, x: np.ndarray) -> np.ndarray:
    """:math:`y = A x`, vectorised: gather, multiply, segment-sum. x (cols,) -> y (rows,)."""
    if x.shape != (a.shape[1],):
        raise ShapeError(f"matvec of a {a.shape} matrix needs x of shape ({a.shape[1]},), "
                         f"got {x.shape}")
    return _row_sums(a, a.data * x[a.indices])


def csr_matmat(a: CSR, x: np.ndarray, chunk: int = 1 << 18) -> np.ndarray:
    """:math:`Y = A X`. X (cols, B) -> Y (rows, B); each value multiplies a row of X.

    The gathered products form an (nnz, B) intermediate; rows are processed in blocks of
    about ``chunk / B`` nonzeros so that it never exceeds ``chunk`` entries (1 MB of float32
    by default: blocks that stay in cache ran 3-5x faster here than 4 MB ones).
    """
    if x.ndim != 2 or x.shape[0] != a.shape[1]:
        raise ShapeError(f"matmat of a {a.shape} matrix needs X of shape ({a.shape[1]}, B), "
                         f"got {x.shape}")
    out = np.zeros((a.shape[0], x.shape[1]), dtype=np.result_type(a.data, x))
    per_block = max(1, chunk // max(x.shape[1], 1))
    r0 = 0
    while r0 < a.shape[0]:
        # the last row whose values end within per_block of this block's first value
        r1 = max(r0 + 1, int(np.searchsorted(a.indptr, a.indptr[r0] + per_block, "right")) - 1)
        lo, hi = a.indptr[r0], a.indptr[r1]
        block = CSR(a.data[lo:hi], a.indices[lo:hi], a.indptr[r0 : r1 + 1] - lo,
                    (r1 - r0, a.shape[1]))
        out[r0:r1] = _row_sums(block, block.data[:, None] * x[block.indices])
        r0 = r1
    return out


@dataclass(frozen=True)
class SparseDense:
    """A pruned Dense layer for inference: :math:`A = W^T` in CSR and the bias."""

    a: CSR
    b: np.ndarray

    @classmethod
    def from_layer(cls, layer: Layer) -> SparseDense:
        """The CSR form of a Dense layer's weight ``W`` (in, out), stored as ``W^T``."""
        return cls(CSR.from_dense(np.ascontiguousarray(layer.params["W"].T)),
                   layer.params["b"].copy())

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, in) -> (N, out): matvec for one example, matmat for a batch."""
        if x.shape[0] == 1:
            return (csr_matvec(self.a, x[0]) + self.b)[None, :]
        return csr_matmat(self.a, np.ascontiguousarray(x.T)).T + self.b


def sparse_forward(model: Sequential, x: np.ndarray,
                   sparse: dict[str, SparseDense] | None = None) -> np.ndarray:
    """Run ``model`` with every Dense layer replaced by its CSR form (built once if not given:
    pass ``sparse=to_sparse(model)`` to time only the products)."""
    sparse = to_sparse(model) if sparse is None else sparse
    for layer in model.layers:
        x = sparse[layer.name].forward(x) if layer.name in sparse else layer.forward(x)
    return x


def to_sparse(model: Sequential) -> dict[str, SparseDense]:
    """CSR versions of every Dense layer of ``model``, by layer name."""
    return {lay.name: SparseDense.from_layer(lay) for lay in model.layers
            if lay.kind == "fc"}


def time_dense_vs_sparse(
    n_in: int, n_out: int, sparsities: list[float], batches: tuple[int, ...] = (1, 64),
    seed: int = 0, repeat: int = 5,
) -> list[dict[str, float]]:
    """Seconds per product of a random (n_in, n_out) float32 Dense weight, dense ``x @ W``
    against the CSR product, for each sparsity (random pruning pattern) and batch size.

    One row per (sparsity, batch): ``dense_s``, ``sparse_s`` and ``speedup`` (dense / sparse).
    """
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n_in, n_out)).astype(np.float32)
    rows = []
    for s in sparsities:
        pruned = np.where(rng.random(w.shape) < s, np.float32(0), w)
        layer = SparseDense(CSR.from_dense(np.ascontiguousarray(pruned.T)),
                            np.zeros(n_out, np.float32))
        for batch in batches:
            x = rng.standard_normal((batch, n_in)).astype(np.float32)
            dense = best_time(lambda x=x, pruned=pruned: x @ pruned, repeat)
            sp = best_time(lambda x=x, layer=layer: layer.forward(x), repeat)
            rows.append({"n_in": n_in, "n_out": n_out, "sparsity": s, "batch": batch,
                         "dense_s": dense, "sparse_s": sp, "speedup": dense / sp})
    return rows
