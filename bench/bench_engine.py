"""Benchmark: the NumPy engine against PyTorch on the CPU (issue 2, "Speed").

Times, in one process and interleaved (engine, torch, engine, torch, ...) so both see the same
machine load, the best of ``--repeat`` runs of:

* LeNet-5's two convolutions at batch 64, forward and forward+backward, with each one's
  effective GFLOP/s (2 FLOPs per MultAdd; forward+backward adds the dW product and, for conv2,
  the dx product: conv1 is the model's first layer, so neither engine computes its dx). The
  upstream gradient of each has the memory layout of that engine's own conv output;
* one training epoch of LeNet-300-100 (batch 128) and of LeNet-5 (batch 64) on MNIST: SGD with
  momentum 0.9, weight decay 5e-4 on the weights, cosine learning rate, no augmentation. The
  LeNet-5 epoch is timed on a fixed fraction of the training set (``--lenet5-fraction``) and
  scaled to the full 60,000 images; the table says so.

Targets: LeNet-300-100 epoch ratio (engine / torch) <= 1.0, LeNet-5 epoch <= 1.5, each conv
layer's forward+backward <= 1.5. The script exits non-zero when one is missed.

PyTorch is optional: without it the engine's times are printed alone. Both use the same number
of threads: the engine's (OpenBLAS) thread count, read with threadpoolctl when installed and
otherwise from ``OPENBLAS_NUM_THREADS``. Set it in the environment, e.g.::

    OPENBLAS_NUM_THREADS=1 python bench/bench_engine.py
    OPENBLAS_NUM_THREADS=2 python bench/bench_engine.py --repeat 5

The machine may be shared: the load average at start and end is printed with the table. With
one thread the default clock is the process's CPU time (``time.process_time``), which does not
count the time the scheduler gives to other processes: on a loaded machine a 3 ms measurement
is preempted almost every time, so even the best wall time of many runs is inflated at random.
With more threads CPU time would add up the threads, so the default is then wall time.
``--clock`` overrides either choice.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from tinycompress import zoo
from tinycompress.nn import optim
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.data import load_arrays
from tinycompress.nn.train import fit

BATCH_CONV = 64
CONVS = {  # name: (in_channels, out_channels, kernel, input size, needs dx)
    "conv1": (1, 20, 5, 28, False),
    "conv2": (20, 50, 5, 12, True),
}
GEMM_LIMIT = 190.0  # GFLOP/s, float32 GEMM on 2 cores of these machines (issue 2)


def engine_threads() -> int:
    """Threads the engine's BLAS uses."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        pass
    else:
        counts = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        if counts:
            return int(max(counts))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return os.cpu_count() or 1


def interleaved(fns: dict[str, Callable[[], Any]], repeat: int,
                clock: Callable[[], float]) -> dict[str, float]:
    """Best time of each function over ``repeat`` rounds, the functions alternating."""
    best = dict.fromkeys(fns, np.inf)
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = clock()
            fn()
            best[name] = min(best[name], clock() - t0)
    return best


# --- convolutions ---------------------------------------------------------------------------


def engine_conv(spec: tuple[int, int, int, int, bool], x: np.ndarray) -> dict[str, Callable]:
    """Forward, and forward+backward, of one engine conv layer on ``x``.

    The upstream gradient has the memory layout of the layer's output (batch-last behind the
    NCHW view), as pooling's backward hands it over inside LeNet-5, and as ``randn_like``
    gives PyTorch its own output's layout.
    """
    C, F, K, _, needs_dx = spec
    layer = Conv2D(C, F, K, rng=np.random.default_rng(0))
    layer.needs_input_grad = needs_dx
    out = layer.forward(x)
    dout = np.empty_like(out)  # same memory order as out
    dout[...] = np.random.default_rng(1).standard_normal(out.shape)

    def fwd_bwd() -> None:
        layer.forward(x, train=True)
        layer.backward(dout)

    return {"fwd": lambda: layer.forward(x), "fwd+bwd": fwd_bwd}


