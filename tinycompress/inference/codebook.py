r"""Codebook inference: a weight-shared layer computed with one multiply per centroid.

After weight sharing (chapter 4, :mod:`tinycompress.quantization.sharing`) the kept weights of
a layer take only k values, the centroids :math:`C_0 .. C_{k-1}`: row f of the layer's matrix
(:mod:`.gemm`) is :math:`A_{fd} = C_{I_{fd}}` where the weight is kept and 0 where it was
pruned. The distributive law then regroups each output by centroid:

.. math:: y_f = \sum_{d\ \mathrm{kept}} C_{I_{fd}}\, x_d
              = \sum_{k} C_k \Big(\sum_{d\ \mathrm{kept}:\ I_{fd} = k} x_d\Big) :

first add up the inputs that share a centroid (one addition per kept weight), then one multiply
per centroid the row uses. Per output, a dense product costs ``in`` multiplies and adds, a
sparse (CSR) one ``nnz`` of each, the codebook form ``nnz`` additions and at most ``k``
multiplies (the product of EIE and of lookup-table inference).

:func:`codebook_matvec_naive` is that sum written out, output by output: the reference.
:class:`CodebookMatrix` groups the kept entries by (row, centroid) and stores both sums as
jagged diagonals, so that a batch is summed in a few vectorised gather-and-add steps.
:class:`CodebookModel` runs a whole model that way and counts its operations
(:meth:`CodebookModel.counts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from ..nn.model import Sequential
from ..quantization.trained import shared_from_dense
from .gemm import as_gemm, is_weight_layer

MAX_CODEBOOK = 2**16
"""The most distinct weights a layer may have for codebook inference (16-bit indices)."""


def codebook_matvec_naive(indices: np.ndarray, mask: np.ndarray, codebook: np.ndarray,
                          x: np.ndarray) -> np.ndarray:
    r""":math:`y_f = \sum_k C_k \sum_{d:\ I_{fd} = k,\ \mathrm{mask}_{fd}} x_d`, one row at a time.

    Shapes: indices and mask (out, in), codebook (k,), x (in,) -> y (out,).
    """
    y = np.zeros(indices.shape[0], dtype=np.result_type(codebook, x))
    # BEGIN SOLUTION codebook-dot
    for f in range(indices.shape[0]):
        kept = mask[f]
        sums = np.bincount(indices[f, kept], weights=x[kept], minlength=codebook.size)
        y[f] = sums @ codebook
    # END SOLUTION
    return y


def _jagged(starts: np.ndarray, lengths: np.ndarray,
            values: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Segments ``values[starts[s] : starts[s] + lengths[s]]`` as jagged diagonals.

    The segments are ordered longest first (``order``); diagonal k holds the k-th value of
    every segment that has one, which are the first ``len(diagonal k)`` segments of that order.
    """
    order = np.argsort(-lengths, kind="stable")
    first, length = starts[order], lengths[order]
    diagonals = tuple(values[first[: np.count_nonzero(length > k)] + k]
                      for k in range(int(length.max(initial=0))))
    return order, diagonals


