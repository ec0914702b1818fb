"""Pruning within an accuracy budget: "prune until the accuracy threshold" (Han, Pool, Tran &
Dally, NeurIPS 2015, §3; Han, Mao & Dally, ICLR 2016, §2), on any model of the engine.

A fixed recipe (:data:`~tinycompress.pruning.iterative.PRUNE_RECIPES`) says *how much* to
prune; it was tuned by hand for one network. Here the network itself says how much it
tolerates. The user gives a budget :math:`B` in points of *validation* error; pruning deepens
round by round until the next step would cost more than :math:`B`:

1. **Sensitivity** (:func:`~tinycompress.pruning.iterative.sensitivity`, on the model as it
   is at the start of each round): for every layer :math:`l` the validation accuracy with that
   layer alone pruned further, to each sparsity of a sweep of its survivors (:func:`grid`). Its
   *drop* :math:`D_l(s)` (made non-decreasing, linear between the swept points) says how much
   layer :math:`l` suffers at sparsity :math:`s`. Measured again after every accepted round,
   because retraining changes what a layer tolerates: the dense curves say the second
   convolution cannot lose half its weights, but once retrained sparse it loses most of the
   rest at little cost (Han et al. 2015 prune conv2 of LeNet-5 to 12%).
2. **Allocation** (:func:`allocate`): to keep an overall fraction :math:`k` of the weights
   at the least total drop, prune where a removed weight costs least: every layer down to the
   same marginal drop per weight removed (a Lagrange multiplier), read off the lower convex
   hulls of the curves. A flat curve of many weights (a big fully-connected layer) is pruned
   hard, a steep or small one (the first convolution, the classifier) gently.
3. **Rounds** (:func:`prune_within_budget`): round :math:`r` aims at :math:`k_r = f\\,k_{r-1}`
   (each round removes the same share :math:`1 - f` of the survivors), prunes to the
   allocation, retrains, and measures the validation error :math:`e_r`. If
   :math:`e_r - e_0 \\le B` the round is kept. Otherwise it gets up to ``rescues`` more
   retrainings (retraining at a sparsity the network tolerates keeps lowering the error, and
   one round's measurement moves by a few images); if it is still over, it is undone and
   retried with the gentler step :math:`\\sqrt f`, and pruning stops once the step is gentler
   than ``min_step``: the model is the last round within the budget. With ``splice`` > 0 the
   round's retraining lets pruned weights come back (:mod:`~tinycompress.pruning.splicing`):
   the round fixes how many weights each layer keeps, retraining chooses which.

Only the validation split decides (:data:`tinycompress.nn.data.VALIDATION`); the test set is
never read here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager as ContextManager
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..nn.model import Sequential
from ..nn.train import Recipe, evaluate
from . import splicing
from .iterative import restore, retrain, sensitivity, snapshot
from .magnitude import current_sparsities, kept_fraction, masks_from_zeros, prunable_layers, prune

ROUNDING: float = 1e-9
"""Errors are counts over the validation images, differences of floats: an error exactly at
the limit (1.64% against 0.94% + 0.70 points) is within it, not refused by a rounding bit."""

SWEEP: tuple[float, ...] = (0.0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995)
"""Sparsities of the sensitivity sweep (dense to 1 weight in 200)."""


@dataclass(frozen=True)
class BudgetSchedule:
    """How :func:`prune_within_budget` deepens: the kept fraction shrinks by ``step`` per round,
    each round retrains with ``retrain`` (and up to ``rescues`` times more while over budget); a
    refused round is retried with ``sqrt(step)`` until the step would be gentler than
    ``min_step``; at most ``max_rounds`` rounds are tried."""

    retrain: Recipe
    step: float = 0.6
    # Steps 0.6, 0.77, 0.88, 0.94: up to three gentler tries. LeNet-300-100 at its budget,
    # training seeds 0 to 3: 117 to 146x (median 134x) against 98 to 153x (129x) at 0.9.
    min_step: float = 0.95
    max_rounds: int = 14
    rescues: int = 1
    splice: int = 0  # steps between choices of the mask while retraining (0: a pruned weight stays)
    sensitivity_n: int = 2000  # validation images for the sensitivity curves


@dataclass
class BudgetRound:
    """One tried round: its target, what it reached, and whether the budget let it stand."""

    round: int
    target_kept: float
    kept: float
    sparsities: dict[str, float]
    error_pruned: float  # validation error right after pruning, before retraining
    error: float  # validation error after retraining
    retrains: int  # retrainings the round took (1 + rescues used)
    accepted: bool
    budget_left: float  # points of validation error left after the last accepted round

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line: ``round 3: kept 12.40%, validation error 1.52% (budget left 0.10 points)``."""
        verdict = "kept" if self.accepted else "undone (over budget)"
        times = f" after {self.retrains} retrainings" if self.retrains > 1 else ""
        return (f"round {self.round}: {self.kept:.2%} of the weights kept, validation error "
                f"{self.error:.2%}{times}; {verdict}; budget left "
                f"{100 * self.budget_left:.2f} points")


