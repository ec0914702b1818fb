r"""Structured clean-up after magnitude pruning: the units pruning left dead are removed.

Magnitude pruning (Han, Pool, Tran & Dally 2015, "Learning both Weights and Connections for
Efficient Neural Networks") zeroes single connections, and some units lose all of theirs; the
paper notes that such dead neurons can then be removed from the network. Their arrays keep
their size otherwise, and the file still stores their biases and the filler entries of their
empty rows. Here they go for good, by the channel surgery of filter pruning (Li, Kadav,
Durdanovic, Samet & Graf 2017, "Pruning Filters for Efficient ConvNets";
:func:`~.filters.remove_channels`), so the model holds smaller dense arrays and every counter
(``model.summary()``, ``num_params``, MultAdds) reports the smaller model.

Units
-----
A *producer* is a layer that mixes channels (Conv2D, PointwiseConv2D, Dense); its *consumer*
is the next such layer. Between them only layers that act on each channel alone: ReLU,
Dropout, max, average and global average pooling, BatchNorm, depthwise convolution, and
perhaps a Flatten. Unit :math:`j` is the producer's output channel :math:`j` (column
:math:`j` of a dense ``W`` (D, M), filter :math:`j` of a conv ``W`` (F, C, K, K)) with every
entry tied to it down to the consumer's inputs (:func:`~.filters.channel_ties`): after a
Flatten of (C, H, W) maps, the :math:`HW` consumer rows :math:`jHW, \dots, (j+1)HW - 1`.

No outgoing weights
-------------------
If every consumer weight reading channel :math:`j` is zero, the channel adds nothing to any
output: it is removed with its incoming weights, its bias and its entries in the layers between.

No incoming weights
-------------------
If the producer's weights of unit :math:`j` are all zero, its output is the constant map
:math:`b_j` (0 without a bias) whatever the input. Every layer between maps a constant map to
a constant map, channel by channel:

- ReLU: :math:`c \mapsto \max(c, 0)`; Dropout (evaluation): :math:`c \mapsto c`;
- max, average or global average pooling (none pads): :math:`c \mapsto c`;
- BatchNorm in evaluation, affine per channel:
  :math:`c \mapsto \gamma_j (c - \mu_j) / \sqrt{\sigma^2_j + \epsilon} + \beta_j`;
- a depthwise filter :math:`w_j` with bias :math:`d_j`: :math:`c \mapsto c \sum w_j + d_j`.
  With zero padding its border windows read zeros instead of :math:`c`, so the map is no
  longer constant, unless :math:`c = 0` (then it is :math:`d_j`). Conversely an all-zero
  depthwise filter makes its channel the constant :math:`d_j` from there on.

So the channel reaches the consumer as a constant :math:`a_j` (LeNet-300-100:
:math:`a_j = \mathrm{ReLU}(b_j)`; LeNet-5, with no ReLU after its convolutions and max-pooling
of a constant map: :math:`a_j = b_j`), and adds to the consumer's output :math:`m`

.. math::
    \delta_m = a_j \sum_{r < HW} W_{jHW + r,\, m} \quad\text{(Dense; } HW = 1
    \text{ without a Flatten)},\qquad
    \delta_m = a_j \sum_{p,q} W_{m, j, p, q} \quad\text{(Conv2D, at every pixel)},

the same for every input: :math:`b_m \mathrel{+}= \delta_m`, and unit :math:`j` is removed.
For a convolution this holds only without padding: a padded consumer's border windows read
zeros instead of :math:`a_j`. A constant channel :math:`a_j \ne 0` read by a padded
convolution (or broken up by a padded depthwise one) is therefore *kept*, and the report lists
it under ``kept_constant``. A consumer without a bias (MobileNet's convolutions) passes its
:math:`\delta` to the BatchNorm right after it, :math:`\mu \mathrel{-}= \delta` (BatchNorm of
:math:`y + \delta` with mean :math:`\mu` is BatchNorm of :math:`y` with mean
:math:`\mu - \delta`), or else gets a bias.

Removing a unit can empty another (a consumer unit whose only inputs were folded, a producer
unit whose only readers went), so :func:`remove_dead_units` repeats until nothing changes. It
never removes the network's inputs (no layer produces them) nor its outputs (the last mixing
layer has no consumer), and keeps at least one unit in every layer.

The cleaned model computes the same function in evaluation mode, up to rounding (constants
are summed in float64 and stored in the model's dtype). In training mode a BatchNorm between
producer and consumer would normalise a constant channel to :math:`\beta_j`, so retraining
starts from the evaluation-mode function, the one that was measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ShapeError, UsageError, shown
from ..nn.base import Layer
from ..nn.model import Sequential
from .filters import CHANNELWISE, CONSUMERS, PASSTHROUGH, PRODUCERS, remove_channels
from .magnitude import Mask

COUNTERS = ("params", "nonzero_params", "weights", "multadds")
"""The totals of ``model.summary()`` a :class:`StructuredReport` gives before and after."""


@dataclass(frozen=True)
class Link:
    """The path from a producer's output channels to the layer that reads them.

    ``between`` are the channel-wise layers (and a Flatten) in between, ``after`` the layer
    right after the consumer (None at the end of the model), ``repeat`` the consumer's input
    entries per channel: 1, or H*W for a dense layer after a Flatten of (C, H, W) maps.
    """

    producer: Layer
    between: tuple[Layer, ...]
    consumer: Layer
    after: Layer | None
    repeat: int


@dataclass(frozen=True)
class DeadUnits:
    """What one producer's units are, as found on the current model (indices of the units now).

    ``no_inputs``: constant units whose contribution can be folded exactly into the consumer;
    ``no_outputs``: units nothing reads; ``kept_constant``: constant units that folding would
    change (zero padding downstream); ``value``: the constant each unit reaches the consumer
    with (meaningful where a unit is constant); ``per_unit`` (units, outputs): the consumer's
    weights summed over each unit's entries.
    """

    no_inputs: np.ndarray
    no_outputs: np.ndarray
    kept_constant: np.ndarray
    value: np.ndarray
    per_unit: np.ndarray


@dataclass(frozen=True)
class StructuredReport:
    """What :func:`remove_dead_units` removed, by producer layer, in the original numbering.

    ``units``: ``{layer: (before, after)}``; ``no_inputs``: units removed whose constant output
    was folded into the next layer's bias; ``no_outputs``: units removed that nothing read
    (a unit with neither counts here); ``kept_constant``: constant units kept because folding
    them would not be exact (zero padding downstream) or because they were a layer's last
    unit; ``rounds``: passes that removed units (one more confirms the fixed point);
    ``before``, ``after``: the totals
    :data:`COUNTERS` of ``model.summary()``.
    """

    units: dict[str, tuple[int, int]]
    no_inputs: dict[str, list[int]]
    no_outputs: dict[str, list[int]]
    kept_constant: dict[str, list[int]]
    rounds: int
    before: dict[str, int]
    after: dict[str, int]

    @property
    def removed(self) -> int:
        """Units removed from all layers."""
        return sum(b - a for b, a in self.units.values())

    def to_json(self) -> dict[str, Any]:
        return {"units": {k: list(v) for k, v in self.units.items()},
                "no_inputs": self.no_inputs, "no_outputs": self.no_outputs,
                "kept_constant": self.kept_constant, "rounds": self.rounds,
                "removed": self.removed, "before": self.before, "after": self.after}


def links(model: Sequential) -> list[Link]:
    """Every producer that has a consumer, with the path between them, in model order.

    A producer with no consumer after it (the output layer) has no removable units. Raises
    :class:`~tinycompress.errors.ShapeError` for a layer between them whose kind the tables of
    :mod:`.filters` do not know.
    """
    shapes = model.shapes()
    found = []
    for i, producer in enumerate(model.layers):
        if producer.kind not in PRODUCERS:
            continue
        between: list[Layer] = []
        repeat = 1
        for j in range(i + 1, len(model.layers)):
            lay = model.layers[j]
            if lay.kind in CONSUMERS:
                after = model.layers[j + 1] if j + 1 < len(model.layers) else None
                found.append(Link(producer, tuple(between), lay, after, repeat))
                break
            if lay.kind == "flatten":
                repeat *= math.prod(shapes[j][1:])
            elif lay.kind not in CHANNELWISE | PASSTHROUGH:
                raise ShapeError(f"cannot follow the units of {shown(producer.name)} through "
                                 f"{shown(lay.name)} ({type(lay).__name__}, kind "
                                 f"{shown(lay.kind)})")
            between.append(lay)
    return found


def unit_count(layer: Layer) -> int:
    """Output units of a producer: filters of a conv, columns of a dense ``W``."""
    return int(layer.params["W"].shape[PRODUCERS[layer.kind]])


def _bias(layer: Layer, n: int) -> np.ndarray:
    """The layer's bias as float64 (n,), zeros without one."""
    b = layer.params.get("b")
    return np.zeros(n) if b is None else b.astype(np.float64)


