"""Stochastic gradient descent with momentum and L2 weight decay, and learning-rate schedules.

The update for a parameter :math:`w` with gradient :math:`g` (PyTorch's convention):

.. math::
    g \\leftarrow C.\\mathrm{grad}(g + \\lambda w),\\qquad v \\leftarrow \\mu v + g,\\qquad
    w \\leftarrow C.\\mathrm{project}(w - \\eta v)

where :math:`C` is the parameter's constraint when it has one (a pruning mask zeroes the
gradient and the weight of every pruned connection; a shared-weight codebook groups the
gradient by cluster). Without a constraint both are the identity.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .model import Sequential

Schedule = Callable[[int], float]
"""Maps the global step (0, 1, 2, ...) to a learning rate."""


def constant(lr: float) -> Schedule:
    """The same learning rate at every step."""
    return lambda step: lr


def cosine(lr: float, total_steps: int, final_lr: float = 0.0) -> Schedule:
    r"""Cosine decay from ``lr`` to ``final_lr`` over ``total_steps``:
    :math:`\eta_t = \eta_f + \tfrac12(\eta_0 - \eta_f)(1 + \cos(\pi t / T))`."""
    def schedule(step: int) -> float:
        t = min(step, total_steps) / max(total_steps, 1)
        return final_lr + 0.5 * (lr - final_lr) * (1.0 + math.cos(math.pi * t))
    return schedule


class SGD:
    """SGD with momentum and L2 weight decay over every parameter of a model.

    Weight decay applies to weight tensors ("W") only, not to biases or BatchNorm parameters.
    """

    def __init__(self, model: Sequential, lr: float = 0.01, momentum: float = 0.9,
                 weight_decay: float = 0.0) -> None:
        self.model, self.lr, self.momentum, self.weight_decay = model, lr, momentum, weight_decay
        self.velocity: dict[tuple[str, str], np.ndarray] = {}

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        for layer, key, w in self.model.parameters():
            g = layer.grads.get(key)
            if g is None:
                continue
            if self.weight_decay and key == "W":
                g = g + self.weight_decay * w
            constraint = layer.constraints.get(key)
            if constraint is not None:
                g = constraint.grad(g)
            v = self.velocity.get((layer.name, key))
            if v is None or v.shape != w.shape:
                v = np.zeros_like(w)
            v = self.momentum * v + g
            self.velocity[(layer.name, key)] = v
            w -= (self.lr * v).astype(w.dtype, copy=False)
            if constraint is not None:
                w[...] = constraint.project(w)