def torch_conv(torch: Any, spec: tuple[int, int, int, int, bool],
               x: np.ndarray) -> dict[str, Callable]:
    C, F, K, _, needs_dx = spec
    conv = torch.nn.Conv2d(C, F, K)
    xt = torch.from_numpy(x).requires_grad_(needs_dx)
    with torch.no_grad():
        dout = torch.randn_like(conv(xt))

    def fwd() -> None:
        with torch.no_grad():
            conv(xt)

    def fwd_bwd() -> None:
        conv.zero_grad(set_to_none=True)
        xt.grad = None
        conv(xt).backward(dout)

    return {"fwd": fwd, "fwd+bwd": fwd_bwd}


def conv_flops(spec: tuple[int, int, int, int, bool]) -> tuple[float, float]:
    """FLOPs of the forward pass and of forward+backward at batch BATCH_CONV."""
    C, F, K, size, needs_dx = spec
    out = size - K + 1
    fwd = 2.0 * BATCH_CONV * F * C * K * K * out * out
    return fwd, fwd * (3 if needs_dx else 2)


# --- training epochs ------------------------------------------------------------------------


def torch_model(torch: Any, name: str) -> Any:
    nn = torch.nn
    if name == "lenet-300-100":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100),
                             nn.ReLU(), nn.Linear(100, 10))
    return nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(800, 500), nn.ReLU(),
                         nn.Linear(500, 10))


