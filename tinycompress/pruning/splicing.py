"""Pruned weights that may come back: dynamic pruning with feedback (Lin, Stich, Barba, Dmitriev
& Jaggi, ICLR 2020), the splicing of Dynamic Network Surgery (Guo, Yao & Chen, NeurIPS 2016).

A :class:`~tinycompress.pruning.magnitude.Mask` makes a pruning decision final: the removed
weight is zero and its gradient is dropped. But the weights that were small when the round
pruned are not always the ones the network can do without once it has retrained around the
cut. Keep a *dense* copy :math:`\\tilde W` that every step updates with the gradient computed
at the *pruned* weights, and let the mask follow it:

.. math::

    W = m \\odot \\tilde W, \\qquad
    \\tilde W \\leftarrow \\tilde W - \\eta\\, \\nabla_W L(W), \\qquad
    m \\leftarrow \\mathrm{top}_k |\\tilde W| \\ \\text{every } \\tau \\text{ steps}.

The gradient of a pruned entry says how much the loss would fall if it came back; it
accumulates in :math:`\\tilde W` until the entry is among the :math:`k` largest and is
*spliced* back in, while a kept weight that shrank drops out. The number kept, :math:`k`, is
the round's: only *which* weights are kept changes.

With the optimiser's constraint protocol this is one class: :meth:`Feedback.grad` lets the full
gradient through, and :meth:`Feedback.project`, called after each update, folds the step into
:math:`\\tilde W` and returns :math:`m \\odot \\tilde W`. (Weight decay, applied to :math:`W`,
does not shrink a pruned entry of :math:`\\tilde W`.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np

from ..nn.model import Sequential
from .magnitude import Mask, prunable_layers

EVERY: int = 16
"""Steps between two choices of the mask (Lin et al. use 16)."""


def top_k(magnitudes: np.ndarray, k: int) -> np.ndarray:
    """A boolean array, true at the ``k`` largest entries of ``magnitudes`` (ties broken by
    position, so exactly ``k``)."""
    keep = np.zeros(magnitudes.size, dtype=bool)
    if k > 0:
        keep[np.argpartition(-magnitudes.ravel(), k - 1)[:k]] = True
    return keep.reshape(magnitudes.shape)


class Feedback:
    """The constraint of a pruned weight whose pruned entries keep learning.

    Parameters
    ----------
    dense : :math:`\\tilde W`, the dense weights to start from (e.g. the values before this
        round pruned them); copied.
    keep : the current mask :math:`m` (true = kept); the number kept, ``keep.sum()``, is fixed.
    every : :math:`\\tau`, the steps between two choices of the mask.
    """

    def __init__(self, dense: np.ndarray, keep: np.ndarray, every: int = EVERY) -> None:
        self.dense = np.array(dense, copy=True)
        self.keep = np.array(keep, dtype=bool, copy=True)
        self.k = int(self.keep.sum())
        self.every = every
        self.steps = 0

    def grad(self, g: np.ndarray) -> np.ndarray:
        """The whole gradient: a pruned entry's part says what bringing it back would gain."""
        return g

    def project(self, w: np.ndarray) -> np.ndarray:
        """``w`` is the last projection plus one update, so its pruned entries (zero before) hold
        just the update: fold it into :math:`\\tilde W`, choose the mask every :math:`\\tau`
        steps, and return :math:`m \\odot \\tilde W`."""
        self.dense = np.where(self.keep, w, self.dense + w)
        self.steps += 1
        if self.steps % self.every == 0:
            self.keep = top_k(np.abs(self.dense), self.k)
        return np.where(self.keep, self.dense, 0).astype(w.dtype, copy=False)


@contextmanager
def feedback(model: Sequential, dense: Mapping[str, np.ndarray],
             every: int = EVERY) -> Iterator[None]:
    """While inside, every pruned layer's mask is a :class:`Feedback` started from ``dense``
    (``{layer: W before pruning}``); on leaving, each becomes a plain
    :class:`~tinycompress.pruning.magnitude.Mask` of the last choice, the weights exactly
    :math:`m \\odot \\tilde W`."""
    loops = {}
    for lay in prunable_layers(model):
        mask = lay.constraints.get("W")
        if isinstance(mask, Mask):
            loops[lay.name] = lay.constraints["W"] = Feedback(dense[lay.name], mask.keep, every)
    try:
        yield
    finally:
        for name, loop in loops.items():
            lay = model.layer(name)
            lay.constraints["W"] = Mask(loop.keep)
            lay.params["W"][...] = np.where(loop.keep, lay.params["W"], 0)
