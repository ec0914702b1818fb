"""Iterative pruning with retraining, after Han, Pool, Tran & Dally (NeurIPS 2015),
"Learning both Weights and Connections for Efficient Neural Networks".

The recipe: train, remove every connection whose weight is small, retrain the survivors, repeat.
The masks and thresholds are those of :mod:`tinycompress.pruning.magnitude`; this module holds
the loop around them.

- **Retraining** (:func:`retrain`): ordinary training from the current weights; the masks keep
  the model sparse.
- **Schedules** (:func:`geometric_schedule`): per-layer sparsities for each round, the kept
  fraction shrinking by the same factor every round.
- **Iterative pruning** (:func:`iterative_prune`): prune a little, retrain at about 1/10 of the
  original learning rate with L2 weight decay, prune more, ... until the per-layer targets are
  reached or the accuracy drop exceeds a bound.
- **Sensitivity analysis** (:func:`sensitivity`): prune one layer at a time over a sweep of
  sparsities, without retraining, and measure accuracy; :func:`choose_sparsities` turns the
  curves into per-layer targets.
- **Recipes**: the settings behind the shipped pruned checkpoints, :data:`PRUNE_RECIPES`
  (:class:`PruneRecipe`, run with :func:`run_recipe`).

**Which images.** Retraining reads the training split ``(X, y)``. Every *choice* here -- when
to stop (``max_error_increase``), which round to undo, which sparsity a sensitivity curve
allows -- is made on the arrays named ``X_val, y_val``: pass the validation split
(``load_arrays("validation", ...)``, :data:`~tinycompress.nn.data.VALIDATION`), never the test
set, so that a test error measured afterwards is an unbiased estimate. The functions do not
load data themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..nn.model import Sequential
from ..nn.train import Recipe, evaluate, train_with_recipe
from .magnitude import (
    current_sparsities,
    kept_fraction,
    magnitude_mask,
    masked,
    masks_from_zeros,
    prunable_layers,
    prune,
    sparsity_threshold,
)


def retrain(model: Sequential, X: np.ndarray, y: np.ndarray, config: Recipe,
            seed: int = 0, progress: bool = True) -> float:
    """Retrain a masked model in place; returns the final epoch's training loss.

    Retraining is ordinary training from the current weights (a
    :class:`~tinycompress.nn.train.Recipe`: SGD with momentum, L2 weight decay, cosine decay from
    ``lr`` over the round, optional random shifts); the masks' constraints keep the model sparse.
    """
    if config.epochs <= 0:
        return float("nan")
    return train_with_recipe(model, X, y, config, seed=seed, progress=progress)[-1].loss


def geometric_schedule(targets: Mapping[str, float], rounds: int,
                       start: Mapping[str, float] | None = None) -> list[dict[str, float]]:
    r"""Per-layer sparsities for ``rounds`` rounds ending at ``targets``.

    The kept fraction shrinks by the same factor every round,
    :math:`d_r = d_0 (d_T / d_0)^{r/R}`, so each round removes the same *share* of the
    survivors: gentle when much remains, and never a large jump at the end.
    ``start`` gives the current sparsities (default: dense).
    """
    start = start or {}
    out = []
    for r in range(1, rounds + 1):
        out.append({name: 1.0 - (1.0 - start.get(name, 0.0))
                    * ((1.0 - s) / (1.0 - start.get(name, 0.0))) ** (r / rounds)
                    for name, s in targets.items()})
    return out


@dataclass
class RoundResult:
    """What one prune-and-retrain round of :func:`iterative_prune` did."""

    round: int
    sparsities: dict[str, float]
    kept: float  # fraction of all prunable weights kept
    error_pruned: float  # error on (X_val, y_val) right after pruning, before retraining
    error: float  # error on (X_val, y_val) after retraining
    train_loss: float

    def to_json(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return asdict(self)


def snapshot(model: Sequential) -> dict[str, Any]:
    """Copies of every parameter, buffer and mask, for :func:`restore`."""
    return {lay.name: ({k: v.copy() for k, v in lay.params.items()},
                       {k: v.copy() for k, v in lay.buffers.items()},
                       dict(lay.constraints)) for lay in model.layers}


def restore(model: Sequential, state: dict[str, Any]) -> None:
    """Put back a :func:`snapshot` (same architecture)."""
    for lay in model.layers:
        params, buffers, constraints = state[lay.name]
        for k, v in params.items():
            lay.params[k][...] = v
        for k, v in buffers.items():
            lay.buffers[k][...] = v
        lay.constraints = dict(constraints)


def iterative_prune(
    model: Sequential, X: np.ndarray, y: np.ndarray, schedule: Sequence[Mapping[str, float]],
    retrain_config: Recipe, *, X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None, max_error_increase: float | None = None, seed: int = 0,
    progress: bool = True, on_round: Callable[[RoundResult], Any] | None = None,
    first_round: int = 1, base_error: float | None = None,
) -> list[RoundResult]:
    """Prune -> retrain, round after round, following ``schedule`` (per-layer sparsities).

    Parameters
    ----------
    model : pruned and retrained in place.
    X, y : the training split, retrained on.
    schedule : the per-layer sparsities of each round.
    retrain_config : the retraining of every round.
    X_val, y_val : the validation split (never the test set): the per-round errors and the
        stopping rule read it. Without it the errors are NaN and nothing is undone.
    max_error_increase : if given, a round whose validation error rose by more than this (a
        fraction: 0.002 is 0.2 points) above the starting error is undone (weights and masks
        restored) and the loop stops: the model is the last round that met the bound.
    seed, progress : the retraining's seed (``seed + round``) and progress bar.
    on_round : called with each completed round's :class:`RoundResult`.
    first_round : the number of the first round (when a schedule is run in several calls).
    base_error : overrides the starting validation error the bound is measured from.

    Returns
    -------
    One :class:`RoundResult` per completed round (the undone one, if any, is not included).
    """
    has_val = X_val is not None and y_val is not None
    if base_error is None:
        base_error = evaluate(model, X_val, y_val)["error"] if has_val else float("nan")
    results: list[RoundResult] = []
    for r, sparsities in enumerate(schedule, start=first_round):
        before = snapshot(model) if max_error_increase is not None else None
        prune(model, per_layer=sparsities)
        err_pruned = evaluate(model, X_val, y_val)["error"] if has_val else float("nan")
        loss = retrain(model, X, y, retrain_config, seed=seed + r, progress=progress)
        err = evaluate(model, X_val, y_val)["error"] if has_val else float("nan")
        result = RoundResult(r, dict(sparsities), kept_fraction(model), err_pruned, err, loss)
        if before is not None and has_val and err - base_error > max_error_increase:
            restore(model, before)
            break
        results.append(result)
        if on_round is not None:
            on_round(result)
    return results


def sensitivity(
    model: Sequential, X_val: np.ndarray, y_val: np.ndarray, sparsities: Sequence[float],
    layers: Sequence[str] | None = None,
) -> dict[str, list[float]]:
    """Accuracy on ``(X_val, y_val)`` with *one* layer pruned at each sparsity, all others
    intact.

    No retraining: this measures how much each layer tolerates on its own (Han et al. 2015,
    Fig. 6; Li et al. 2017, Fig. 2b). The model is left unchanged.

    Parameters
    ----------
    model : the model to probe.
    X_val, y_val : the validation split (the curves choose sparsities: never the test set).
    sparsities : the sweep, fractions of each layer's weights removed.
    layers : the layers to probe (default: every prunable one).

    Returns
    -------
    ``{layer: [accuracy at each sparsity]}``.
    """
    curves: dict[str, list[float]] = {}
    for lay in prunable_layers(model, layers):
        w = lay.params["W"]
        original = w.copy()
        accs = []
        for s in sparsities:
            w[...] = masked(original, magnitude_mask(original, sparsity_threshold(original, s)))
            accs.append(evaluate(model, X_val, y_val)["accuracy"])
        w[...] = original
        curves[lay.name] = accs
    return curves


def choose_sparsities(curves: Mapping[str, Sequence[float]], sparsities: Sequence[float],
                      baseline_accuracy: float, max_drop: float) -> dict[str, float]:
    """Per layer, the largest swept sparsity whose accuracy stays within ``max_drop`` of the
    baseline (0.0 if none does): a first guess at per-layer targets from the curves.

    ``curves`` come from :func:`sensitivity` on the validation split, and
    ``baseline_accuracy`` is the unpruned model's accuracy on the same images; ``max_drop`` is
    a fraction (0.01 is one point)."""
    out = {}
    for name, accs in curves.items():
        ok = [s for s, a in zip(sparsities, accs, strict=True)
              if baseline_accuracy - a <= max_drop]
        out[name] = max(ok, default=0.0)
    return out


@dataclass(frozen=True)
class PruneRecipe:
    """Final per-layer sparsities, reached in ``rounds`` geometric steps (from wherever the
    model already is), each followed by ``retrain``; the last round retrains
    ``final_epochs`` epochs instead when given."""

    targets: dict[str, float]
    rounds: int
    retrain: Recipe
    final_epochs: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return asdict(self)


PRUNE_RECIPES: dict[str, PruneRecipe] = {
    # Han et al. 2015, Table 2 rates (fc1 a little lower, so the total is under 8%); retraining
    # at 1/10 of the original learning rate (0.1), L2 5e-4 as in training.
    "lenet-300-100": PruneRecipe(
        targets={"fc1": 0.925, "fc2": 0.91, "fc3": 0.74}, rounds=4,
        retrain=Recipe(epochs=3, batch_size=128, lr=0.01), final_epochs=5),
    # Further, for the Deep Compression pipeline (~5% kept); start from the 8% model.
    "lenet-300-100-dc": PruneRecipe(
        targets={"fc1": 0.955, "fc2": 0.92, "fc3": 0.78}, rounds=2,
        retrain=Recipe(epochs=3, batch_size=128, lr=0.01), final_epochs=5),
    # Han et al. 2015, Table 3 rates with fc1 at 7%: 7.5% of the weights kept overall. The
    # original learning rate is 0.01; retraining at half of it with random shifts of 2 pixels.
    "lenet5": PruneRecipe(
        targets={"conv1": 0.34, "conv2": 0.88, "fc1": 0.93, "fc2": 0.81}, rounds=3,
        retrain=Recipe(epochs=2, batch_size=64, lr=0.005, shift=2), final_epochs=3),
    # Further, for the Deep Compression pipeline (~4.4% kept); start from the 8% model.
    "lenet5-dc": PruneRecipe(
        targets={"conv1": 0.34, "conv2": 0.88, "fc1": 0.963, "fc2": 0.81}, rounds=2,
        retrain=Recipe(epochs=2, batch_size=64, lr=0.005, shift=2)),
}
"""Pruning recipes by name (``tinycompress prune MODEL --recipe NAME``)."""


def run_recipe(
    model: Sequential, recipe: PruneRecipe, X: np.ndarray, y: np.ndarray, *,
    X_val: np.ndarray | None = None, y_val: np.ndarray | None = None, seed: int = 0,
    max_error_increase: float | None = None, progress: bool = True,
    on_round: Callable[[RoundResult], Any] | None = None,
) -> list[RoundResult]:
    """Apply ``recipe`` to ``model`` in place: masks from the current zeros, the geometric
    schedule from the current sparsities to the targets, prune and retrain each round.

    ``(X, y)`` is the training split; ``(X_val, y_val)`` the validation split. With
    ``max_error_increase`` (and validation data), stops at the last round whose validation
    error stays within that much of the starting validation error (see
    :func:`iterative_prune`).
    """
    masks_from_zeros(model)
    schedule = geometric_schedule(recipe.targets, recipe.rounds, current_sparsities(model))
    has_val = X_val is not None and y_val is not None
    kwargs = {"X_val": X_val, "y_val": y_val, "seed": seed, "progress": progress,
              "on_round": on_round, "max_error_increase": max_error_increase,
              "base_error": evaluate(model, X_val, y_val)["error"] if has_val else None}
    results = iterative_prune(model, X, y, schedule[:-1], recipe.retrain, **kwargs)
    if len(results) < len(schedule) - 1:
        return results  # the error bound stopped the schedule early
    last = recipe.retrain
    if recipe.final_epochs is not None:
        last = Recipe(**{**asdict(last), "epochs": recipe.final_epochs})
    return results + iterative_prune(model, X, y, schedule[-1:], last,
                                     first_round=len(schedule), **kwargs)
