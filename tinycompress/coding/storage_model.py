"""Deep Compression's storage accounting for a network counted by shape alone (VGG-16).

Han, Mao & Dally, *Deep Compression* (ICLR 2016), Table 5: VGG-16 pruned per layer to the
densities of :data:`VGG16_KEPT`, its conv weights shared in 8 bits and its fc weights in 5,
5-bit relative indices and a float32 codebook per layer: 552 MB -> 11.3 MB (49x). Without
trained weights the storage is arithmetic on shapes, except for one count that depends on the
mask: the **filler zeros** of the relative indices (:mod:`.relative_index`).

**Expected fillers.** Let a layer of ``n`` weights keep each one independently with probability
``p`` (``q = 1 - p``) and store ``b``-bit gaps, so that distances ``1..B``, ``B = 2^b``, fit. The
distance ``d`` from one kept weight to the next is geometric, ``P(d = k) = q^(k-1) p``; an entry
at distance ``d`` needs ``f = floor((d - 1) / B)`` fillers, and ``f >= j`` exactly when
``d - 1 >= jB``, of probability ``q^(jB)``. So, with ``a = pn`` kept weights,

    E[f] = sum_{j>=1} q^(jB) = q^B / (1 - q^B),      E[fillers] = a q^B / (1 - q^B).

**Storage per layer** (bits), for ``e = a + E[fillers]`` entries with ``w``-bit codebook
indices and ``b``-bit gaps:

    dense = 32 n
    P     = e (32 + b)                      float32 values with relative indices
    P+Q   = e (w + b) + 32 * 2^w            codebook indices and a float32 codebook
    P+Q+H = e (w h_w + b h_b) + 32 * 2^w    h_w = 4.1 / 6.4, h_b = 3.1 / 5

The P+Q+H line is an assumption, stated as such: without trained weights there are no code
lengths to measure, so each layer's fixed widths are scaled by the paper's own average Huffman
gains (:data:`PAPER_HUFFMAN_GAIN`, the Table 5 totals). :func:`best_index_bits` chooses ``b``
per layer among the widths a ``.tcz`` file tries (:data:`.sections.AUTO_INDEX_BITS`), by the
P+Q cost, as :mod:`.accounting` does for a file's layers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from ..nn.model import LayerRow
from .relative_index import filler_count
from .sections import AUTO_INDEX_BITS

VGG16_KEPT: dict[str, float] = {
    "conv1_1": 0.58, "conv1_2": 0.22, "conv2_1": 0.34, "conv2_2": 0.36, "conv3_1": 0.53,
    "conv3_2": 0.24, "conv3_3": 0.42, "conv4_1": 0.32, "conv4_2": 0.27, "conv4_3": 0.34,
    "conv5_1": 0.35, "conv5_2": 0.29, "conv5_3": 0.36, "fc6": 0.04, "fc7": 0.04, "fc8": 0.23,
}
"""The fraction of each VGG-16 layer's weights Deep Compression keeps (Table 5)."""

PAPER_HUFFMAN_GAIN: tuple[float, float] = (4.1 / 6.4, 3.1 / 5)
"""VGG-16's average code length over fixed width after Huffman coding (Table 5 totals):
weight bits 6.4 -> 4.1, index bits 5 -> 3.1."""

STAGES: tuple[str, ...] = ("dense", "P", "P+Q", "P+Q+H")
"""The storage columns of :class:`LayerStorage`, in the paper's order."""


def _check(n: int, p: float, b: int) -> None:
    if n < 1 or not 0.0 < p <= 1.0:
        raise UsageError(f"a layer needs n >= 1 weights and 0 < p <= 1 kept, got n={n}, p={p}")
    if not 1 <= b <= 32:
        raise UsageError(f"index bits must lie in 1..32, got {b}")


def expected_fillers(n: int, p: float, b: int) -> float:
    """``n p q^B / (1 - q^B)``: the filler zeros of ``b``-bit gaps in ``n`` weights at density
    ``p`` (the module docstring derives it)."""
    _check(n, p, b)
    qb = (1.0 - p) ** (1 << b)
    return n * p * qb / (1.0 - qb)