def drop_curve(accuracies: Sequence[float], baseline: float) -> np.ndarray:
    """:math:`D(s_i) = \\max_{j \\le i} (a_0 - a_j)^+ + 10^{-9} i`: the accuracy drop at each
    swept sparsity, made non-decreasing (pruning more never counts as helping) and then strictly
    increasing by a negligible slope, so that a free stretch (no drop at all) is cheapest in
    the layer with the most weights."""
    drops = np.maximum.accumulate(np.maximum(baseline - np.asarray(accuracies, float), 0.0))
    return drops + 1e-9 * np.arange(len(drops))


def grid(floor: float) -> np.ndarray:
    """The sparsities a layer at sparsity ``floor`` is probed at: :data:`SWEEP` of its
    *survivors*, :math:`1 - (1 - s_0)(1 - s)`, from ``floor`` itself (nothing more removed) to
    one survivor in 200 kept."""
    return 1.0 - (1.0 - floor) * (1.0 - np.asarray(SWEEP))


def resweep(model: Sequential, X_val: np.ndarray, y_val: np.ndarray
            ) -> tuple[dict[str, np.ndarray], dict[str, list[float]]]:
    """Each prunable layer's :func:`grid` from its current sparsity, and its sensitivity curve
    over it (one layer pruned further at a time, no retraining; the model is left unchanged)."""
    grids = {name: grid(s) for name, s in current_sparsities(model).items()}
    curves = {name: sensitivity(model, X_val, y_val, list(g), layers=[name])[name]
              for name, g in grids.items()}
    return grids, curves


def lower_hull(s: np.ndarray, d: np.ndarray) -> list[int]:
    """Indices of the lower convex hull of the points ``(s, d)`` (``s`` ascending), left to
    right: the cheapest way down a curve, whose segments get steeper and steeper."""
    hull: list[int] = []
    # BEGIN SOLUTION lower-hull
    for i in range(len(s)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]  # drop b if it lies on or above the chord a -> i
            if (d[b] - d[a]) * (s[i] - s[a]) >= (d[i] - d[a]) * (s[b] - s[a]):
                hull.pop()
            else:
                break
        hull.append(i)
    # END SOLUTION
    return hull


@dataclass(frozen=True)
class Segment:
    """A stretch of one layer's hull: pruning it from ``s0`` to ``s1`` costs ``cost`` of drop
    per weight removed."""

    layer: str
    s0: float
    s1: float
    cost: float


def segments(name: str, drops: np.ndarray, sweep: Sequence[float], n: int,
             floor: float) -> list[Segment]:
    """The hull segments of one layer's curve from its current sparsity ``floor`` on."""
    s = np.array([floor, *[x for x in sweep if x > floor]])
    d = np.interp(s, sweep, drops)
    h = lower_hull(s, d)
    return [Segment(name, float(s[i]), float(s[j]), float((d[j] - d[i]) / (n * (s[j] - s[i]))))
            for i, j in zip(h, h[1:], strict=False)]


def allocate(curves: Mapping[str, Sequence[float]],
             sweep: Sequence[float] | Mapping[str, Sequence[float]], baseline: float,
             weights: Mapping[str, int], kept: float,
             floor: Mapping[str, float] | None = None) -> dict[str, float]:
    """Per-layer sparsities keeping ``kept`` of all weights at the least total drop.

    Minimise :math:`\\sum_l D_l(s_l)` subject to :math:`\\sum_l n_l (1 - s_l) = k N`. On
    convex curves the Lagrangian says: at the optimum every layer that is pruned at all is
    pruned until its marginal drop *per weight removed*, :math:`D_l'(s_l) / n_l`, is the same
    :math:`\\lambda`. So replace each curve by its lower convex hull, list every hull segment
    with its cost per weight, and take the segments cheapest first (each layer's come in order,
    since its hull gets steeper) until enough weights are removed; the last is taken in part.
    A big layer whose accuracy barely moves (fc1) is pruned first and hardest; a small one
    (the classifier) only when nothing cheaper is left: removing its few weights saves little.

    Parameters
    ----------
    curves : ``{layer: [accuracy at each sweep sparsity]}`` (one layer pruned at a time).
    sweep : the swept sparsities, ascending, starting at 0 (or at each layer's current
        sparsity: then ``{layer: its sparsities}``, as :func:`resweep` gives).
    baseline : the unpruned accuracy.
    weights : ``{layer: number of weights}`` (:math:`n_l`).
    kept : the overall fraction :math:`k` of weights to keep, in (0, 1].
    floor : per-layer sparsities already reached (a layer is never made denser).

    Returns ``{layer: sparsity}``; if even the sweep's largest sparsity everywhere keeps more
    than ``kept``, that.
    """
    floor = floor or {}
    out = {n: floor.get(n, 0.0) for n in curves}
    need = sum(weights[n] * (1 - s) for n, s in out.items()) - kept * sum(weights.values())
    pieces = [seg for n, acc in curves.items()
              for seg in segments(n, drop_curve(acc, baseline),
                                  sweep[n] if isinstance(sweep, Mapping) else sweep,
                                  weights[n], out[n])]
    for seg in sorted(pieces, key=lambda g: g.cost):
        if need <= 0:
            break
        removes = weights[seg.layer] * (seg.s1 - seg.s0)
        out[seg.layer] = seg.s0 + min(removes, need) / weights[seg.layer]
        need -= removes
    return out


