"""Softmax cross-entropy, the loss every classifier here is trained with (CS231n's softmax loss).

:func:`softmax_cross_entropy` returns the mean loss and its gradient with respect to the logits,
``(softmax(z) - onehot(y)) / N`` (derived in its docstring). Both go through the log-sum-exp of
the logits minus their row maximum, so large logits never overflow.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so exp never overflows: (N, K) -> (N, K)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    r"""Mean cross-entropy of softmax probabilities and its gradient with respect to the logits.

    .. math::
        L = -\frac{1}{N}\sum_n \log p_{n, y_n},\qquad p = \mathrm{softmax}(z),\qquad
        \frac{\partial L}{\partial z_{nk}} = \frac{1}{N}\left(p_{nk} - [k = y_n]\right)

    Parameters
    ----------
    logits : (N, K) scores.
    y : (N,) integer labels in [0, K).

    Returns
    -------
    loss : float, the mean over the batch.
    dlogits : (N, K), same dtype as ``logits``.
    """
    if logits.ndim != 2 or y.shape != (logits.shape[0],):
        raise ShapeError(f"logits must be (N, K) and labels (N,), got {logits.shape}, {y.shape}")
    N, K = logits.shape
    if N and (y.min() < 0 or y.max() >= K):
        raise ShapeError(f"labels must lie in [0, {K}), got range [{y.min()}, {y.max()}]")
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    rows = np.arange(N)
    loss = float(-log_p[rows, y].mean())
    dlogits = np.exp(log_p)
    dlogits[rows, y] -= 1
    return loss, dlogits / N
