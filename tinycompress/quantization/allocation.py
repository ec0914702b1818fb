"""Bits per layer within an accuracy budget: the fewest bits each layer tolerates.

Deep Compression gives every convolution 8 bits and every fully-connected layer 5 (Han, Mao &
Dally, ICLR 2016, §3, Table 1 and Fig. 8): one width per kind, found by hand. Layers differ,
and the validation set can say by how much. With a budget of :math:`B_q` points of validation
error for quantisation and :math:`L` weight layers:

1. **One layer at a time** (:func:`solo_errors`): layer :math:`l` alone is shared in
   :math:`2^b` values (k-means on its kept weights, every other layer untouched) for each
   :math:`b` of a range, and the validation error :math:`e_l(b)` measured.
2. **The fewest bits within a share** (:func:`fewest_bits`): layer :math:`l` gets the
   smallest :math:`b` with :math:`e_l(b) - e \\le B_q / L`, where :math:`e` is the error
   before quantisation. Errors of different layers roughly add, so :math:`L` shares of
   :math:`B_q / L` spend about :math:`B_q`.
3. **Check together** (done by the caller, after the centroids are fine-tuned): if the whole
   quantised model still costs more than the budget, :func:`widen` gives one more bit to the
   layer whose own cost at its width is the largest, and quantisation is run again. If it is
   within, fine-tuning has recovered more than the solo errors (measured before it) foresaw:
   each layer in turn, most kept weights first (:func:`by_weights_kept`), is tried with one
   bit fewer, kept if the whole stays within the budget.

Only the validation split decides; the test set is never read here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..nn.model import Sequential
from ..nn.train import evaluate
from .kmeans import RngLike
from .sharing import share_weights
from .trained import SPEC_KINDS

BITS_RANGE: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
"""The widths tried per layer (8 bits is the widest the paper uses)."""


def weight_layers(model: Sequential) -> list[str]:
    """Names of the layers quantisation shares (conv, depthwise and fully-connected ``W``)."""
    return [lay.name for lay in model.layers if lay.kind in SPEC_KINDS]


def solo_errors(model: Sequential, X_val: np.ndarray, y_val: np.ndarray,
                bits: Sequence[int] = BITS_RANGE, init: str = "linear",
                rng: RngLike = 0) -> dict[str, dict[int, float]]:
    """``{layer: {b: validation error with only that layer shared in 2**b values}}``.

    The model is left unchanged. ``rng`` seeds the k-means starts (used by random inits).
    """
    gen = np.random.default_rng(rng)
    out: dict[str, dict[int, float]] = {}
    for name in weight_layers(model):
        W = model.layer(name).params["W"]
        original = W.copy()
        out[name] = {}
        for b in bits:
            W[...] = share_weights(original, b, init=init, rng=gen).decode()
            out[name][b] = evaluate(model, X_val, y_val)["error"]
        W[...] = original
    return out


def fewest_bits(errors: Mapping[str, Mapping[int, float]], error_before: float,
                share: float) -> dict[str, int]:
    """Per layer, the smallest width whose solo error is within ``share`` of ``error_before``
    (the widest tried if none is)."""
    return {name: min((b for b, e in by_bits.items() if e - error_before <= share),
                      default=max(by_bits))
            for name, by_bits in errors.items()}


def widen(chosen: Mapping[str, int], errors: Mapping[str, Mapping[int, float]]
          ) -> dict[str, int] | None:
    """One more bit for the layer that costs most at its width (None if all are at the widest).

    "Costs most" is its solo error at the chosen width minus its solo error at the widest.
    """
    room = {n: errors[n][b] - errors[n][max(errors[n])] for n, b in chosen.items()
            if b < max(errors[n])}
    if not room:
        return None
    worst = max(room, key=lambda n: room[n])
    return {**chosen, worst: chosen[worst] + 1}


def by_weights_kept(model: Sequential, chosen: Mapping[str, int]) -> list[str]:
    """The layers of ``chosen`` above the narrowest width, the most nonzero weights first (where
    a bit fewer saves the most)."""
    kept = {n: int(np.count_nonzero(model.layer(n).params["W"])) for n in chosen}
    return sorted((n for n, b in chosen.items() if b > min(BITS_RANGE)), key=lambda n: -kept[n])


def bits_spec(chosen: Mapping[str, int]) -> str:
    """``{"fc1": 3, "fc2": 4}`` -> ``"fc1=3,fc2=4"`` (a :data:`~.trained.BitsSpec`)."""
    return ",".join(f"{n}={b}" for n, b in chosen.items())
