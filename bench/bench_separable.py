"""Speed of the depthwise-separable block in the NumPy engine against PyTorch (CPU).

Workload (issue 3): depthwise 3x3 on 64 channels, then pointwise 64 -> 128, on 32x32 maps,
batch 64, float32; forward and forward+backward; the depthwise layer alone, the pointwise layer
alone, and the whole block (dw -> BN -> ReLU -> pw -> BN -> ReLU, training mode). PyTorch's
grouped convolution (``groups=64``) is the baseline, measured in the same run with the same
number of threads (1 by default, like the NumPy side with ``OPENBLAS_NUM_THREADS=1``).
Targets: depthwise within 4x of PyTorch, whole block within 2x. Timings are the minimum over
``--repeats`` runs (the least disturbed by other processes on a shared machine).

    OPENBLAS_NUM_THREADS=1 python bench/bench_separable.py [--repeats 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.depthwise import DepthwiseConv2D, PointwiseConv2D
from tinycompress.nn.elementwise import ReLU
from tinycompress.nn.model import Sequential

N, C, F, S, K = 64, 64, 128, 32, 3


def best_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def numpy_cases() -> dict[str, Sequential]:
    rng = np.random.default_rng(0)
    return {
        "depthwise 3x3": Sequential([DepthwiseConv2D(C, K, padding=1, bias=False, rng=rng)],
                                    (C, S, S)),
        "pointwise 1x1": Sequential([PointwiseConv2D(C, F, bias=False, rng=rng)], (C, S, S)),
        "pointwise as Conv2D(k=1)": Sequential([Conv2D(C, F, 1, bias=False, rng=rng)],
                                               (C, S, S)),
        "separable block": Sequential(
            [DepthwiseConv2D(C, K, padding=1, bias=False, rng=rng), BatchNorm2D(C), ReLU(),
             PointwiseConv2D(C, F, bias=False, rng=rng), BatchNorm2D(F), ReLU()], (C, S, S)),
    }


def torch_cases(torch: Any) -> dict[str, Any]:
    nn = torch.nn
    dw = nn.Conv2d(C, C, K, padding=1, groups=C, bias=False)
    pw = nn.Conv2d(C, F, 1, bias=False)
    block = nn.Sequential(nn.Conv2d(C, C, K, padding=1, groups=C, bias=False),
                          nn.BatchNorm2d(C), nn.ReLU(), nn.Conv2d(C, F, 1, bias=False),
                          nn.BatchNorm2d(F), nn.ReLU())
    return {"depthwise 3x3": dw, "pointwise 1x1": pw, "pointwise as Conv2D(k=1)": pw,
            "separable block": block}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="PyTorch intra-op threads")
    args = parser.parse_args()
    x = np.random.default_rng(1).standard_normal((N, C, S, S)).astype(np.float32)
    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch is not installed: timing the NumPy engine only (no ratios). "
              "Install torch (CPU) to compare.")
    tcases = {}
    if torch is not None:
        torch.set_num_threads(args.threads)
        tcases = torch_cases(torch)
        xt = torch.from_numpy(x).requires_grad_(True)
    print(f"batch {N}, {C} -> {F} channels, {S}x{S}, float32; numpy (OPENBLAS_NUM_THREADS="
          f"{os.environ['OPENBLAS_NUM_THREADS']}) vs torch ({args.threads} thread(s)); "
          f"best of {args.repeats}")
    head = f"{'layer':26} {'pass':9} {'numpy ms':>9} {'torch ms':>9} {'ratio':>6}"
    print(head)
    print("-" * len(head))
    for name, model in numpy_cases().items():
        model.layers[0].needs_input_grad = True  # a layer inside a network: dx is computed too
        g = np.ones((N, *model.shapes()[-1]), np.float32)

        def fwd(model: Sequential = model) -> None:
            model.forward(x, train=True)

        def fwd_bwd(model: Sequential = model, g: np.ndarray = g) -> None:
            model.forward(x, train=True)
            model.backward(g)

        for label, fn in (("fwd", fwd), ("fwd+bwd", fwd_bwd)):
            ms = best_ms(fn, args.repeats)
            line = f"{name:26} {label:9} {ms:9.1f}"
            if torch is not None:
                module = tcases[name]
                gt = torch.ones(N, *model.shapes()[-1])
                if label == "fwd":
                    def tfn(module: Any = module) -> None:
                        with torch.no_grad():
                            module(xt)
                else:
                    def tfn(module: Any = module, gt: Any = gt) -> None:
                        module(xt).backward(gt)
                tms = best_ms(tfn, args.repeats)
                line += f" {tms:9.1f} {ms / tms:6.2f}"
            print(line)
    print("ratio = numpy / torch (lower is better); targets: depthwise <= 4, block <= 2")


if __name__ == "__main__":
    main()
