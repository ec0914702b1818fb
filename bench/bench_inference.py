"""Benchmark: the shipped compressed LeNets run in every precision, batch 1 and 64 (issue 15).

For ``data/compressed/lenet-300-100.tcz`` and ``lenet5.tcz`` (decoded), times every variant of
:data:`tinycompress.inference.precision.VARIANTS` (float32 dense and CSR; float16 through
BLAS and in NumPy's own float16 loop; int8 on the float-carried fast path and the int64
reference; codebook) against float32 dense timed in the same run, and prints milliseconds per
call and the ratio to float32 dense (above 1: slower). Best of ``--repeat``; the load average
is printed because the machine may be shared. Run with one BLAS thread for a single-core
comparison::

    OPENBLAS_NUM_THREADS=1 python bench/bench_inference.py
    python bench/bench_inference.py --quick      # a smoke run: one call per timing
"""

from __future__ import annotations

import argparse
import os

from tinycompress.coding import tcz
from tinycompress.inference import precision
from tinycompress.inference.calibration import calibration_images
from tinycompress.nn.data import data_dir, load_arrays, normalization_of

NETS = ("lenet-300-100", "lenet5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed batches; the best counts")
    parser.add_argument("--quick", action="store_true",
                        help="single calls and a small calibration set (checks that it runs)")
    args = parser.parse_args()
    repeat, min_seconds = (1, 0.0) if args.quick else (args.repeat, 0.02)
    print(f"load average at start: {os.getloadavg()}  "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    print(f"{'model':>14} {'variant':>21} {'batch':>5} {'ms':>10} {'x fp32 dense':>12}")
    for name in NETS:
        model, meta = tcz.load(data_dir() / "compressed" / f"{name}.tcz")
        norm = normalization_of(meta)
        X, _ = load_arrays("test", None, norm, 64)
        calibration = calibration_images(None, norm, 500 if args.quick else 5000)
        for r in precision.latency_table(model, X, calibration=calibration, repeat=repeat,
                                         min_seconds=min_seconds):
            print(f"{name:>14} {r['variant']:>21} {r['batch']:>5} {r['seconds'] * 1e3:>10.3f} "
                  f"{r['ratio']:>12.2f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
