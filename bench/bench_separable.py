"""Speed of the depthwise-separable block in the NumPy engine against PyTorch (CPU).

Workload (issue 3): depthwise 3x3 on 64 channels, then pointwise 64 -> 128, on 32x32 maps,
batch 64, float32; forward and forward+backward; the depthwise layer alone, the pointwise layer
alone, and the whole block (dw -> BN -> ReLU -> pw -> BN -> ReLU, training mode). PyTorch's
grouped convolution (``groups=64``) is the baseline, measured in the same run with the same
number of threads (1 by default, like the NumPy side with ``OPENBLAS_NUM_THREADS=1``).
Targets: depthwise within 4x of PyTorch (issue 3), whole block forward+backward within 1.2x
(issue 12). Timings are the minimum over ``--repeats`` runs (the least disturbed by other
processes on a shared machine), NumPy and PyTorch runs alternating so that both see the same
load; the load average is printed before and after.

The upstream gradient is ``ones_like`` of each side's own output (``--grad-layout output``, the
default): inside a network the gradient reaching a layer is what the engine's next layer
returns, which keeps the engine's batch-last memory order. ``--grad-layout nchw`` gives the
NumPy side a C-contiguous (N, C, H, W) gradient instead, which costs one transposing pass.
The script exits 1 if the block misses its target.

    OPENBLAS_NUM_THREADS=1 python bench/bench_separable.py [--repeats 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
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


BLOCK_TARGET = 1.2
"""Issue 12: the separable block's forward+backward within 1.2x PyTorch's time."""


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best_ms(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Best-of-``repeats`` milliseconds of each function, after one warm-up call each; the
    functions take turns in every repeat, so a burst of load hits all of them alike."""
    for fn in fns:
        fn()
    times = [[_seconds(fn) for fn in fns] for _ in range(repeats)]
    return [1e3 * min(column) for column in zip(*times, strict=True)]


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


def torch_fns(torch: Any, module: Any, xt: Any) -> dict[str, Callable[[], None]]:
    """PyTorch's forward (no graph kept) and forward+backward with a ones gradient."""
    gt = torch.ones_like(module(xt))

    def fwd() -> None:
        with torch.no_grad():
            module(xt)

    def fwd_bwd() -> None:
        module(xt).backward(gt)

    return {"fwd": fwd, "fwd+bwd": fwd_bwd}


def numpy_fns(model: Sequential, x: np.ndarray, grad_layout: str
              ) -> dict[str, Callable[[], None]]:
    """The engine's training forward and forward+backward with a ones gradient."""
    model.layers[0].needs_input_grad = True  # a layer inside a network: dx is computed too
    out = model.forward(x, train=True)
    g = np.ones_like(out) if grad_layout == "output" else np.ones(out.shape, out.dtype)

    def fwd() -> None:
        model.forward(x, train=True)

    def fwd_bwd() -> None:
        model.forward(x, train=True)
        model.backward(g)

    return {"fwd": fwd, "fwd+bwd": fwd_bwd}


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="PyTorch intra-op threads")
    parser.add_argument("--grad-layout", choices=("output", "nchw"), default="output",
                        help="memory order of the NumPy side's upstream gradient")
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
          f"best of {args.repeats}; gradient layout {args.grad_layout}; {load()}")
    head = f"{'layer':26} {'pass':9} {'numpy ms':>9} {'torch ms':>9} {'ratio':>6}"
    print(head)
    print("-" * len(head))
    block = float("nan")
    for name, model in numpy_cases().items():
        fns = numpy_fns(model, x, args.grad_layout)
        tfns = torch_fns(torch, tcases[name], xt) if torch is not None else {}
        for label, fn in fns.items():
            if torch is None:
                print(f"{name:26} {label:9} {best_ms([fn], args.repeats)[0]:9.1f}")
                continue
            ms, tms = best_ms([fn, tfns[label]], args.repeats)
            print(f"{name:26} {label:9} {ms:9.1f} {tms:9.1f} {ms / tms:6.2f}")
            if name == "separable block" and label == "fwd+bwd":
                block = ms / tms
    print(f"ratio = numpy / torch (lower is better); targets: depthwise <= 4, "
          f"block fwd+bwd <= {BLOCK_TARGET}; {load()}")
    if torch is None:
        return 0
    ok = block <= BLOCK_TARGET
    print(f"separable block fwd+bwd: {block:.2f}x PyTorch: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
