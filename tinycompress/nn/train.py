"""Training and evaluation loops: minibatch SGD with a progress bar and a NaN guard.

Holds :class:`Recipe` (how a shipped checkpoint was trained), :func:`fit`, :func:`evaluate` and
:func:`train_with_recipe`; the update rule itself is :mod:`.optim`'s, the loss :mod:`.losses`'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..errors import ShapeError, TrainingDivergedError
from .data import random_shift
from .losses import softmax_cross_entropy
from .model import Sequential
from .optim import SGD, Schedule, cosine

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Recipe:
    """A training recipe: SGD with momentum, L2 weight decay and cosine learning-rate decay."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.9
    weight_decay: float = 5e-4
    shift: int = 0  # random translation of up to this many pixels (0 = no augmentation)


@dataclass
class EpochStats:
    epoch: int
    loss: float
    accuracy: float
    lr: float


def _check_data(model: Sequential, X: np.ndarray, y: np.ndarray) -> None:
    if len(X) != len(y):
        raise ShapeError(f"{len(X)} inputs but {len(y)} labels")
    if tuple(X.shape[1:]) != model.input_shape:
        raise ShapeError(f"{model.name} expects inputs of shape {model.input_shape}, "
                         f"got {tuple(X.shape[1:])}")


def fit(
    model: Sequential, X: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int,
    optimizer: SGD, schedule: Schedule | None = None, seed: int | np.random.Generator = 0,
    augment: Augment | None = None, progress: bool = True,
    on_epoch: Callable[[EpochStats], Any] | None = None,
) -> list[EpochStats]:
    """Train ``model`` in place by minibatch SGD; returns one :class:`EpochStats` per epoch.

    Each epoch visits the examples in an order drawn from ``seed`` (so the same seed gives the
    same weights), optionally augments each batch, and sets the learning rate from
    ``schedule(step)``. A NaN or infinite loss stops training at once with
    :class:`TrainingDivergedError` rather than silently producing a useless model.
    """
    _check_data(model, X, y)
    rng = np.random.default_rng(seed)
    n = len(X)
    steps_per_epoch = -(-n // batch_size)
    history: list[EpochStats] = []
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(n)
        total_loss, correct = 0.0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{epochs}",
                   disable=not progress, leave=False, mininterval=0.5)
        for b in bar:
            idx = order[b * batch_size : (b + 1) * batch_size]
            xb, yb = X[idx], y[idx]
            if augment is not None:
                xb = augment(xb, rng)
            if schedule is not None:
                optimizer.lr = schedule(step)
            with np.errstate(over="ignore", invalid="ignore"):  # the guard below reports it
                logits = model.forward(xb, train=True)
                loss, dlogits = softmax_cross_entropy(logits, yb)
            if not np.isfinite(loss):
                raise TrainingDivergedError(
                    f"loss became {loss} at epoch {epoch + 1}, step {b + 1} (learning rate "
                    f"{optimizer.lr:g}); lower the learning rate or check the inputs for NaN"
                )
            model.backward(dlogits)
            optimizer.step()
            total_loss += loss * len(idx)
            correct += int((logits.argmax(axis=1) == yb).sum())
            step += 1
            if b % 20 == 0:
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{optimizer.lr:.4g}")
        stats = EpochStats(epoch + 1, total_loss / n, correct / n, optimizer.lr)
        history.append(stats)
        if progress:
            tqdm.write(f"epoch {stats.epoch}/{epochs}  loss {stats.loss:.4f}  "
                       f"train acc {stats.accuracy:.4f}  lr {stats.lr:.4g}")
        if on_epoch is not None:
            on_epoch(stats)
    return history


def evaluate(model: Sequential, X: np.ndarray, y: np.ndarray,
             batch_size: int = 1000) -> dict[str, Any]:
    """Accuracy, error, mean loss and count on ``(X, y)`` in evaluation mode, ``batch_size``
    examples at a time (fewer for a model with huge activations: :meth:`Sequential.batch_for`)."""
    _check_data(model, X, y)
    batch_size = model.batch_for(batch_size)
    correct, total_loss = 0, 0.0
    for i in range(0, len(X), batch_size):
        logits = model.forward(X[i : i + batch_size])
        loss, _ = softmax_cross_entropy(logits, y[i : i + batch_size])
        total_loss += loss * len(logits)
        correct += int((logits.argmax(axis=1) == y[i : i + batch_size]).sum())
    n = len(X)
    acc = correct / n if n else float("nan")
    return {"accuracy": acc, "error": 1.0 - acc, "n": n, "correct": correct,
            "loss": total_loss / n if n else float("nan")}


def train_with_recipe(
    model: Sequential, X: np.ndarray, y: np.ndarray, recipe: Recipe, seed: int = 0,
    progress: bool = True,
) -> list[EpochStats]:
    """Train ``model`` from scratch following ``recipe`` (cosine decay over all steps)."""
    optimizer = SGD(model, recipe.lr, recipe.momentum, recipe.weight_decay)
    steps = recipe.epochs * -(-len(X) // recipe.batch_size)
    augment = None
    if recipe.shift:
        def augment(xb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            return random_shift(xb, recipe.shift, rng)
    return fit(model, X, y, epochs=recipe.epochs, batch_size=recipe.batch_size,
               optimizer=optimizer, schedule=cosine(recipe.lr, steps), seed=seed,
               augment=augment, progress=progress)
