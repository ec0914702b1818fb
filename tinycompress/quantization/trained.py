"""Trained quantisation of a whole model: shared weights that stay shared while the centroids
learn (Han, Mao & Dally, *Deep Compression*, ICLR 2016, §3.3, Fig. 3).

:func:`quantize_model` clusters every weight tensor (``W`` of conv and fully-connected layers;
biases stay float32, as in the paper) into ``2**b`` shared values and hangs a
:class:`SharedWeightConstraint` on it. :func:`finetune` then trains the centroids with the
ordinary optimiser. The optimiser (:class:`tinycompress.nn.optim.SGD`) applies, for every
constrained parameter,

.. math::  g \\leftarrow C.\\mathrm{grad}(g + \\lambda W),\\quad v \\leftarrow \\mu v + g,\\quad
           W \\leftarrow C.\\mathrm{project}(W - \\eta v),

and the constraint makes this *exactly* SGD with momentum on the codebook:

* ``grad`` replaces each weight's gradient by the gradient of its centroid,
  ``g'_ij = sum_{kl: I_kl = I_ij} g_kl`` (the grouped sum of Eq. 3,
  :func:`tinycompress.quantization.sharing.centroid_grad`), broadcast back to the weights.
  Every weight of cluster k then receives the same update, the velocity stays equal within a
  cluster (it starts at zero), and after the step every weight of cluster k still equals one
  value ``C_k - eta v_k``, the SGD-with-momentum update of the centroid.
* ``project`` reads that value back as the new centroid (the mean of the cluster, which here is
  exact since all members are equal; it is also the least-squares projection onto "W = C[I]"
  for fixed I) and re-snaps ``W = mask * C[I]``; pruned weights stay 0, assignments never move.
* Weight decay: the optimiser adds ``lambda W`` before ``grad``, so the centroid receives
  ``lambda * n_k * C_k``, which is exactly the gradient of the L2 penalty
  ``lambda/2 * sum_ij W_ij^2 = lambda/2 * sum_k n_k C_k^2`` of the decoded weights. Big clusters
  are pulled to 0 harder; :func:`finetune` uses no weight decay by default.

Because the centroid gradient is a *sum* over up to hundreds of thousands of weights, the
learning rate that suits the centroids is far below the one that trained the weights.

Ablations (``mode``): ``"paper"`` is the above. ``"mean"`` fine-tunes the kept weights freely
(masked SGD) and only at the end sets each centroid to the mean of its fine-tuned weights (the
common teaching shortcut). ``"reassign"`` keeps full-precision shadow weights that take the
optimiser's steps (a straight-through estimator), and after every step re-assigns them to the
nearest centroid and moves each centroid to the mean of its shadow weights (one Lloyd step per
SGD step); the forward pass always uses ``C[I]``.

Also here: the bits specification (:data:`BitsSpec`, :func:`parse_bits`, :func:`bits_for`) and
:func:`shared_from_dense`, which reads the codebook back from a saved quantised tensor.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..nn.base import Layer
from ..nn.model import Sequential, distinct_nonzero
from ..nn.optim import SGD, cosine
from ..nn.train import Augment, EpochStats, fit
from .kmeans import RngLike, assign_sorted
from .sharing import SharedWeights, centroid_grad, index_dtype, share_weights

MODES: tuple[str, ...] = ("paper", "mean", "reassign")
"""Fine-tuning modes of :class:`SharedWeightConstraint` (see the module docstring)."""


FINETUNE_LR: float = 1e-4
"""Default centroid learning rate of the command line (plain SGD, momentum 0.9, cosine decay):
the paper's summed gradient is n_k times a weight's, so the step must be small."""


BitsSpec = int | dict[str, int] | str
"""Bits per layer: one int for all, ``{"conv": 8, "fc": 5}`` by layer kind, ``{"fc1": 6}`` by
layer name (names win over kinds), or the same as a string ``"conv=8,fc=5"`` / ``"6"``."""


SPEC_KINDS: dict[str, str] = {"conv": "conv", "depthwise": "conv", "fc": "fc"}
"""The layers that are quantised, by :attr:`~tinycompress.nn.base.Layer.kind`, and the kind a
:data:`BitsSpec` calls them: a depthwise layer's filters are convolution filters (``conv``)."""


def cluster_means(w: np.ndarray, shared: SharedWeights) -> np.ndarray:
    """Codebook whose entry k is the mean of the kept entries of ``w`` with index k.

    Entries no kept weight uses keep their old value. Returns shape (k,), the codebook's dtype.
    """
    idx, m = shared.indices[shared.mask], shared.mask
    sums = np.bincount(idx, weights=w[m], minlength=shared.k)
    counts = np.bincount(idx, minlength=shared.k)
    out = shared.codebook.astype(np.float64)
    used = counts > 0
    out[used] = sums[used] / counts[used]
    return out.astype(shared.codebook.dtype)


