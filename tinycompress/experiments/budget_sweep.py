"""Spending an accuracy budget: test error against file bytes for a sweep of budgets, beside the
published MNIST compression results (chapter 6).

Each point is one run of the user's own command, ``tinycompress deep-compress MODEL
--max-error-increase P``, in a subprocess, so that the sweep measures exactly what a user gets:
the bytes of the written ``.tcz`` file and the test error of the model decoded from it. The
budgets are the only thing that varies; every choice inside a run is made on the validation
split.

The published points (:data:`PUBLISHED`) do not all count the same thing, and the figure says
which each counts:

- **file bytes**: our runs, the size of the file on disk;
- **the paper's accounting**: Deep Compression, DNS and soft weight-sharing report the size of
  a sparse, quantised, Huffman-coded model by a formula (Han et al. 2016's, which leaves out
  headers and biases or counts them differently); Bayesian Compression's figures are those of
  its authors' repository;
- **weights kept**: Sparse VD reports |W| / |W != 0|, a parameter count, not bytes.

A reported ratio :math:`R` is drawn at :math:`4 n / R` bytes (:math:`n` float32 parameters).

``--seeds`` repeats each budget with other training seeds (the shuffles of retraining and every
other random choice of the run; ``--config`` a file ``{"seed": S}``): a run's ratio depends on
which rounds land a validation image or two within their limit, and the spread over seeds shows
how much.

Run: ``python -m tinycompress.experiments.budget_sweep lenet-300-100 --budgets 0.05 0.1 0.2 0.4``
(about 5 to 10 minutes per budget and seed on 2 cores for LeNet-300-100, 20 to 55 for LeNet-5);
the results go to ``data/results/budget_sweep.json`` and the figure to
``data/results/budget_sweep.png``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .results import results_path, write_results

DENSE_BYTES: dict[str, int] = {"lenet-300-100": 266_610 * 4, "lenet5": 431_080 * 4}

PUBLISHED: dict[str, list[dict[str, Any]]] = {  # ../shared/reference/papers.md, section 6
    "lenet-300-100": [
        {"method": "Deep Compression", "error": 1.58, "ratio": 40, "counts": "paper"},
        {"method": "DNS", "error": 1.99, "ratio": 56, "counts": "paper"},
        {"method": "Soft weight-sharing", "error": 1.94, "ratio": 64, "counts": "paper"},
        {"method": "Sparse VD", "error": 1.92, "ratio": 68, "counts": "weights kept"},
        {"method": "Bayesian Compression (GHS)", "error": 1.8, "ratio": 59, "counts": "paper"},
    ],
    "lenet5": [
        {"method": "Deep Compression", "error": 0.74, "ratio": 39, "counts": "paper"},
        {"method": "DNS", "error": 0.91, "ratio": 108, "counts": "paper"},
        {"method": "Soft weight-sharing", "error": 0.97, "ratio": 162, "counts": "paper"},
        {"method": "Sparse VD", "error": 0.75, "ratio": 280, "counts": "weights kept"},
        {"method": "Bayesian Compression (GHS)", "error": 1.0, "ratio": 419, "counts": "paper"},
    ],
}
"""Published MNIST results: test error (%), compression ratio, and what the ratio counts."""

MARKERS = {"paper": "s", "weights kept": "^"}
LABELS = {"paper": "the paper's accounting", "weights kept": "weights kept (not bytes)"}


def run_budget(model: str, points: float, folder: Path, seed: int = 0) -> dict[str, Any]:
    """One ``deep-compress`` run at budget ``points`` and training seed ``seed``; its report's
    figures."""
    out = folder / f"{Path(model).stem}-{points:g}-{seed}.tcz"
    config = out.with_suffix(".json")
    config.write_text(json.dumps({"seed": seed}))
    cmd = [sys.executable, "-m", "tinycompress", "deep-compress", model, "--out", str(out),
           "--max-error-increase", str(points), "--config", str(config), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise UsageError(f"deep-compress at budget {points} failed: {done.stderr.strip()}")
    return point_of(json.loads(done.stdout))


def point_of(report: dict[str, Any]) -> dict[str, Any]:
    """One point of the sweep from a ``deep-compress`` report (``--json`` or ``.report.json``)."""
    o, c = report["original"], report["compressed"]
    return {"budget_points": report["budget_points"], "seed": report["settings"]["seed"],
            "file_bytes": c["file_bytes"], "ratio": c["ratio"],
            "error": c["error"], "validation_error": c["validation_error"],
            "original_error": o["error"], "original_validation_error": o["validation_error"],
            "validation": report["validation"], "seconds": report["seconds"]}


def figure(results: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    """Test error (%) against bytes (log scale), one panel per model: our sweep (seed 0) as a
    line, runs with other seeds as open circles, the published points as markers by what they
    count."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(10, 4.6))
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, (model, runs) in zip(axes, results.items(), strict=True):
        others = [r for r in runs if r["seed"] != 0]
        runs = sorted((r for r in runs if r["seed"] == 0), key=lambda r: r["file_bytes"])
        if others:
            ax.plot([r["file_bytes"] for r in others], [100 * r["error"] for r in others], "o",
                    mfc="none", color="C0", label="tinycompress, other training seeds")
        ax.plot([r["file_bytes"] for r in runs], [100 * r["error"] for r in runs], "o-",
                color="C0", label="tinycompress (file bytes)")
        for r in runs:
            ax.annotate(f"{r['budget_points']:g}", (r["file_bytes"], 100 * r["error"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=7, color="C0")
        ax.axhline(100 * runs[0]["original_error"], color="0.6", ls=":", label="our baseline")
        for i, p in enumerate(PUBLISHED.get(model, [])):
            ax.plot(DENSE_BYTES[model] / p["ratio"], p["error"], MARKERS[p["counts"]],
                    color=f"C{i + 1}", label=f"{p['method']} ({LABELS[p['counts']]})")
        ax.set_xscale("log")
        kilobytes = FuncFormatter(lambda x, _: f"{x / 1000:g}")
        ax.xaxis.set_major_formatter(kilobytes)
        ax.xaxis.set_minor_formatter(kilobytes)
        ax.tick_params(axis="x", which="both", labelsize=8)
        ax.set_xlabel("size (KB, log scale)")
        ax.set_ylabel("test error (%)")
        ax.set_title(model)
    fig.suptitle("Test error against size: our budget sweep (labels: budget P, points of "
                 "validation error) beside published MNIST results")
    # The published methods come in the same order and colours for every model: one legend,
    # below the panels, off the data, with each label once.
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=3, fontsize=7)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    fig.savefig(path, dpi=120)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="zoo names or checkpoints")
    parser.add_argument("--budgets", nargs="*", type=float, default=[0.05, 0.1, 0.2, 0.4])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0],
                        help="training seeds: every budget is run once per seed")
    parser.add_argument("--reports", nargs="*", type=Path, default=[],
                        help="add the points of finished runs' .report.json files")
    args = parser.parse_args(argv)
    path = results_path("budget_sweep")
    results = json.loads(path.read_text()) if path.is_file() else {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            runs = {(r["budget_points"], r["seed"]): r for r in results.get(model, [])}
            for report in args.reports:
                point = point_of(json.loads(report.read_text()))
                runs[point["budget_points"], point["seed"]] = point
            for points in args.budgets:
                for seed in args.seeds:
                    runs[points, seed] = run_budget(model, points, Path(tmp), seed)
                    print(json.dumps(runs[points, seed]))
            results[model] = [runs[k] for k in sorted(runs)]
            write_results(path, results)
    figure(results, path.with_suffix(".png"))


if __name__ == "__main__":
    main()