def engine_epoch(name: str, X: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    recipe = zoo.TRAINING_RECIPES[name]

    def run() -> None:
        model = zoo.build(name)
        sgd = optim.SGD(model, recipe.lr, recipe.momentum, recipe.weight_decay)
        steps = -(-len(X) // recipe.batch_size)
        fit(model, X, y, epochs=1, batch_size=recipe.batch_size, optimizer=sgd,
            schedule=optim.cosine(recipe.lr, steps), seed=0, progress=False)

    return run


def torch_epoch(torch: Any, name: str, X: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    """The same loop as :func:`tinycompress.nn.train.fit` in PyTorch: loss and accuracy per step."""
    recipe = zoo.TRAINING_RECIPES[name]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    bs = recipe.batch_size
    steps = -(-len(X) // bs)
    schedule = optim.cosine(recipe.lr, steps)

    def run() -> None:
        torch.manual_seed(0)
        model = torch_model(torch, name)
        weights = [p for p in model.parameters() if p.ndim > 1]
        biases = [p for p in model.parameters() if p.ndim == 1]
        sgd = torch.optim.SGD([{"params": weights, "weight_decay": recipe.weight_decay},
                               {"params": biases, "weight_decay": 0.0}],
                              lr=recipe.lr, momentum=recipe.momentum)
        order = torch.from_numpy(np.random.default_rng(0).permutation(len(X)))
        correct = 0
        for b in range(steps):
            idx = order[b * bs : (b + 1) * bs]
            xb, yb = Xt[idx], yt[idx]
            for group in sgd.param_groups:
                group["lr"] = schedule(b)
            logits = model(xb)
            loss = torch.nn.functional.cross_entropy(logits, yb)
            sgd.zero_grad(set_to_none=True)
            loss.backward()
            sgd.step()
            loss.item()
            correct += int((logits.argmax(1) == yb).sum())

    return run


# --- report ---------------------------------------------------------------------------------


class Row(NamedTuple):
    name: str
    engine: float  # seconds
    torch: float | None  # seconds, None without PyTorch
    note: str
    target: float | None  # largest acceptable engine / torch ratio, None for no target


def time_convs(torch: Any, repeat: int, clock: Callable[[], float]) -> list[Row]:
    """One row per conv layer and pass, with the GFLOP/s of each engine in the note."""
    rows: list[Row] = []
    rng = np.random.default_rng(0)
    for name, spec in CONVS.items():
        C, _, _, size, _ = spec
        x = rng.standard_normal((BATCH_CONV, C, size, size)).astype(np.float32)
        fns = {f"engine {k}": f for k, f in engine_conv(spec, x).items()}
        if torch is not None:
            fns |= {f"torch {k}": f for k, f in torch_conv(torch, spec, x).items()}
        best = interleaved(fns, repeat, clock)
        for kind, flops, target in zip(("fwd", "fwd+bwd"), conv_flops(spec), (None, 1.5),
                                       strict=True):
            t_e, t_t = best[f"engine {kind}"], best.get(f"torch {kind}")
            note = f"{flops / t_e / 1e9:6.1f}" + (f" / {flops / t_t / 1e9:6.1f}" if t_t else "")
            rows.append(Row(f"{name} {kind} (batch {BATCH_CONV})", t_e, t_t, note, target))
    return rows


def time_epochs(torch: Any, repeat: int, clock: Callable[[], float],
                lenet5_fraction: float) -> list[Row]:
    """One row per LeNet training epoch, scaled to the full training set."""
    rows: list[Row] = []
    X, y = load_arrays("train")
    for name in ("lenet-300-100", "lenet5"):
        frac = lenet5_fraction if name == "lenet5" else 1.0
        n = round(len(X) * frac)
        Xs, ys = X[:n], y[:n]
        fns = {"engine": engine_epoch(name, Xs, ys)}
        if torch is not None:
            fns["torch"] = torch_epoch(torch, name, Xs, ys)
        best = interleaved(fns, repeat, clock)
        scale = len(X) / n
        t_t = best["torch"] * scale if torch is not None else None
        note = f"{n} images x{scale:.2f}" if frac < 1 else "full epoch"
        target = 1.0 if name == "lenet-300-100" else 1.5
        rows.append(Row(f"{name} epoch (batch {zoo.TRAINING_RECIPES[name].batch_size})",
                        best["engine"] * scale, t_t, note, target))
    return rows


def print_table(rows: list[Row]) -> list[str]:
    """Print the rows as a table; returns the names of the rows that missed their target."""
    print(f"\n{'':34s} {'engine [ms]':>12s} {'torch [ms]':>11s} {'ratio':>6s} {'target':>7s}  "
          f"GFLOP/s engine / torch (limit ~{GEMM_LIMIT:.0f}), notes")
    missed = []
    for name, t_e, t_t, note, target in rows:
        ratio = t_e / t_t if t_t else None
        ok = "" if target is None or ratio is None else ("ok" if ratio <= target else "MISSED")
        if ok == "MISSED":
            missed.append(name)
        print(f"{name:34s} {t_e * 1e3:12.1f} "
              + (f"{t_t * 1e3:11.1f} {ratio:6.2f}" if t_t else f"{'-':>11s} {'-':>6s}")
              + (f" {'<=' + format(target, '.1f'):>7s} {ok:6s}" if target else f" {'':7s} {'':6s}")
              + f" {note}")
    return missed


def import_torch(threads: int) -> Any:
    """PyTorch set to ``threads`` threads, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: timing the engine alone (pip install torch for the "
              "comparison)")
        return None
    torch.set_num_threads(threads)
    return torch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=50, help="rounds of the conv timings")
    ap.add_argument("--epoch-repeat", type=int, default=2, help="rounds of the epoch timings")
    ap.add_argument("--lenet5-fraction", type=float, default=1 / 6,
                    help="fraction of the 60,000 training images timed for LeNet-5")
    ap.add_argument("--skip-epochs", action="store_true", help="time the convolutions only")
    ap.add_argument("--clock", choices=("cpu", "wall"),
                    help="process CPU time or wall time (default: cpu with 1 thread, else wall)")
    args = ap.parse_args(argv)

    threads = engine_threads()
    clock_name = args.clock or ("cpu" if threads == 1 else "wall")
    clock = time.process_time if clock_name == "cpu" else time.perf_counter
    torch = import_torch(threads)
    load0 = os.getloadavg()
    versions = f"numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else "")
    torch_threads = torch.get_num_threads() if torch else "-"
    print(f"threads: engine (OpenBLAS) {threads}, torch {torch_threads}; {versions}; "
          f"{os.cpu_count()} CPUs, load average {load0[0]:.2f} at start")

    rows = time_convs(torch, args.repeat, clock)
    if not args.skip_epochs:
        rows += time_epochs(torch, args.epoch_repeat, clock, args.lenet5_fraction)
    load1 = os.getloadavg()
    missed = print_table(rows)
    print(f"\nload average {load1[0]:.2f} at end; best of {args.repeat} (convs) and "
          f"{args.epoch_repeat} (epochs) interleaved runs, {clock_name} time")
    if missed:
        print("targets missed: " + ", ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
