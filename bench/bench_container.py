"""Benchmark: a ``.tcz`` file that claims an absurd size is refused before anything is allocated.

A reader that trusted the manifest would allocate the weights it claims before finding the
file short; :func:`tinycompress.coding.tcz.read_records` checks the architecture's dimensions
and the total number of parameters first. Timed in the same run (best of ``--repeat`` batches,
:func:`tinycompress.timing.best_time`, wall clock):

* the baseline: reading a small valid file (a 64-32-10 MLP, 2,410 parameters, pruned to 15%
  and quantised to 3 bits, so its sections are decoded as in any compressed model);
* refusing a manifest that claims 10^12 weights (4 TB of float32), over ``MAX_ELEMENTS``;
* refusing a manifest with a layer 10^13 inputs wide, over ``MAX_DIMENSION``.

A refusal should cost no more than the baseline (ratio <= 1): it reads the manifest and
builds weightless placeholders, nothing more. Run: ``python bench/bench_container.py``.
"""

from __future__ import annotations

import argparse
import copy
import os
from collections.abc import Callable

import numpy as np

from tinycompress import timing
from tinycompress.coding import tcz
from tinycompress.errors import FormatError
from tinycompress.nn.architecture import architecture, state_arrays
from tinycompress.nn.base import SHAPE_ONLY, ShapeOnly
from tinycompress.nn.dense import Dense
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.model import Sequential
from tinycompress.pruning import magnitude
from tinycompress.quantization import trained


def _mlp(width: int, hidden: int, rng: np.random.Generator | ShapeOnly) -> Sequential:
    return Sequential([Dense(width, hidden, rng=rng), ReLU(), Dense(hidden, 10, rng=rng)],
                      (width,), "mlp")


def _files() -> dict[str, bytes]:
    """The baseline file, then the files that claim too much (manifest only, no sections)."""
    small = _mlp(64, 32, np.random.default_rng(0))
    magnitude.prune(small, sparsity=0.85)
    trained.quantize_model(small, 3, rng=0)
    huge = _mlp(10**6, 10**6, SHAPE_ONLY)  # placeholders: 10^12 weights in no memory
    doc = {"arch": architecture(huge), "meta": {},
           "t": [{"k": "r", "z": 0} for _ in state_arrays(huge)]}
    wide = copy.deepcopy(doc)
    wide["arch"]["layers"][0]["config"]["in_features"] = 10**13
    return {
        "valid file, 2,410 params (baseline)": tcz.to_bytes(small),
        "claims 10^12 weights": tcz.assemble(doc, []),
        "claims a 10^13-wide layer": tcz.assemble(wide, []),
    }


def _reader(blob: bytes) -> Callable[[], str]:
    """``read_records`` on ``blob``, returning what became of it."""
    def read() -> str:
        try:
            tcz.read_records(blob)
        except FormatError as err:
            return f"refused: {err}"
        return "read"
    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed batches (best kept)")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    head = f"{'file':36s} {'bytes':>6s} {'ms':>8s} {'ratio':>7s}  outcome"
    print(head)
    print("-" * len(head))
    rows = []
    for name, blob in _files().items():
        read = _reader(blob)
        rows.append((name, len(blob), timing.best_time(read, args.repeat), read()))
    baseline = rows[0][2]
    for name, size, seconds, outcome in rows:
        print(f"{name:36s} {size:6d} {1e3 * seconds:8.3f} {seconds / baseline:6.3f}x  "
              f"{outcome[:60]}")
    worst = max(seconds for _, _, seconds, _ in rows[1:]) / baseline
    verdict = "PASS" if worst <= 1 else "FAIL"
    print(f"\nslowest refusal {worst:.2f}x the baseline (target <= 1x): {verdict}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