def kept_positions(n: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted kept positions of a random mask of ``n`` weights keeping each with probability ``p``.

    Drawn as cumulative sums of geometric gaps, which *is* a Bernoulli mask, without building
    the ``n``-long mask (VGG-16's fc6 has 102,760,448 weights). int64, shape ``(a,)``.
    """
    _check(n, p, 1)
    gaps = rng.geometric(p, size=int(1.1 * n * p) + 100)
    positions = np.cumsum(gaps) - 1
    while positions[-1] < n:  # rare: draw more gaps until the mask is covered
        more = np.cumsum(rng.geometric(p, size=gaps.size)) + positions[-1]
        positions = np.concatenate([positions, more])
    return positions[positions < n]


def simulated_fillers(n: int, p: float, b: int, rng: np.random.Generator) -> tuple[int, int]:
    """``(fillers, kept)`` counted by :func:`.relative_index.filler_count` on a random mask."""
    positions = kept_positions(n, p, rng)
    return filler_count(positions, b), int(positions.size)


def pq_bits(entries: float, weight_bits: int, index_bits: int) -> float:
    """The paper's P+Q bits of ``entries`` stored entries: ``e (w + b) + 32 * 2^w``."""
    return entries * (weight_bits + index_bits) + 32 * (1 << weight_bits)


def best_index_bits(n: int, p: float, weight_bits: int,
                    widths: Iterable[int] = AUTO_INDEX_BITS) -> int:
    """The gap width of ``widths`` with the fewest expected P+Q bits (ties: the narrower)."""
    return min(widths, key=lambda b: (pq_bits(n * p + expected_fillers(n, p, b), weight_bits, b),
                                      b))


def simulated_best_index_bits(positions: np.ndarray, weight_bits: int,
                              widths: Iterable[int] = AUTO_INDEX_BITS) -> int:
    """The gap width of ``widths`` with the fewest P+Q bits for the kept ``positions``, fillers
    counted (:func:`.relative_index.filler_count`) rather than expected."""
    a = len(positions)
    return min(widths, key=lambda b: (pq_bits(a + filler_count(positions, b), weight_bits, b),
                                      b))


@dataclass(frozen=True)
class LayerPlan:
    """How one layer is compressed: its density, codebook index width and gap width."""

    name: str
    kind: str  # "conv" or "fc"
    weights: int
    multadds: int
    kept: float
    weight_bits: int
    index_bits: int | None  # None: the best width (:func:`best_index_bits`)


@dataclass(frozen=True)
class LayerStorage:
    """One layer's expected storage, in bits, for each of :data:`STAGES`."""

    name: str
    kind: str
    weights: int
    kept: float
    weight_bits: int
    index_bits: int
    fillers: float
    bits: dict[str, float]


def plan_layers(rows: Sequence[LayerRow], kept: Mapping[str, float] = VGG16_KEPT,
                conv_bits: int = 8, fc_bits: int = 5, index_bits: int | None = 5
                ) -> list[LayerPlan]:
    """A plan per weight layer of ``rows`` (a model's :meth:`~tinycompress.nn.model.Sequential.
    rows`): the density ``kept[name]``, ``conv_bits`` for a Conv2D and ``fc_bits`` for a Dense
    layer, and ``index_bits`` (None: each layer's best). The defaults are the paper's Table 5.

    Raises :class:`UsageError` if ``kept`` has no density for a weight layer.
    """
    plans = []
    for row in rows:
        if not row.weights:
            continue
        if row.name not in kept:
            raise UsageError(f"no kept fraction for layer {row.name!r}")
        conv = row.type == "Conv2D"
        plans.append(LayerPlan(row.name, "conv" if conv else "fc", row.weights, row.multadds,
                               kept[row.name], conv_bits if conv else fc_bits, index_bits))
    return plans


def layer_storage(plan: LayerPlan,
                  huffman_gain: tuple[float, float] = PAPER_HUFFMAN_GAIN) -> LayerStorage:
    """The expected bits of one planned layer (module docstring: dense, P, P+Q, P+Q+H)."""
    n, p, w = plan.weights, plan.kept, plan.weight_bits
    b = best_index_bits(n, p, w) if plan.index_bits is None else plan.index_bits
    fillers = expected_fillers(n, p, b)
    entries = n * p + fillers
    book = 32 * (1 << w)
    bits = {"dense": 32.0 * n, "P": entries * (32 + b), "P+Q": pq_bits(entries, w, b),
            "P+Q+H": entries * (w * huffman_gain[0] + b * huffman_gain[1]) + book}
    return LayerStorage(plan.name, plan.kind, n, p, w, b, fillers, bits)


def storage(plans: Iterable[LayerPlan],
            huffman_gain: tuple[float, float] = PAPER_HUFFMAN_GAIN) -> list[LayerStorage]:
    """:func:`layer_storage` of every plan, in order."""
    return [layer_storage(plan, huffman_gain) for plan in plans]


def total_bytes(layers: Iterable[LayerStorage], stage: str) -> float:
    """The bytes of ``stage`` (one of :data:`STAGES`) summed over ``layers``."""
    if stage not in STAGES:
        raise UsageError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
    return sum(layer.bits[stage] for layer in layers) / 8


def sparse_multadds(plans: Iterable[LayerPlan]) -> int:
    """MultAdds left when the pruned weights are skipped: ``sum MultAdds * kept`` per layer."""
    return round(sum(plan.multadds * plan.kept for plan in plans))
