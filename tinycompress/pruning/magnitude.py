"""Magnitude pruning's building blocks, after Han, Pool, Tran & Dally (NeurIPS 2015),
"Learning both Weights and Connections for Efficient Neural Networks".

A connection whose weight is small is removed: its weight is set to zero and kept there.

- **A mask per weight tensor.** :class:`Mask` is a :class:`~tinycompress.nn.base.Constraint`:
  the optimiser multiplies the gradient by the mask before each step and the weight after it,
  so a pruned connection has zero gradient, zero momentum and zero value for ever, through any
  amount of retraining.
- **Thresholds.** Three ways to pick the cut-off :math:`t` (a weight survives iff
  :math:`|w| > t`): the paper's *quality parameter times the standard deviation* of the layer's
  weights (:func:`quality_threshold`); a target *sparsity* per layer (:func:`sparsity_threshold`);
  or one *global* threshold shared by every layer (:func:`global_threshold`).
- **Applying masks.** :func:`prune` prunes a model in place by one of those rules;
  :func:`masks_from_zeros` re-installs the masks of a pruned checkpoint, :func:`remove_masks`
  drops them.
- **The per-layer table** of the papers (weights kept, MultAdds kept): :func:`layer_table`.

Only the multiplying weights ``W`` are pruned (the layer kinds :data:`PRUNABLE_KINDS`: Conv2D,
Dense, DepthwiseConv2D); biases and BatchNorm parameters are few and stay dense, as in the paper.
Retraining, iterative schedules, sensitivity analysis and the recipes behind the shipped
checkpoints are in :mod:`tinycompress.pruning.iterative`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..nn.base import Layer
from ..nn.model import Sequential

PRUNABLE_KINDS: frozenset[str] = frozenset({"conv", "fc", "depthwise"})
"""Layer kinds (:attr:`~tinycompress.nn.base.Layer.kind`) whose weight ``W`` multiplies."""


class Mask:
    """Pruning mask of one weight tensor: a Constraint that keeps pruned connections dead.

    Parameters
    ----------
    keep : boolean array of the weight's shape; True where the connection survives.

    The optimiser calls :meth:`grad` on the gradient before its step (so momentum never builds
    up on a pruned connection) and :meth:`project` on the weight after it.
    """

    def __init__(self, keep: np.ndarray) -> None:
        self.keep = np.asarray(keep, dtype=bool)

    def grad(self, g: np.ndarray) -> np.ndarray:
        """Masked gradient :math:`g \\odot m`."""
        return masked(g, self.keep)

    def project(self, w: np.ndarray) -> np.ndarray:
        """Masked weight :math:`w \\odot m`."""
        return masked(w, self.keep)

    @property
    def density(self) -> float:
        """Fraction of connections kept."""
        return float(self.keep.mean()) if self.keep.size else 0.0

    def __repr__(self) -> str:
        return f"Mask(shape={self.keep.shape}, kept={self.density:.2%})"


def masked(a: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The mask-preserving update: zero every entry of ``a`` where ``keep`` is False."""
    # BEGIN SOLUTION magnitude-prune
    out = np.where(keep, a, np.zeros((), dtype=a.dtype))
    # END SOLUTION
    return out


