"""Train the MNIST MobileNet over a grid of width and resolution multipliers (Tables 4-7 analogue).

Every (alpha, resolution) pair, separable and full convolution, trained from scratch for a few
epochs on a subset of the training images and tested on all 10,000 test images. Writes
``data/results/mobilenet_grid.json`` (rewritten after every point; chapter 2 loads it).

    OPENBLAS_NUM_THREADS=1 python bench/mobilenet_grid.py [--train-limit 20000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from tinycompress.experiments.mobilenet_grid import MNIST_RESOLUTIONS, run_grid  # noqa: E402
from tinycompress.nn.data import data_dir  # noqa: E402

ALPHAS = (1.0, 0.75, 0.5, 0.25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-limit", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(data_dir() / "results" / "mobilenet_grid.json"))
    args = parser.parse_args()
    points = [(a, r, full) for full in (False, True) for a in ALPHAS for r in MNIST_RESOLUTIONS]
    run_grid(points, args.out, log=lambda s: print(s, flush=True),
             train_limit=args.train_limit, epochs=args.epochs, seed=args.seed)


if __name__ == "__main__":
    main()
