"""Filter-level (structured) pruning, after Li, Kadav, Durdanovic, Samet & Graf (ICLR 2017),
"Pruning Filters for Efficient ConvNets".

Weight pruning leaves the arrays their original size, full of zeros; only sparse storage and
sparse kernels turn the zeros into savings. Filter pruning removes whole output channels, so
the result is an ordinary, *really smaller* dense model: smaller arrays, fewer MultAdds by the
counters, faster with the same dense code, no masks.

- **Ranking.** A filter's importance is its L1 norm :math:`s_j = \\sum |W_{j,\\cdot}|`; the
  smallest go (:func:`filter_l1_norms`, :func:`filters_to_keep`).
- **Channel dependencies.** Removing output channel :math:`j` of a layer removes every array
  entry tied to that channel further down: BatchNorm's four per-channel arrays, a depthwise
  convolution's filter :math:`j` (a depthwise layer maps channel :math:`j` to channel
  :math:`j`, so the walk goes on through it), and finally the input slice of the next layer
  that mixes channels: input channel :math:`j` of a convolution, or, after a ``Flatten`` of a
  (C, H, W) map, the :math:`HW` rows :math:`jHW, \\dots, (j+1)HW - 1` of a dense layer
  (LeNet-5: conv2 -> fc1). :func:`channel_ties` finds them by walking the Sequential, asking
  each layer its :attr:`~tinycompress.nn.base.Layer.kind`.
- **Surgery.** :func:`remove_channels` slices every tied array and updates the layers'
  configurations (``out_channels``, ``in_channels``, ``in_features``, ``num_features``), so the
  smaller model saves and loads like any other.

Layers are pruned one after the other (:func:`prune_filters`), each ranked on its weights
*after* the previous layer's surgery, i.e. the kernels reading already-removed maps no longer
count (Li et al.'s "greedy" multi-layer strategy). :func:`filter_sensitivity` gives the
per-layer curves of their Fig. 2b.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError
from ..nn.base import Layer
from ..nn.model import Sequential
from ..nn.train import evaluate
from .magnitude import Mask

PRODUCERS = {"conv": 0, "fc": 1}
"""Layer kinds whose output channels can be removed, and the axis of ``W`` indexing them (a
pointwise convolution is of kind ``conv``)."""


CONSUMERS = {"conv": 1, "fc": 0}
"""Layer kinds that mix their input channels, and the axis of ``W`` indexing those channels."""


CHANNELWISE = {"bn", "depthwise"}
"""Layer kinds whose every parameter and buffer has one entry (axis 0) per channel, and whose
output channel j depends on input channel j only."""


PASSTHROUGH = {"relu", "pool", "dropout"}
"""Layer kinds that keep channels apart and hold no per-channel arrays."""


SIZE_ATTRS = ("out_channels", "in_channels", "in_features", "out_features", "num_features",
              "channels")
"""Configuration attributes that may hold a channel count."""


@dataclass(frozen=True)
class Tie:
    """A layer whose arrays are tied to the producer's output channels.

    ``role`` is "producer" (the layer being pruned), "channelwise" or "consumer" (the layer
    reading the channels, where the walk stops). ``repeat`` is the number of consecutive
    entries per channel along the tied axis: 1, or H*W for a dense layer after a Flatten.
    """

    layer: Layer
    role: str
    repeat: int = 1

    def axis(self) -> int:
        """The axis of ``W`` (of every array, for a channel-wise layer) indexing the channels."""
        if self.role == "producer":
            return PRODUCERS[self.layer.kind]
        if self.role == "consumer":
            return CONSUMERS[self.layer.kind]
        return 0

    def index(self, channels: np.ndarray) -> np.ndarray:
        """Entries along :meth:`axis` that belong to the given channels."""
        r = self.repeat
        return (np.asarray(channels)[:, None] * r + np.arange(r)).ravel()


def channel_ties(model: Sequential, name: str) -> list[Tie]:
    """Walk forward from layer ``name`` and list every layer tied to its output channels:
    the producer itself, the channel-wise layers in between, and the consumer at the end."""
    names = [lay.name for lay in model.layers]
    start = names.index(model.layer(name).name)
    producer = model.layers[start]
    if producer.kind not in PRODUCERS:
        raise ShapeError(f"cannot remove output channels of {name!r} "
                         f"({type(producer).__name__}); prunable kinds: {sorted(PRODUCERS)}")
    shapes = model.shapes()
    ties = [Tie(producer, "producer")]
    repeat = 1
    for j in range(start + 1, len(model.layers)):
        lay = model.layers[j]
        if lay.kind in CHANNELWISE:
            ties.append(Tie(lay, "channelwise"))
        elif lay.kind == "flatten":
            repeat = int(np.prod(shapes[j][1:]))
        elif lay.kind in CONSUMERS:
            ties.append(Tie(lay, "consumer", repeat))
            return ties
        elif lay.kind not in PASSTHROUGH:
            raise ShapeError(f"cannot follow the channels of {name!r} through {lay.name!r} "
                             f"({type(lay).__name__}, kind {lay.kind!r}); add its kind to the "
                             "layer tables of tinycompress.pruning.filters")
    raise ShapeError(f"{name!r} is the model's output layer (or nothing reads its channels): "
                     "removing its channels would remove classes")


def filter_l1_norms(w: np.ndarray, axis: int = 0) -> np.ndarray:
    """L1 norm of every filter: :math:`s_j = \\sum |W|` over all axes but ``axis``.

    Shapes: Conv2D W (F, C, K, K), axis 0 -> (F,); Dense W (D, M), axis 1 -> (M,).
    """
    # BEGIN SOLUTION filter-l1-ranking
    other = tuple(a for a in range(w.ndim) if a != axis)
    norms = np.abs(w).sum(axis=other)
    # END SOLUTION
    return norms


def filters_to_keep(norms: np.ndarray, n_keep: int) -> np.ndarray:
    """Indices (ascending) of the ``n_keep`` filters of largest norm; ties keep the lower index."""
    if not 1 <= n_keep <= norms.size:
        raise ValueError(f"n_keep must be in [1, {norms.size}], got {n_keep}")
    # BEGIN SOLUTION filter-l1-ranking
    order = np.argsort(-norms, kind="stable")
    keep = np.sort(order[:n_keep])
    # END SOLUTION
    return keep


def _set_size(layer: Layer, attrs: Sequence[str], old: int, new: int) -> None:
    for attr in attrs:
        if getattr(layer, attr, None) == old:
            setattr(layer, attr, new)


def remove_channels(model: Sequential, name: str, keep: np.ndarray) -> list[Tie]:
    """Keep only output channels ``keep`` of layer ``name``, physically, in every tied array
    (parameters, buffers and pruning masks), and update the layers' configurations.

    Returns the ties that were cut. The model is modified in place.
    """
    ties = channel_ties(model, name)
    keep = np.asarray(keep)
    old = ties[0].layer.params["W"].shape[ties[0].axis()]
    for tie in ties:
        lay, axis, idx = tie.layer, tie.axis(), tie.index(keep)
        for store in (lay.params, lay.buffers):
            for key, arr in store.items():
                if tie.role == "consumer" and key != "W":
                    continue  # the consumer's bias belongs to its own outputs
                store[key] = np.ascontiguousarray(np.take(arr, idx, axis=axis if key == "W"
                                                          else 0))
        mask = lay.constraints.get("W")
        if isinstance(mask, Mask):
            lay.constraints["W"] = Mask(np.take(mask.keep, idx, axis=axis))
        elif mask is not None:
            raise ShapeError(f"{lay.name}: cannot shrink a {type(mask).__name__} constraint; "
                             "remove filters before quantising")
        lay.grads.clear()
        if tie.role == "producer":
            _set_size(lay, ("out_channels", "out_features"), old, keep.size)
        elif tie.role == "consumer":
            _set_size(lay, ("in_channels", "in_features"), old * tie.repeat,
                      keep.size * tie.repeat)
        else:
            _set_size(lay, SIZE_ATTRS, old, keep.size)
    model.shapes()  # the surgery must leave a consistent model
    return ties


def zero_channel_readers(model: Sequential, name: str, drop: np.ndarray) -> None:
    """The *soft* version of :func:`remove_channels`: zero the consumer's weights that read the
    output channels ``drop`` of layer ``name``, leaving every array its size. The outputs then
    equal those of the filter-pruned model exactly; the tests compare the two."""
    consumer = channel_ties(model, name)[-1]
    w = consumer.layer.params["W"]
    index = [slice(None)] * w.ndim
    index[consumer.axis()] = consumer.index(np.asarray(drop, dtype=np.int64))
    w[tuple(index)] = 0


def prune_filters(model: Sequential, n_keep: Mapping[str, int]) -> dict[str, np.ndarray]:
    """Remove the smallest-L1 filters of each named layer, in model order, keeping
    ``n_keep[name]`` of them. Returns the kept original indices per layer."""
    kept = {}
    for lay in [lay for lay in model.layers if lay.name in n_keep]:
        axis = PRODUCERS.get(lay.kind, 0)
        keep = filters_to_keep(filter_l1_norms(lay.params["W"], axis), n_keep[lay.name])
        remove_channels(model, lay.name, keep)
        kept[lay.name] = keep
    return kept


def filter_sensitivity(
    model: Sequential, X: np.ndarray, y: np.ndarray, fractions: Sequence[float],
    layers: Sequence[str],
) -> dict[str, list[float]]:
    """Accuracy with the smallest-L1 fraction of filters removed from one layer at a time, no
    retraining (Li et al. 2017, Fig. 2b). The model is left unchanged."""
    curves: dict[str, list[float]] = {}
    for name in layers:
        n = model.layer(name).params["W"].shape[PRODUCERS[model.layer(name).kind]]
        accs = []
        for f in fractions:
            smaller = copy.deepcopy(model)
            prune_filters(smaller, {name: max(1, n - int(round(f * n)))})
            accs.append(evaluate(smaller, X, y)["accuracy"])
        curves[name] = accs
    return curves