def _batchnorm(layer: Layer, c: np.ndarray) -> np.ndarray:
    """BatchNorm in evaluation applied to one constant per channel, in float64."""
    gamma, beta = (layer.params[k].astype(np.float64) for k in ("gamma", "beta"))
    mean, var = (layer.buffers[k].astype(np.float64) for k in ("running_mean", "running_var"))
    return gamma * (c - mean) / np.sqrt(var + layer.eps) + beta


def _constants(link: Link) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which units reach the consumer as a constant map, the constant, and which units were
    constant but stopped being so at a padded depthwise convolution. Shapes (units,)."""
    p = link.producer
    n = unit_count(p)
    constant = ~np.moveaxis(p.params["W"], PRODUCERS[p.kind], 0).reshape(n, -1).any(axis=1)
    value = _bias(p, n)
    broken = np.zeros(n, dtype=bool)
    for lay in link.between:
        if lay.kind == "relu":
            value = np.maximum(value, 0.0)
        elif lay.kind == "bn":
            value = _batchnorm(lay, value)
        elif lay.kind == "depthwise":
            w = lay.params["W"].reshape(n, -1).astype(np.float64)
            empty = ~w.any(axis=1)
            if lay.padding:  # the border windows read zeros: constant only if c = 0
                lost = constant & ~empty & (value != 0)
                broken |= lost
                constant &= ~lost
            constant |= empty
            value = value * w.sum(axis=1) + _bias(lay, n)
        # Dropout (evaluation), pooling and Flatten keep a constant map constant
    return constant, value, broken & ~constant


def _readers(link: Link, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Whether any consumer weight reads each unit (n,), and the consumer's weights summed
    over each unit's entries (n, outputs): what a constant 1 on the unit adds to each output."""
    W = link.consumer.params["W"].astype(np.float64)
    if link.consumer.kind == "fc":  # W (n * repeat, M)
        entries = W.reshape(n, link.repeat, W.shape[1])  # (n, HW, M)
        return entries.any(axis=(1, 2)), entries.sum(axis=1)
    entries = W.swapaxes(0, 1).reshape(n, W.shape[0], -1)  # (n, F, K*K)
    return entries.any(axis=(1, 2)), entries.sum(axis=2)