@dataclass(frozen=True, eq=False)
class CodebookMatrix:
    """An (out, in) weight-shared matrix, its kept entries grouped by (row, centroid).

    A *group* is the kept weights of one row that share one centroid. Both sums of the
    product are stored as jagged diagonals (the layout of vectorised sparse products): the
    groups are ordered longest first, and ``members[k]`` holds the input read by the k-th
    weight of every group that has k + 1 weights or more; the rows are ordered by their number
    of groups, and ``row_groups[k]`` holds the (position of the) k-th group of each. So each sum
    is a handful of vectorised gather-and-add steps, as many as its longest segment.
    """

    codebook: np.ndarray  # (k,)
    members: tuple[np.ndarray, ...]  # per diagonal: an input index for each long-enough group
    group_centroid: np.ndarray  # (groups,) the codebook index of each group, longest first
    group_row: np.ndarray  # (groups,) the output row of each group, same order
    row_groups: tuple[np.ndarray, ...]  # per diagonal: a group position for each row
    rows: np.ndarray  # (nonempty rows,) the row of each output sum, most groups first
    shape: tuple[int, int]

    @classmethod
    def from_shared(cls, codebook: np.ndarray, indices: np.ndarray,
                    mask: np.ndarray) -> CodebookMatrix:
        """Group the kept entries (``mask``, (out, in)) of ``codebook[indices]`` by row and
        centroid."""
        rows, cols = np.nonzero(mask)
        centroid = indices[rows, cols].astype(np.int64)
        order = np.lexsort((cols, centroid, rows))  # by row, then centroid, then input
        rows, cols, centroid = rows[order], cols[order], centroid[order]
        starts = np.flatnonzero(np.diff(rows * codebook.size + centroid, prepend=-1))
        by_length, members = _jagged(starts, np.diff(starts, append=cols.size), cols)
        group_row = rows[starts[by_length]]
        by_row = np.argsort(group_row, kind="stable")  # group positions, row by row
        row_starts = np.flatnonzero(np.diff(group_row[by_row], prepend=-1))
        row_order, row_groups = _jagged(row_starts, np.diff(row_starts, append=by_row.size),
                                        by_row)
        return cls(codebook, members, centroid[starts[by_length]], group_row, row_groups,
                   group_row[by_row[row_starts[row_order]]],
                   (int(mask.shape[0]), int(mask.shape[1])))

    @classmethod
    def from_dense(cls, A: np.ndarray, name: str = "the matrix") -> CodebookMatrix:
        """The codebook form of an (out, in) matrix whose nonzeros take few distinct values
        (a decoded weight-shared layer): the codebook is its distinct nonzero values.

        Raises :class:`UsageError` if there are more than :data:`MAX_CODEBOOK` of them.
        """
        distinct = np.unique(A[A != 0]).size
        if distinct > MAX_CODEBOOK:
            raise UsageError(f"{name} has {distinct:,} distinct nonzero weights, so it is not "
                             "weight-shared; quantise the model first (tinycompress quantize) "
                             "or run it in fp32")
        bits = max(1, int(np.ceil(np.log2(max(distinct, 2)))))
        shared = shared_from_dense(np.ascontiguousarray(A), bits)
        return cls.from_shared(shared.codebook, shared.indices, shared.mask)

    @property
    def nnz(self) -> int:
        """Kept weights: one addition each per column."""
        return sum(int(m.size) for m in self.members)

    @property
    def groups(self) -> int:
        """(row, centroid) pairs used: one multiply each per column."""
        return int(self.group_centroid.size)

    def decode(self) -> np.ndarray:
        """The dense (out, in) matrix ``C[I]`` (0 where pruned), the codebook's dtype."""
        out = np.zeros(self.shape, dtype=self.codebook.dtype)
        for inputs in self.members:
            n = inputs.size
            out[self.group_row[:n], inputs] = self.codebook[self.group_centroid[:n]]
        return out

    def matmat(self, X: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
        """``A @ X`` for X (in, B) -> (out, B): per column, the inputs of each group added up,
        one multiply per group by its centroid, the groups of each row added up.

        Columns are taken ``chunk / groups`` at a time, so the (groups, width) partial sums
        hold at most about ``chunk`` numbers.
        """
        if X.ndim != 2 or X.shape[0] != self.shape[1]:
            raise UsageError(f"a {self.shape} codebook matrix multiplies ({self.shape[1]}, B) "
                             f"columns, got shape {X.shape}")
        out = np.zeros((self.shape[0], X.shape[1]), dtype=np.result_type(self.codebook, X))
        if not self.groups:
            return out
        X = np.ascontiguousarray(X)
        scale = self.codebook[self.group_centroid][:, None]
        width = max(1, chunk // self.groups)
        for j in range(0, X.shape[1], width):
            block = X[:, j : j + width]
            sums = block[self.members[0]]  # (groups, width): adds only, no multiply yet
            for inputs in self.members[1:]:
                sums[: inputs.size] += block[inputs]
            sums *= scale  # one multiply per group
            total = sums[self.row_groups[0]]
            for groups in self.row_groups[1:]:
                total[: groups.size] += sums[groups]
            out[self.rows, j : j + width] = total
        return out


class CodebookModel:
    """A model whose Dense and Conv2D layers run in codebook form; the other layers as they are.

    Parameters
    ----------
    model : a float model whose weight layers are weight-shared (a decoded ``.tcz`` file, or
        the output of :func:`~tinycompress.quantization.trained.quantize_model`).
    """

    def __init__(self, model: Sequential) -> None:
        self.model = model
        self.matrices = {layer.name: CodebookMatrix.from_dense(as_gemm(layer)[0], layer.name)
                         for layer in model.layers if is_weight_layer(layer)}

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Class scores (N, classes) of images x (N, *input_shape), float32 like the model."""
        h = x
        for layer in self.model.layers:
            if layer.name in self.matrices:
                _, b, geometry = as_gemm(layer)
                y = self.matrices[layer.name].matmat(geometry.columns(h))
                y += b[:, None]
                h = geometry.fold(y, h.shape)
            else:
                h = layer.forward(h)
        return h

    def counts(self) -> list[dict[str, Any]]:
        """Per weight layer, the multiplies and additions of one example, three ways.

        ``outputs``: the values the layer computes (channels times pixels). ``dense``: every
        weight, a multiply and an add each (the MultAdds). ``sparse``: the kept weights only
        (CSR). ``codebook``: an addition per kept weight, a multiply per (output, centroid)
        group. A convolution repeats its product at every output pixel.
        """
        rows = []
        shapes = self.model.shapes()
        for layer, out_shape in zip(self.model.layers, shapes[1:], strict=True):
            if layer.name not in self.matrices:
                continue
            m = self.matrices[layer.name]
            times = as_gemm(layer)[2].positions(out_shape)
            rows.append({"name": layer.name, "centroids": int(m.codebook.size),
                         "outputs": m.shape[0] * times,
                         "dense": m.shape[0] * m.shape[1] * times, "sparse": m.nnz * times,
                         "codebook_adds": m.nnz * times, "codebook_mults": m.groups * times})
        return rows


def codebook_counts(model: Sequential) -> dict[str, int]:
    """Additions and multiplies of one codebook inference of ``model`` (its weight layers)."""
    rows = CodebookModel(model).counts()
    return {"adds": sum(r["codebook_adds"] for r in rows),
            "multiplies": sum(r["codebook_mults"] for r in rows)}
