"""Sparse inference for pruned fully-connected layers: CSR storage and its products, in NumPy.

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

import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], repeat: int = 7, min_seconds: float = 0.02) -> float:
    """Seconds per call of ``fn``: calls are batched until a batch lasts ``min_seconds``, then
    the best of ``repeat`` batches is taken (the least disturbed by other processes)."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            break
        number *= 2
    best = elapsed / number
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best