def dead_units(link: Link) -> DeadUnits:
    """The dead units of ``link``'s producer on the model as it is now (nothing is changed)."""
    n = unit_count(link.producer)
    constant, value, broken = _constants(link)
    read, per_unit = _readers(link, n)
    consumer = link.consumer
    if consumer.kind == "conv" and getattr(consumer, "padding", 0):
        lost = constant & read & (value != 0)  # its border windows would see 0, not a_j
        broken, constant = broken | lost, constant & ~lost
    return DeadUnits(no_inputs=constant & read, no_outputs=~read, kept_constant=broken,
                     value=value, per_unit=per_unit)


def _fold(link: Link, delta: np.ndarray) -> None:
    """Add the constant ``delta`` (outputs,) to the consumer's output: its bias, the running
    mean of the BatchNorm right after a bias-free consumer (minus), or a new bias."""
    consumer, after = link.consumer, link.after
    if "b" in consumer.params:
        # BEGIN SOLUTION fold-dead-units
        b = consumer.params["b"]
        consumer.params["b"] = (b.astype(np.float64) + delta).astype(b.dtype)
        # END SOLUTION
    elif after is not None and after.kind == "bn":
        mean = after.buffers["running_mean"]
        after.buffers["running_mean"] = (mean.astype(np.float64) - delta).astype(mean.dtype)
    else:  # a bias-free convolution with nothing to take the shift: it gets a bias
        consumer.bias = True
        consumer.params["b"] = delta.astype(consumer.params["W"].dtype)