def spliced(model: Sequential, before: dict[str, Any], every: int) -> ContextManager[None]:
    """Retraining with pruned weights that may come back (:mod:`~tinycompress.pruning.splicing`,
    started from the weights of ``before``, a :func:`~tinycompress.pruning.iterative.snapshot`)
    if ``every`` > 0; otherwise the masks stay as they are."""
    if every <= 0:
        return nullcontext()
    return splicing.feedback(model, {name: state[0]["W"] for name, state in before.items()
                                     if "W" in state[0]}, every)


def prune_within_budget(
    model: Sequential, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
    budget: float, schedule: BudgetSchedule, *, base_error: float | None = None, seed: int = 0,
    progress: bool = True, on_round: Callable[[BudgetRound], Any] | None = None,
) -> list[BudgetRound]:
    """Prune ``model`` in place, round by round, while the validation error stays within
    ``budget`` of ``base_error`` (default: the model's own validation error now).

    Parameters
    ----------
    model : the model (dense or already pruned: its zeros become masks and stay zero).
    X, y : the training split (never the validation or test images).
    X_val, y_val : the validation split: every decision is made on it.
    budget : the tolerated rise in validation error, as a fraction (0.002 = 0.2 points).
    schedule : the pace (:class:`BudgetSchedule`).
    on_round : called with every tried round (kept or undone), e.g. to print its summary.

    Returns every tried :class:`BudgetRound`; the model is left at the last accepted one, with
    its masks installed.
    """
    masks_from_zeros(model)
    now = evaluate(model, X_val, y_val)["error"]
    e0 = now if base_error is None else base_error
    n = min(schedule.sensitivity_n, len(X_val))
    weights = {lay.name: lay.params["W"].size for lay in prunable_layers(model)}
    rounds: list[BudgetRound] = []
    step, left = schedule.step, budget - max(now - e0, 0.0)
    probed = None  # the curves of the model as it is now (remeasured after an accepted round)
    for r in range(1, schedule.max_rounds + 1):
        before, kept_now = snapshot(model), kept_fraction(model)
        if probed is None:
            probed = (evaluate(model, X_val[:n], y_val[:n])["accuracy"],
                      *resweep(model, X_val[:n], y_val[:n]))
        base_acc, grids, curves = probed
        aim = kept_now * step
        target = allocate(curves, grids, base_acc, weights, aim, current_sparsities(model))
        prune(model, per_layer=target)
        kept = kept_fraction(model)
        if kept >= kept_now * (1 - 1e-6):
            break  # the allocation can prune no further
        err_pruned = evaluate(model, X_val, y_val)["error"]
        err, retrains = np.inf, 0  # retrain once, then again while over budget (rescues)
        while err - e0 > budget + ROUNDING and retrains <= schedule.rescues:
            with spliced(model, before, schedule.splice):
                retrain(model, X, y, schedule.retrain, seed=seed + r + 1000 * retrains,
                        progress=progress)
            err = evaluate(model, X_val, y_val)["error"]
            retrains += 1
        accepted = err - e0 <= budget + ROUNDING
        if accepted:
            left, probed = budget - (err - e0), None
        else:
            restore(model, before)
            step = float(np.sqrt(step))
        result = BudgetRound(r, aim, kept, target, err_pruned, err, retrains, accepted, left)
        rounds.append(result)
        if on_round is not None:
            on_round(result)
        if step > schedule.min_step:
            break
    return rounds
