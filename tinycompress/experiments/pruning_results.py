"""Experiment: the long runs behind chapter 3's figures (weight and filter pruning of LeNet).

After Han, Pool, Tran & Dally (NeurIPS 2015) and Li, Kadav, Durdanovic, Samet & Graf (ICLR 2017).

What it measures, in three parts:

- ``sensitivity MODEL``: accuracy with one layer pruned at each sparsity (no retraining), on
  the validation split, for the shipped dense checkpoint. The curves are what per-layer
  sparsities are chosen from (:func:`~tinycompress.pruning.iterative.choose_sparsities`), so
  the test set is not read.
- ``filters``: filter pruning of LeNet-5 (Li et al. 2017): per-layer filter sensitivity on the
  validation split, then conv1 20 -> 12 and conv2 50 -> 30 filters by L1 norm, validation and
  test error before and after retraining on the training split (2 epochs, lr 0.005, shifts of
  2 pixels), MultAdds and measured inference time of both models; also writes
  ``data/checkpoints/lenet5-filter-pruned.npz``.
- ``ablation LABEL=CHECKPOINT ...``: records the recipe, rounds, test error and (if the
  checkpoint has one) validation record of pruned checkpoints made by ``tinycompress prune``
  with other settings (the LeNet-5 retraining ablation: learning rate 1/10 of the original
  instead of 1/2, and no random shifts)::

      T=conv1=0.34,conv2=0.88,fc1=0.93,fc2=0.81
      tinycompress prune lenet5 --per-layer $T --rounds 3 --retrain-epochs 2 --batch-size 64 \\
          --lr 0.001 --shift 2 --out /tmp/l5_lr001.npz
      tinycompress prune lenet5 --per-layer $T --rounds 3 --retrain-epochs 2 --batch-size 64 \\
          --lr 0.005 --shift 0 --out /tmp/l5_noshift.npz
      python -m tinycompress.experiments.pruning_results ablation \\
          "lr 0.001=/tmp/l5_lr001.npz" "no shifts=/tmp/l5_noshift.npz"

How to run it (one BLAS thread; the machine is shared)::

    export OPENBLAS_NUM_THREADS=1
    python -m tinycompress.experiments.pruning_results sensitivity lenet-300-100
    python -m tinycompress.experiments.pruning_results sensitivity lenet5
    python -m tinycompress.experiments.pruning_results filters

Add ``--data DIR`` for another dataset in MNIST's IDX layout.

Where its JSON goes: each part merges its results, under its own key, into
``data/results/pruning_results.json``
(:func:`~tinycompress.experiments.results.results_path`); chapter 3 loads it. Each part
records the validation split it chose on (``validation``: ``n``, ``seed``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import timing, zoo
from ..nn.checkpoint import load_model, save_model
from ..nn.data import Splits, data_dir, load_splits, normalization_of
from ..nn.model import Sequential
from ..nn.train import Recipe, evaluate
from ..pruning import filters, iterative
from .results import results_path, write_results

SWEEP = [0.0, 0.5, 0.7, 0.8, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99]
"""Sparsities of the weight-sensitivity curves."""


FILTER_SWEEP = [0.0, 0.2, 0.4, 0.6, 0.8, 0.9]
"""Fractions of filters removed in the filter-sensitivity curves."""


FILTERS_KEPT = {"conv1": 12, "conv2": 30}
"""Filters kept per LeNet-5 convolution by the ``filters`` part."""


FILTER_RETRAIN = Recipe(epochs=2, batch_size=64, lr=0.005, shift=2)
"""Retraining of the filter-pruned LeNet-5."""


def merge(key: str, value: Any) -> None:
    """Set ``key`` of the results file to ``value``, keeping the other keys."""
    path = results_path("pruning_results")
    results = json.loads(path.read_text()) if path.exists() else {}
    results[key] = value
    write_results(path, results, sort_keys=True)


def data(meta: dict[str, Any], folder: str | Path | None = None) -> Splits:
    """The training, validation and test arrays of ``folder`` (default: the shipped MNIST),
    with the model's normalisation."""
    return load_splits(normalization_of(meta, folder), folder)


def sensitivity_part(model: Sequential, splits: Splits) -> dict[str, Any]:
    """The ``sensitivity`` part's record for ``model``: its curves over :data:`SWEEP` and its
    baseline accuracy, both on the validation split only."""
    s = splits
    return {"sparsities": SWEEP, "baseline": evaluate(model, s.X_val, s.y_val)["accuracy"],
            "curves": iterative.sensitivity(model, s.X_val, s.y_val, SWEEP),
            "images": f"the validation split ({len(s.y_val):,} training images held out)",
            "validation": s.validation}