def _check_constraints(model: Sequential) -> None:
    """Refuse constraints that cannot be sliced (a shared-weight codebook), before any change."""
    for lay in model.layers:
        for key, constraint in lay.constraints.items():
            if not isinstance(constraint, Mask):
                raise UsageError(f"{shown(lay.name)}/{key} carries a {type(constraint).__name__}; "
                                 "remove dead units after pruning and before quantising")


def _counters(model: Sequential) -> dict[str, int]:
    summary = model.summary()
    return {key: int(summary[key]) for key in COUNTERS}


def _clean(model: Sequential, link: Link) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Remove the dead units of one producer, folding the constant ones; returns the masks
    (current numbering) of the units removed with no inputs, with no outputs, and of the
    constant units kept."""
    dead = dead_units(link)
    no_in, no_out, kept = (a.copy() for a in (dead.no_inputs, dead.no_outputs,
                                              dead.kept_constant))
    if (no_in | no_out).all():  # keep one unit, unchanged, so the layer stays a layer
        kept[0] = no_in[0] or kept[0]
        no_in[0] = no_out[0] = False
    # BEGIN SOLUTION fold-dead-units
    delta = dead.value[no_in] @ dead.per_unit[no_in]
    # END SOLUTION
    if np.any(delta):
        _fold(link, delta)
    if (no_in | no_out).any():
        remove_channels(model, link.producer.name, np.flatnonzero(~(no_in | no_out)))
    return no_in, no_out, kept


def remove_dead_units(model: Sequential) -> StructuredReport:
    """Remove, in place, every unit whose incoming or outgoing weights are all zero.

    A unit with no incoming weights outputs a constant; its contribution is folded into the
    next layer's bias (see the module docstring for the maths and for the padded convolutions
    where that would not be exact, whose constant units are kept). Passes repeat until none
    removes anything. Pruning masks are sliced with their weights and the layers'
    configurations updated, so the model trains, saves, encodes and exports like any other.
    In evaluation mode its outputs are unchanged up to rounding.

    Parameters
    ----------
    model : a Sequential of the engine's layers, pruned (zeros, with or without masks), not
        yet quantised. It is modified in place: copy it first to keep the original.

    Returns
    -------
    StructuredReport : the units removed per layer in the original numbering, the constant
        units kept, and the model's counters before and after.

    Raises
    ------
    UsageError
        If a parameter carries a constraint other than a pruning mask (a quantised model:
        remove dead units before quantising); nothing is changed.
    ShapeError
        If a layer of an unknown kind lies between two mixing layers; nothing is changed.
    """
    _check_constraints(model)
    paths = links(model)  # removing channels keeps every layer, so the paths stay valid
    before = _counters(model)
    origin = {lk.producer.name: np.arange(unit_count(lk.producer)) for lk in paths}
    no_inputs: dict[str, list[int]] = {name: [] for name in origin}
    no_outputs: dict[str, list[int]] = {name: [] for name in origin}
    kept: dict[str, list[int]] = {}
    rounds, changed = -1, True
    while changed:  # the last pass removes nothing: it confirms the fixed point
        rounds, changed = rounds + 1, False
        for link in paths:
            name = link.producer.name
            no_in, no_out, constant = _clean(model, link)
            no_inputs[name] += origin[name][no_in].tolist()
            no_outputs[name] += origin[name][no_out].tolist()
            kept[name] = origin[name][constant].tolist()
            origin[name] = origin[name][~(no_in | no_out)]
            changed |= bool((no_in | no_out).any())
    units = {name: (len(origin[name]) + len(no_inputs[name]) + len(no_outputs[name]),
                    len(origin[name])) for name in origin}
    return StructuredReport(
        units=units, no_inputs={k: sorted(v) for k, v in no_inputs.items()},
        no_outputs={k: sorted(v) for k, v in no_outputs.items()},
        kept_constant={k: v for k, v in kept.items() if v}, rounds=rounds,
        before=before, after=_counters(model))
