"""Benchmark: dense vs CSR products of a pruned Dense layer, batch 1 and batch 64 (issue 4).

For LeNet-300-100's fc1 (784 x 300) and a VGG-16 fc7-sized layer (4096 x 4096), at several
sparsities, times ``x @ W`` (dense BLAS) against :class:`tinycompress.pruning.sparse.SparseDense`
(NumPy gather + segment sum) and prints the ratio dense / sparse (> 1: sparse is faster).
Both are measured in the same run, best of ``--repeat``; the load average is printed because
the machine may be shared. Run with one BLAS thread for a fair single-core comparison::

    OPENBLAS_NUM_THREADS=1 python bench/bench_sparse.py
"""

from __future__ import annotations

import argparse
import os

from tinycompress.pruning.sparse import time_dense_vs_sparse

LAYERS = {(784, 300): [0.5, 0.8, 0.92, 0.96, 0.99], (4096, 4096): [0.9, 0.96, 0.99]}
"""Layer shapes and their sparsities (the big layer's dense-ish CSR products take minutes)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--small", action="store_true", help="LeNet fc1 only")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}  "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    print(f"{'layer':>11} {'sparsity':>8} {'batch':>5} {'dense us':>10} {'sparse us':>10} "
          f"{'dense/sparse':>12}")
    for (n_in, n_out), sparsities in list(LAYERS.items())[: 1 if args.small else None]:
        for r in time_dense_vs_sparse(n_in, n_out, sparsities, repeat=args.repeat):
            print(f"{n_in:>5}x{n_out:<5} {r['sparsity']:>8.2f} {r['batch']:>5} "
                  f"{r['dense_s'] * 1e6:>10.1f} {r['sparse_s'] * 1e6:>10.1f} "
                  f"{r['speedup']:>12.2f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