def magnitude_mask(w: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean mask of the weights that survive a magnitude threshold: :math:`|w| > t`."""
    # BEGIN SOLUTION magnitude-prune
    keep = np.abs(w) > threshold
    # END SOLUTION
    return keep


def quality_threshold(w: np.ndarray, quality: float) -> float:
    r"""The paper's rule: :math:`t = q\,\sigma`, with :math:`\sigma` the standard deviation of
    the layer's *surviving* (nonzero) weights.

    Taking the survivors keeps the rule meaningful in iterative pruning: once many weights are
    exactly zero, the standard deviation of the whole tensor shrinks with every round.
    """
    # BEGIN SOLUTION magnitude-prune
    alive = w[w != 0]
    t = quality * alive.std() if alive.size else 0.0
    # END SOLUTION
    return float(t)


def sparsity_threshold(w: np.ndarray, sparsity: float) -> float:
    """The threshold that removes the fraction ``sparsity`` of the entries of ``w``.

    With the weights' magnitudes sorted ascending, :math:`a_{(1)} \\le \\dots \\le a_{(n)}`,
    removing :math:`k = \\mathrm{round}(s\\,n)` of them means :math:`t = a_{(k)}` (and
    :math:`t = -1`, nothing removed, for :math:`k = 0`). Already-pruned zeros are the smallest
    magnitudes, so they count towards the target. Ties at the threshold are all removed.
    """
    return kth_smallest_magnitude(np.abs(w).ravel(), sparsity)


def global_threshold(model: Sequential, sparsity: float,
                     layers: Sequence[str] | None = None) -> float:
    """One threshold for all the given layers' weights (default: every prunable layer), so
    that the fraction ``sparsity`` of all their weights together falls below it."""
    weights = [lay.params["W"] for lay in prunable_layers(model, layers)]
    return kth_smallest_magnitude(np.concatenate([np.abs(w).ravel() for w in weights]), sparsity)


def kth_smallest_magnitude(mags: np.ndarray, sparsity: float) -> float:
    """The threshold that removes the fraction ``sparsity`` of the magnitudes ``mags`` (1-D):
    the :math:`k`-th smallest, :math:`k = \\mathrm{round}(s\\,n)`, or -1 for :math:`k = 0`."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    k = int(round(sparsity * mags.size))
    if k == 0:
        return -1.0
    return float(np.partition(mags, k - 1)[k - 1])


def prunable_layers(model: Sequential, names: Sequence[str] | None = None) -> list[Layer]:
    """The layers whose weight ``W`` multiplies (Conv2D, Dense, ...), optionally by name."""
    if names is None:
        return [lay for lay in model.layers if lay.kind in PRUNABLE_KINDS]
    layers = [model.layer(n) for n in names]
    for lay in layers:
        if lay.kind not in PRUNABLE_KINDS:
            raise ShapeError(f"layer {lay.name!r} ({type(lay).__name__}) has no weights to prune")
    return layers


def prune_layer(layer: Layer, threshold: float) -> Mask:
    """Prune ``layer.params["W"]`` at ``threshold``, combining with any existing mask (a pruned
    weight stays pruned), install the mask as the weight's constraint and apply it."""
    w = layer.params["W"]
    keep = magnitude_mask(w, threshold)
    old = layer.constraints.get("W")
    if isinstance(old, Mask):
        keep &= old.keep
    mask = Mask(keep)
    layer.constraints["W"] = mask
    w[...] = mask.project(w)
    return mask


def prune(
    model: Sequential, *, sparsity: float | None = None, quality: float | None = None,
    per_layer: Mapping[str, float] | None = None, global_sparsity: float | None = None,
) -> dict[str, float]:
    """Prune ``model`` in place by one of four rules; returns the kept fraction per layer.

    Parameters (give exactly one)
    ----------
    sparsity : the same fraction removed from every prunable layer.
    quality : the paper's rule, threshold ``quality * std`` per layer.
    per_layer : ``{layer name: sparsity}``; unlisted layers are left alone.
    global_sparsity : one threshold for all layers, removing this fraction of all weights.
    """
    given = [v is not None for v in (sparsity, quality, per_layer, global_sparsity)]
    if sum(given) != 1:
        raise ValueError("give exactly one of sparsity, quality, per_layer, global_sparsity")
    if per_layer is not None:
        thresholds = {name: sparsity_threshold(model.layer(name).params["W"], s)
                      for name, s in per_layer.items()}
    elif global_sparsity is not None:
        t = global_threshold(model, global_sparsity)
        thresholds = {lay.name: t for lay in prunable_layers(model)}
    elif sparsity is not None:
        thresholds = {lay.name: sparsity_threshold(lay.params["W"], sparsity)
                      for lay in prunable_layers(model)}
    else:
        thresholds = {lay.name: quality_threshold(lay.params["W"], quality)
                      for lay in prunable_layers(model)}
    return {name: prune_layer(model.layer(name), t).density for name, t in thresholds.items()}


def masks_from_zeros(model: Sequential) -> dict[str, float]:
    """Re-install masks on a pruned model loaded from a checkpoint (where masks are implicit:
    the zeros). Returns the kept fraction per layer. Call before retraining a loaded model."""
    out = {}
    for lay in prunable_layers(model):
        lay.constraints["W"] = Mask(lay.params["W"] != 0)
        out[lay.name] = lay.constraints["W"].density
    return out


def remove_masks(model: Sequential) -> None:
    """Drop every pruning mask (the zeros stay; training may then regrow them)."""
    for lay in model.layers:
        if isinstance(lay.constraints.get("W"), Mask):
            del lay.constraints["W"]


def kept_fraction(model: Sequential) -> float:
    """Fraction of the prunable weights that are nonzero (the papers' "weights kept")."""
    ws = [lay.params["W"] for lay in prunable_layers(model)]
    return sum(int(np.count_nonzero(w)) for w in ws) / sum(w.size for w in ws)


def input_densities(model: Sequential, X: np.ndarray, batch_size: int = 1000) -> dict[str, float]:
    """Fraction of nonzero entries in the *input* of every prunable layer, measured on ``X``.

    A MultAdd whose input activation is zero can be skipped, so the papers' "FLOP%" of a layer
    is its weights kept times this density (Han et al. 2015, Tables 2-3).
    """
    names = {lay.name for lay in prunable_layers(model)}
    nonzero = dict.fromkeys(names, 0)
    total = dict.fromkeys(names, 0)
    for i in range(0, len(X), batch_size):
        x = X[i : i + batch_size]
        for lay in model.layers:
            if lay.name in names:
                nonzero[lay.name] += int(np.count_nonzero(x))
                total[lay.name] += x.size
            x = lay.forward(x)
    return {n: nonzero[n] / total[n] for n in names}


def layer_table(model: Sequential, X: np.ndarray | None = None) -> list[dict[str, Any]]:
    """The papers' per-layer table: weights, weights kept %, MultAdds, MultAdds kept %.

    Without ``X``, "MultAdds kept" equals "weights kept" (every kept weight multiplies once per
    output position). With ``X`` it also counts zero input activations as skipped, the papers'
    convention, and reports the input activation density ``act_in``.
    """
    dens = input_densities(model, X) if X is not None else {}
    rows = []
    shapes = dict(zip((lay.name for lay in model.layers), model.shapes()[:-1], strict=True))
    for lay in prunable_layers(model):
        w = lay.params["W"]
        kept = int(np.count_nonzero(w)) / w.size
        act = dens.get(lay.name, 1.0)
        rows.append({"layer": lay.name, "weights": int(w.size), "kept": kept,
                     "multadds": int(lay.multadds(shapes[lay.name])), "act_in": act,
                     "multadds_kept": kept * act})
    weights = sum(r["weights"] for r in rows)
    madds = sum(r["multadds"] for r in rows)
    rows.append({"layer": "total", "weights": weights,
                 "kept": sum(r["kept"] * r["weights"] for r in rows) / weights,
                 "multadds": madds, "act_in": None,
                 "multadds_kept": sum(r["multadds_kept"] * r["multadds"] for r in rows) / madds})
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown version of :func:`layer_table`."""
    out = ["| Layer | Weights | Weights kept | MultAdds | MultAdds kept |",
           "|---|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['layer']} | {r['weights']:,} | {r['kept']:.2%} | {r['multadds']:,} "
                   f"| {r['multadds_kept']:.2%} |")
    return "\n".join(out)


def current_sparsities(model: Sequential) -> dict[str, float]:
    """Fraction of zero weights in every prunable layer."""
    return {lay.name: 1.0 - np.count_nonzero(lay.params["W"]) / lay.params["W"].size
            for lay in prunable_layers(model)}