class SharedWeightConstraint:
    """Keeps a weight tensor equal to ``mask * codebook[indices]`` through training.

    Parameters
    ----------
    shared : SharedWeights
        Codebook, indices and mask; updated in place as the centroids learn.
    mode : {"paper", "mean", "reassign"}
        See the module docstring.
    shadow : ndarray, optional
        Full-precision starting weights for ``"reassign"`` (default: the decoded weights).
    """

    def __init__(self, shared: SharedWeights, mode: str = "paper",
                 shadow: np.ndarray | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown fine-tuning mode {mode!r}; choose one of {MODES}")
        self.shared, self.mode = shared, mode
        if mode == "reassign":  # full-precision shadow weights and the last W handed out
            self._shadow = (shared.decode() if shadow is None else shadow).astype(np.float64)
            self._last = shared.decode()

    def grad(self, g: np.ndarray) -> np.ndarray:
        """Paper: the centroid gradient broadcast to its weights; otherwise the masked gradient."""
        if self.mode == "paper":
            per_weight = centroid_grad(g, self.shared)[self.shared.indices]
            return np.where(self.shared.mask, per_weight, 0).astype(g.dtype)
        return np.where(self.shared.mask, g, 0).astype(g.dtype)

    def project(self, w: np.ndarray) -> np.ndarray:
        """Read the centroids back from the updated ``w`` and return ``mask * C[I]``.

        In ``"mean"`` mode the weights move freely inside the mask until :meth:`finalize`.
        """
        s = self.shared
        if self.mode == "mean":
            return np.where(s.mask, w, 0).astype(w.dtype)
        if self.mode == "reassign":
            self._shadow += w - self._last  # the optimiser's step, applied to the shadow weights
            s.codebook = np.sort(s.codebook)
            s.indices[s.mask] = assign_sorted(self._shadow[s.mask], s.codebook)
            s.codebook = cluster_means(self._shadow, s)
            self._last = s.decode()
            return self._last.astype(w.dtype)
        s.codebook = cluster_means(w, s)
        return s.decode().astype(w.dtype)

    def finalize(self, w: np.ndarray) -> np.ndarray:
        """End of fine-tuning: set each centroid to the mean of its weights; return ``C[I]``."""
        self.shared.codebook = cluster_means(w, self.shared)
        return self.shared.decode()


def parse_bits(spec: BitsSpec) -> dict[str, int]:
    """Normalise a :data:`BitsSpec` to ``{key: bits}`` (key ``"*"`` = every layer).

    >>> parse_bits("conv=8,fc=5")
    {'conv': 8, 'fc': 5}
    >>> parse_bits(6)
    {'*': 6}
    """
    if isinstance(spec, int):
        return {"*": spec}
    if isinstance(spec, dict):
        return {str(k): int(v) for k, v in spec.items()}
    spec = spec.strip()
    if re.fullmatch(r"\d+", spec):
        return {"*": int(spec)}
    out = {}
    for part in spec.split(","):
        m = re.fullmatch(r"\s*([\w.*-]+)\s*=\s*(\d+)\s*", part)
        if m is None:
            raise ValueError(f"cannot read bits {spec!r}: use B, or KEY=B,... with KEY a layer "
                             "name, conv or fc (e.g. conv=8,fc=5)")
        out[m.group(1)] = int(m.group(2))
    return out


def bits_for(layer: Layer, bits: dict[str, int]) -> int | None:
    """Bits of one layer under a parsed spec: by name, then by kind, then ``"*"``; None = skip."""
    kind = SPEC_KINDS.get(layer.kind)
    if kind is None:
        return None
    for key in (layer.name, kind, "*"):
        if key in bits:
            return bits[key]
    return None


@dataclass
class LayerQuantReport:
    """What quantisation did to one layer."""

    name: str
    kind: str
    bits: int
    weights: int
    kept: int
    distinct_values: int
    mse: float  # mean squared change of the kept weights

    def to_json(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return asdict(self)


def quantize_model(model: Sequential, bits: BitsSpec, init: str = "linear",
                   rng: RngLike = 0, mode: str = "paper") -> list[LayerQuantReport]:
    """Share the weights of every conv / fc layer of ``model`` in place.

    Each layer's kept (nonzero) weights are clustered by 1-D k-means into ``2**b`` values; the
    layer's ``W`` becomes ``mask * C[I]`` and gets a :class:`SharedWeightConstraint` (replacing
    a pruning constraint: the new one keeps the same zeros). Layers the spec does not cover are
    left alone.

    Parameters
    ----------
    model : Sequential
    bits : BitsSpec
        E.g. ``6``, ``{"conv": 8, "fc": 5}``, ``"fc1=4,fc=6"``.
    init : {"linear", "density", "random", "kmeans++"}
    rng : int or numpy.random.Generator
        One generator is drawn from for all layers, in layer order.
    mode : {"paper", "mean", "reassign"}
        How :func:`finetune` will treat the layers.

    Returns
    -------
    list of LayerQuantReport, one per quantised layer.
    """
    spec = parse_bits(bits)
    known = {"*", "conv", "fc"} | {lay.name for lay in model.layers if lay.kind in SPEC_KINDS}
    if unknown := sorted(set(spec) - known):
        raise ShapeError(f"bits given for {unknown}, which {model.name} does not have; its "
                         f"weight layers are {sorted(known - {'*', 'conv', 'fc'})} "
                         "(or use the kinds conv, fc)")
    gen = np.random.default_rng(rng)
    report = []
    for layer in model.layers:
        b = bits_for(layer, spec)
        if b is None:
            continue
        W = layer.params["W"]
        shared = share_weights(W, b, init=init, rng=gen)
        shared.codebook = shared.codebook.astype(W.dtype)  # float64 models (gradient checks)
        layer.constraints["W"] = SharedWeightConstraint(shared, mode, shadow=W)
        new = shared.decode()
        kept = shared.mask
        mse = float(np.mean((new[kept] - W[kept]) ** 2)) if kept.any() else 0.0
        W[...] = new
        report.append(LayerQuantReport(
            name=layer.name, kind=SPEC_KINDS[layer.kind], bits=b, weights=int(W.size),
            kept=int(kept.sum()), distinct_values=distinct_nonzero(W), mse=mse))
    return report


def shared_from_dense(W: np.ndarray, bits: int) -> SharedWeights:
    """Codebook and indices of a tensor that is already weight-shared, e.g. read back from a
    quantised checkpoint (which stores the decoded ``W``, not the constraint).

    The codebook is the sorted distinct nonzero values, padded to ``2**bits`` entries by
    repeating the largest; ``decode()`` gives back ``W`` exactly.

    Raises
    ------
    ShapeError
        If ``W`` has more than ``2**bits`` distinct nonzero values (it is not shared at that
        width: quantise it first).
    """
    mask = W != 0
    values = np.unique(W[mask])
    k = 2**bits
    if values.size > k:
        raise ShapeError(f"the tensor has {values.size} distinct nonzero values, more than the "
                         f"{k} of a {bits}-bit codebook; quantise it first (quantize_model)")
    codebook = np.full(k, values[-1] if values.size else 0, dtype=W.dtype)
    codebook[: values.size] = values
    indices = np.zeros(W.shape, dtype=index_dtype(bits))
    indices[mask] = np.searchsorted(values, W[mask])
    return SharedWeights(codebook=codebook, indices=indices, mask=mask, bits=int(bits))


def shared_constraints(model: Sequential) -> list[tuple[Layer, SharedWeightConstraint]]:
    """The (layer, constraint) pairs :func:`quantize_model` attached."""
    return [(layer, c) for layer in model.layers
            if isinstance(c := layer.constraints.get("W"), SharedWeightConstraint)]


def finetune(model: Sequential, X: np.ndarray, y: np.ndarray, *, epochs: int, lr: float,
             batch_size: int = 128, momentum: float = 0.9, weight_decay: float = 0.0,
             seed: RngLike = 0, augment: Augment | None = None, progress: bool = True,
             on_epoch: Any = None) -> list[EpochStats]:
    """Fine-tune a quantised model's centroids (and its biases) with SGD and cosine decay.

    The assignments never change (except in ``"reassign"`` mode, by design). In ``"mean"`` mode
    the centroids are set to the means of the fine-tuned weights at the end. Returns the
    per-epoch training statistics of :func:`tinycompress.nn.train.fit` (``augment`` and ``seed``
    are passed to it, e.g. random shifts for LeNet-5).
    """
    pairs = shared_constraints(model)
    if not pairs:
        raise ValueError("the model has no shared-weight layers; call quantize_model first")
    steps = epochs * -(-len(X) // batch_size)
    opt = SGD(model, lr=lr, momentum=momentum, weight_decay=weight_decay)
    history = fit(model, X, y, epochs=epochs, batch_size=batch_size, optimizer=opt,
                  schedule=cosine(lr, steps), seed=seed, augment=augment, progress=progress,
                  on_epoch=on_epoch)
    for layer, c in pairs:
        if c.mode == "mean":
            layer.params["W"][...] = c.finalize(layer.params["W"])
    return history
