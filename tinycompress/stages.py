"""The stages of the Deep Compression pipeline, each spending part of one accuracy budget.

The user gives a budget :math:`P` in points of validation error against the original model
(``--max-error-increase``). With :math:`e_0` the original model's validation error:

* **prune** (:func:`stage_prune`): pruning may rise to :math:`e_0 + s P` (``prune_share``
  :math:`s`), round by round (:func:`tinycompress.pruning.budget.prune_within_budget`); then
  every unit left without inputs or outputs is removed, its constant output folded into the
  next layer (:mod:`tinycompress.pruning.structured`);
* **quantize** (:func:`stage_quantize`): the fewest bits per layer within what is left up to
  :math:`e_0 + P` (:mod:`tinycompress.quantization.allocation`), then the centroids are
  fine-tuned; a layer gets one more bit while the whole model is over budget, or, if it is
  within, each layer (most weights first) is tried with one bit fewer; then the biases
  take the most compact storage (int8, fp16, fp32) within the budget (:func:`stage_small`).

Every choice reads the validation split only (``Splits.X_val``, from
:func:`tinycompress.nn.data.load_splits`); each stage measures the test error once, after it has
chosen, for the report.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from . import zoo
from .coding import small_tensors
from .nn.data import Splits
from .nn.model import Sequential
from .nn.train import Recipe, evaluate
from .pruning import budget, iterative, magnitude, structured
from .quantization import allocation, trained

SMALL_ORDER: tuple[str, ...] = ("int8", "fp16", "fp32")
"""Storage of the small tensors (biases) tried, most compact first (fp32 is lossless)."""

DEFAULT_BUDGET: float = 0.2
"""The default ``--max-error-increase``: 0.2 points of validation error (1 image in 500)."""


@dataclass
class Budget:
    """The error the run may spend: ``limit = e0 + points / 100`` on the validation split."""

    e0: float  # the original model's validation error
    points: float  # --max-error-increase

    @property
    def limit(self) -> float:
        return self.e0 + self.points / 100

    def left(self, error: float) -> float:
        """Points of validation error still unspent at ``error``."""
        return 100 * (self.limit - error)

    def allows(self, error: float) -> bool:
        """Whether ``error`` is within the limit (an error exactly at it is)."""
        return error <= self.limit + budget.ROUNDING


MIN_RETRAIN_STEPS: int = 800
"""The fewest SGD steps a pruning round retrains for: two MNIST epochs at batch 128 are 860
steps, but two epochs of a dataset of 1,300 images would be 20, too few to recover."""


def retrain_recipe(meta: dict[str, Any], settings: Any, n: int) -> Recipe:
    """Retraining after each pruning round: the model's own recipe (batch, shifts unless
    ``retrain_shift`` says otherwise) at
    ``retrain_lr_factor`` of its training learning rate, for ``retrain_epochs`` epochs of the
    ``n`` training images, or more to make :data:`MIN_RETRAIN_STEPS` steps."""
    trained_with = meta.get("recipe", {})
    batch = int(trained_with.get("batch_size", 64))
    epochs = max(settings.retrain_epochs, math.ceil(MIN_RETRAIN_STEPS / math.ceil(n / batch)))
    return Recipe(epochs=1 if settings.quick else epochs, batch_size=batch,
                  lr=zoo.training_lr(meta) * settings.retrain_lr_factor,
                  shift=int(trained_with.get("shift", 0)) if settings.retrain_shift is None
                  else settings.retrain_shift)


def stage_prune(model: Sequential, meta: dict[str, Any], data: Splits, settings: Any,
                spend: Budget, progress: bool, log: Callable[[str], Any]) -> dict[str, Any]:
    """Prune within ``prune_share`` of the budget (or by named recipes), then remove dead units."""
    if settings.prune_recipes:
        rounds = []
        for name in settings.prune_recipes:
            recipe = iterative.PRUNE_RECIPES[name]
            if settings.quick:  # the same stages, a token amount of work
                recipe = replace(recipe, rounds=1, final_epochs=None,
                                 retrain=replace(recipe.retrain, epochs=1))
            rounds += [r.to_json() for r in iterative.run_recipe(
                model, recipe, data.X, data.y, X_val=data.X_val, y_val=data.y_val,
                seed=settings.seed, progress=progress)]
    else:
        pace = budget.BudgetSchedule(retrain=retrain_recipe(meta, settings, len(data.y)),
                                     step=settings.step, rescues=settings.rescues,
                                     splice=settings.splice,
                                     max_rounds=2 if settings.quick else settings.max_rounds)
        share = settings.prune_share * settings.max_error_increase / 100
        tried = budget.prune_within_budget(
            model, data.X, data.y, data.X_val, data.y_val, share, pace, base_error=spend.e0,
            seed=settings.seed, progress=progress,
            on_round=lambda r: log(f"[prune] {r.summary()}"))
        rounds = [r.to_json() for r in tried]
    magnitude.remove_masks(model)
    cleaned = structured.remove_dead_units(model)
    log(f"[prune] removed {cleaned.removed} units without inputs or outputs: "
        + ", ".join(f"{n} {a} -> {b}" for n, (a, b) in cleaned.units.items()))
    return {"rounds": rounds, "kept": magnitude.kept_fraction(model),
            "removed_units": cleaned.to_json()}


def quantized(model: Sequential, bits: str, data: Splits, settings: Any,
              progress: bool) -> Sequential:
    """A copy of ``model`` shared at ``bits``, its centroids fine-tuned on the training split."""
    out = copy.deepcopy(model)
    trained.quantize_model(out, bits, init=settings.init, rng=settings.seed)
    if settings.finetune_epochs > 0:
        trained.finetune(out, data.X, data.y, epochs=settings.finetune_epochs,
                         lr=settings.finetune_lr, seed=settings.seed, progress=progress)
    for layer in out.layers:
        layer.constraints.clear()
    return out


def stage_quantize(model: Sequential, data: Splits, settings: Any, spend: Budget,
                   progress: bool, log: Callable[[str], Any]) -> tuple[Sequential, dict]:
    """k-means weight sharing at the given bits, or at the fewest bits within the budget."""
    if settings.bits != "auto":
        out = quantized(model, settings.bits, data, settings, progress)
        return out, {"bits": settings.bits, "tried": [],
                     **before_finetune(model, settings.bits, data, settings)}
    error_before = evaluate(model, data.X_val, data.y_val)["error"]
    solo = allocation.solo_errors(model, data.X_val, data.y_val, init=settings.init,
                                  rng=settings.seed)
    share = max(spend.limit - error_before, 0.0) / len(solo)
    tried: list[dict[str, Any]] = []

    def attempt(bits: dict[str, int]) -> tuple[Sequential, float]:
        out = quantized(model, allocation.bits_spec(bits), data, settings, progress)
        error = evaluate(out, data.X_val, data.y_val)["error"]
        tried.append({"bits": allocation.bits_spec(bits), "validation_error": error})
        log(f"[quantize] bits {allocation.bits_spec(bits)}: validation error {error:.2%}; "
            f"budget left {spend.left(error):.2f} points")
        return out, error

    chosen = allocation.fewest_bits(solo, error_before, share)
    out, error = attempt(chosen)
    while not spend.allows(error) and (wider := allocation.widen(chosen, solo)) is not None:
        chosen = wider
        out, error = attempt(chosen)
    if spend.allows(error):  # fine-tuning recovered more than the solo errors foresaw
        for name in allocation.by_weights_kept(model, chosen):
            fewer = {**chosen, name: chosen[name] - 1}
            candidate, e = attempt(fewer)
            if spend.allows(e):
                chosen, out, error = fewer, candidate, e
    bits = allocation.bits_spec(chosen)
    return out, {"bits": bits, "tried": tried,
                 "solo_errors": {n: {str(b): e for b, e in by.items()} for n, by in solo.items()},
                 **before_finetune(model, bits, data, settings)}


def before_finetune(model: Sequential, bits: str, data: Splits, settings: Any) -> dict[str, float]:
    """Validation and test error of the chosen bits right after clustering, before the
    centroids are fine-tuned (reported, not used to choose)."""
    out = copy.deepcopy(model)
    trained.quantize_model(out, bits, init=settings.init, rng=settings.seed)
    return {"validation_error_before_finetune": evaluate(out, data.X_val, data.y_val)["error"],
            "error_before_finetune": evaluate(out, data.X_test, data.y_test)["error"]}


def stage_small(model: Sequential, data: Splits, settings: Any, spend: Budget,
                log: Callable[[str], Any]) -> tuple[Sequential, dict[str, Any]]:
    """The biases (and other small tensors) as the file will store them: the most compact of
    int8, fp16 and fp32 whose validation error stays within the budget, unless ``small`` names
    one. Returns the model holding exactly the stored values, and the choice."""
    tried = []
    for small in ([settings.small] if settings.small != "auto" else list(SMALL_ORDER)):
        stored = small_tensors.as_stored(model, small)
        error = evaluate(stored, data.X_val, data.y_val)["error"]
        tried.append({"small": small, "validation_error": error})
        if spend.allows(error) or small == "fp32":
            break
    log(f"[quantize] biases stored as {small}: validation error {error:.2%}")
    return stored, {"small": small, "small_tried": tried}


def record(info: dict[str, Any], model: Sequential, data: Splits) -> dict[str, Any]:
    """A stage's record gains its validation error (which chose) and test error (reported)."""
    return {**info, "validation_error": evaluate(model, data.X_val, data.y_val)["error"],
            "error": evaluate(model, data.X_test, data.y_test)["error"]}