def run_sensitivity(name: str, folder: str | Path | None = None) -> None:
    """The ``sensitivity`` part for the zoo model ``name``."""
    model, meta = zoo.load_pretrained(name)
    result = sensitivity_part(model, data(meta, folder))
    merge(f"sensitivity/{name}", result)
    print(json.dumps(result["curves"], indent=1))


def timings(model: Sequential, X: np.ndarray) -> dict[str, float]:
    """Seconds per forward pass of batches of 1 and 64 images."""
    return {f"batch{b}_s": timing.best_time(lambda b=b: model.forward(X[:b])) for b in (1, 64)}


def _errors(model: Sequential, splits: Splits) -> tuple[float, float]:
    """``(validation error, test error)`` of ``model``."""
    return (evaluate(model, splits.X_val, splits.y_val)["error"],
            evaluate(model, splits.X_test, splits.y_test)["error"])


def filters_part(model: Sequential, splits: Splits) -> dict[str, Any]:
    """Prune :data:`FILTERS_KEPT` filters of ``model`` in place and retrain it: the ``filters``
    part's record. The sensitivity curves are measured on the validation split; the errors on
    both the validation and the test split (``error_*`` are the test errors)."""
    s = splits
    curves = filters.filter_sensitivity(model, s.X_val, s.y_val, FILTER_SWEEP,
                                        list(FILTERS_KEPT))
    errors = {"base": _errors(model, s)}
    before = {"multadds": model.multadds(), "params": model.num_params(),
              **timings(model, s.X_test)}
    filters.prune_filters(model, FILTERS_KEPT)
    errors["pruned"] = _errors(model, s)
    start = time.perf_counter()
    iterative.retrain(model, s.X, s.y, FILTER_RETRAIN, seed=0, progress=False)
    seconds = time.perf_counter() - start
    errors["retrained"] = _errors(model, s)
    after = {"multadds": model.multadds(), "params": model.num_params(),
             **timings(model, s.X_test)}
    return {
        "filters_kept": FILTERS_KEPT, "retrain": FILTER_RETRAIN.__dict__,
        "validation": s.validation,
        "sensitivity": {"fractions": FILTER_SWEEP, "curves": curves,
                        "images": f"the validation split ({len(s.y_val):,} images)"},
        **{f"validation_error_{k}": v for k, (v, _) in errors.items()},
        **{f"error_{k}": t for k, (_, t) in errors.items()},
        "retrain_seconds": round(seconds, 1), "before": before, "after": after,
        "summary": model.summary(),
    }


def run_filters(folder: str | Path | None = None) -> None:
    """The ``filters`` part."""
    model, meta = zoo.load_pretrained("lenet5")
    splits = data(meta, folder)
    result = filters_part(model, splits)
    final = evaluate(model, splits.X_test, splits.y_test)
    save_model(model, data_dir() / "checkpoints" / "lenet5-filter-pruned.npz",
               {**meta, "source": "lenet5", "filter_pruning": result, "test": final})
    merge("filters/lenet5", result)
    print(json.dumps({k: v for k, v in result.items() if k != "summary"}, indent=1))


def run_ablation(pairs: Sequence[str]) -> None:
    """The ``ablation`` part: ``LABEL=CHECKPOINT`` pairs of pruned checkpoints."""
    out = {}
    for pair in pairs:
        label, path = pair.split("=", 1)
        _, meta = load_model(path)
        out[label] = {"recipe": meta["prune_recipe"], "rounds": meta["prune_rounds"],
                      "kept": meta["kept"], "error": meta["test"]["error"],
                      "validation": meta.get("validation")}
    merge("ablation/lenet5", out)
    print(json.dumps({k: (v["kept"], v["error"]) for k, v in out.items()}, indent=1))


def main(argv: Sequence[str] | None = None) -> None:
    """Run one part (see the module docstring)."""
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=["sensitivity", "filters", "ablation"])
    parser.add_argument("args", nargs="*", help="sensitivity: MODEL; ablation: LABEL=PATH ...")
    parser.add_argument("--data", default=None, help="dataset folder (default: MNIST)")
    args = parser.parse_args(argv)
    if args.part == "sensitivity":
        run_sensitivity(args.args[0] if args.args else "lenet-300-100", args.data)
    elif args.part == "filters":
        run_filters(args.data)
    else:
        run_ablation(args.args)


if __name__ == "__main__":
    main()
