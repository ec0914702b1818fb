"""An explicit energy cost model for one inference (Horowitz, ISSCC 2014, 45 nm).

Deep Compression's argument for why size matters on a phone: fetching a 32-bit word from
off-chip DRAM costs 640 pJ, about 128 times a 32-bit on-chip SRAM read (5 pJ) and 140 times a
32-bit float multiply (3.7 pJ). A model that fits on chip saves most of its energy.

The model, stated so that every number can be checked by hand:

- **Arithmetic.** Each MultAdd is one 32-bit float multiply and one add (3.7 + 0.9 pJ). A pruned
  weight is skipped, so a layer performs ``MultAdds * (nonzero weights / weights)``.
- **Weights.** Every stored bit of the model is read once per inference, in 32-bit words. If the
  whole model (``model_bytes``) fits in the on-chip SRAM budget the words come from SRAM,
  otherwise from DRAM (one DRAM read per word). A dense float32 model stores one word per
  weight; a compressed file stores fewer bits than that per weight.
- **Not counted**: activations (assumed on chip and the same for both models), decoding logic,
  bias additions, pooling, and static power.

**By operation width** (:func:`precision_energy`): the same table gives every width its own
price, and each way of running a model (:data:`PRECISIONS`, :mod:`tinycompress.inference`)
counts the operations it executes (:data:`OPERATIONS`): float16 multiplies with float32
accumulation, int8 multiplies with int32 accumulation plus a requantisation per output, or a
codebook's additions and few multiplies. A weight stored in fewer bits is read in fewer words
(:func:`stored_weight_bytes`): memory is charged by the bit, 5 pJ or 640 pJ per 32 of them.
:func:`inference_energy` is the float32 case; :func:`counted_energy` the same from counts alone.

**The SRAM's size.** 5 pJ per 32-bit read is Horowitz's figure for an 8 KB SRAM; his 64-bit
reads cost 10 pJ at 8 KB, 20 pJ at 32 KB and 100 pJ at 1 MB (:data:`SRAM_READ64_PJ`), so a
512 KiB buffer costs about 50 pJ per 32-bit word. :func:`sized_sram_table` prices the SRAM by
its size; with the default table an on-chip model's memory energy is a lower bound.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from .errors import UsageError
from .inference.codebook import codebook_counts
from .nn.model import Sequential

PJ_45NM = {"fadd32": 0.9, "fmul32": 3.7, "sram_read32": 5.0, "dram_read32": 640.0,
           "fadd16": 0.4, "fmul16": 1.1, "iadd8": 0.03, "imul8": 0.2, "iadd32": 0.1,
           "imul32": 3.1}
"""Energy per operation in picojoules (Horowitz 2014, 45 nm, as used by Han et al.): float and
integer adds and multiplies by operand width, and reads of a 32-bit word from SRAM or DRAM."""

DEFAULT_SRAM_BYTES = 512 * 1024
"""On-chip SRAM budget for weights: 512 KiB, a typical mobile accelerator's buffer."""

SRAM_READ64_PJ: dict[int, float] = {8 * 1024: 10.0, 32 * 1024: 20.0, 1024 * 1024: 100.0}
"""Horowitz 2014 (45 nm): picojoules of one 64-bit read from an SRAM of 8 KB, 32 KB and 1 MB.
Han et al.'s 5 pJ per 32-bit word (``PJ_45NM["sram_read32"]``) is half the 8 KB row: the price
of a *small* SRAM, so charging it for a 512 KiB budget makes an on-chip model's memory energy
a lower bound (and the energy saved by fitting on chip an upper bound)."""


class _Picojoules:
    """What the energy records share: the total of their two parts, and their JSON form."""

    compute_pj: float
    memory_pj: float

    @property
    def total_pj(self) -> float:
        return self.compute_pj + self.memory_pj

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "total_pj": self.total_pj}  # self is a dataclass instance


@dataclass(frozen=True)
class Energy(_Picojoules):
    """Energy of one inference (batch 1), in picojoules, and what it assumed."""

    multadds: int
    weight_words: int
    on_chip: bool
    compute_pj: float
    memory_pj: float


def effective_multadds(model: Sequential) -> int:
    """MultAdds that remain when pruned (zero) weights are skipped.

    A weight of a conv or dense layer is used the same number of times as any other weight of
    that layer, so the layer's work scales with its fraction of nonzero weights.
    """
    total = 0
    for layer, row in zip(model.layers, model.rows(), strict=True):
        if row.weights:
            total += round(row.multadds * int((layer.params["W"] != 0).sum()) / row.weights)
        else:
            total += row.multadds
    return total


def inference_energy(
    model: Sequential, model_bytes: int, skip_zeros: bool = True,
    sram_bytes: int = DEFAULT_SRAM_BYTES, table: dict[str, float] = PJ_45NM,
) -> Energy:
    """Energy of one inference of ``model`` when its weights occupy ``model_bytes`` of storage.

    Parameters
    ----------
    model : the network whose arithmetic is counted.
    model_bytes : bytes read per inference for the weights: 4 * params for a dense float32
        model, the file size for a compressed one.
    skip_zeros : count only the MultAdds of nonzero weights (sparse execution).
    sram_bytes : on-chip budget; a model that fits is read from SRAM, otherwise from DRAM.
    """
    # BEGIN SOLUTION inference-energy
    macs = effective_multadds(model) if skip_zeros else model.multadds()
    words = -(-int(model_bytes) // 4)
    on_chip = model_bytes <= sram_bytes
    read = table["sram_read32"] if on_chip else table["dram_read32"]
    compute = macs * (table["fmul32"] + table["fadd32"])
    # END SOLUTION
    return Energy(macs, words, on_chip, compute, words * read)


def sram_read32_pj(sram_bytes: int) -> float:
    """Picojoules of a 32-bit read from an SRAM of ``sram_bytes``.

    Half of Horowitz's 64-bit read (:data:`SRAM_READ64_PJ`) for the smallest listed SRAM that
    holds ``sram_bytes``: 5 pJ up to 8 KB, 10 pJ up to 32 KB, 50 pJ up to 1 MB (so 50 pJ for the
    512 KiB default budget, ten times the 5 pJ of :data:`PJ_45NM`). Sizes above 1 MB, which the
    table does not price, and non-positive sizes are :class:`UsageError`.
    """
    for size, pj in sorted(SRAM_READ64_PJ.items()):
        if 0 < sram_bytes <= size:
            return pj / 2
    raise UsageError(f"no SRAM read energy for {sram_bytes:,} bytes: Horowitz's table prices "
                     f"SRAMs of 1 to {max(SRAM_READ64_PJ):,} bytes")


def sized_sram_table(sram_bytes: int = DEFAULT_SRAM_BYTES,
                     table: dict[str, float] = PJ_45NM) -> dict[str, float]:
    """``table`` with its 32-bit SRAM read priced for an SRAM of ``sram_bytes``
    (:func:`sram_read32_pj`); pass it as ``table=`` to any energy function here."""
    return {**table, "sram_read32": sram_read32_pj(sram_bytes)}


def weight_reads(model_bytes: int, sram_bytes: int = DEFAULT_SRAM_BYTES,
                 table: dict[str, float] = PJ_45NM) -> tuple[int, bool, float]:
    """``(words, on_chip, pJ)`` of reading ``model_bytes`` of weights once: ``ceil(bytes / 4)``
    32-bit words, from SRAM (``table["sram_read32"]`` each) if they fit ``sram_bytes``, else
    from DRAM (``table["dram_read32"]``)."""
    words = -(-int(model_bytes) // 4)
    on_chip = model_bytes <= sram_bytes
    return words, on_chip, words * table["sram_read32" if on_chip else "dram_read32"]


def counted_energy(multadds: int, model_bytes: int, sram_bytes: int = DEFAULT_SRAM_BYTES,
                   table: dict[str, float] = PJ_45NM) -> Energy:
    """:func:`inference_energy` from the counts alone, for a model counted by shape (VGG-16,
    whose weights are never allocated): ``multadds`` float32 MultAdds (3.7 + 0.9 pJ each) and
    ``model_bytes`` of weights read once (:func:`weight_reads`)."""
    words, on_chip, memory = weight_reads(model_bytes, sram_bytes, table)
    return Energy(int(multadds), words, on_chip,
                  multadds * (table["fmul32"] + table["fadd32"]), memory)


# --------------------------------------------------------------------------------------------
# By operation width: each precision counts its own operations
# --------------------------------------------------------------------------------------------

PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8", "codebook")
"""The ways :mod:`tinycompress.inference` runs a model, each costed by what it executes."""

OPERATIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "fp32": {"multadd": ("fmul32", "fadd32")},
    "fp16": {"multadd": ("fmul16", "fadd32")},
    "int8": {"multadd": ("imul8", "iadd32"), "output": ("imul32", "iadd32", "iadd32")},
    "codebook": {"kept weight": ("fadd32",), "centroid group": ("fmul32",)},
}
"""Per precision, the operations (keys of :data:`PJ_45NM`) each unit of work costs (see
:data:`UNITS`). float16 multiplies exactly into a float32 accumulator, as its inference does;
int8 multiplies into an int32 accumulator, and every output of a conv / fc layer is then
requantised by one 32-bit multiply and two 32-bit adds (the rounding half, the zero point)."""

UNITS: dict[str, str] = {
    "multadd": "MultAdd of a nonzero weight",
    "output": "output value of a conv / fc layer",
    "kept weight": "kept weight (its input added into its centroid's sum)",
    "centroid group": "(output, centroid) pair (one multiply per centroid an output uses)",
}
"""What each unit of work of :data:`OPERATIONS` is."""

OPERATION_NAMES: dict[str, str] = {
    "fadd32": "32-bit float add", "fmul32": "32-bit float multiply",
    "fadd16": "16-bit float add", "fmul16": "16-bit float multiply",
    "iadd8": "8-bit integer add", "imul8": "8-bit integer multiply",
    "iadd32": "32-bit integer add", "imul32": "32-bit integer multiply",
}


def check_precision(precision: str) -> None:
    """Raise :class:`UsageError` unless ``precision`` is one of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")


def weight_layer_outputs(model: Sequential) -> int:
    """Output values the conv and fc layers of ``model`` compute for one example."""
    return sum(math.prod(row.output_shape) for row in model.rows() if row.weights)


def work_units(model: Sequential, precision: str, skip_zeros: bool = True) -> dict[str, int]:
    """The units of work (:data:`UNITS`) of one inference of ``model`` in ``precision``.

    MultAdds skip pruned weights when ``skip_zeros`` (:func:`effective_multadds`); a codebook
    inference always does (:func:`~tinycompress.inference.codebook.codebook_counts`).
    """
    check_precision(precision)
    if precision == "codebook":
        counts = codebook_counts(model)
        return {"kept weight": counts["adds"], "centroid group": counts["multiplies"]}
    units = {"multadd": effective_multadds(model) if skip_zeros else model.multadds()}
    if precision == "int8":
        units["output"] = weight_layer_outputs(model)
    return units


def operation_counts(model: Sequential, precision: str, skip_zeros: bool = True) -> dict[str, int]:
    """Operations of one inference, by kind (keys of :data:`PJ_45NM`)."""
    ops: dict[str, int] = {}
    for unit, n in work_units(model, precision, skip_zeros).items():
        for op in OPERATIONS[precision][unit]:
            ops[op] = ops.get(op, 0) + n
    return ops


def stored_weight_bytes(model: Sequential, precision: str) -> int:
    """Bytes of ``model``'s parameters stored densely (zeros included) at ``precision``'s width.

    fp32: 4 bytes per parameter; fp16: 2. int8: 1 byte per conv / fc weight, 4 per other
    parameter (int32 biases). codebook: per conv / fc layer, a ``ceil(log2(k + 1))``-bit index
    per weight (k shared values and the zero) plus k float32 codebook entries; 4 bytes per
    other parameter. (A compressed file is smaller still: pass its size to
    :func:`precision_energy`.)
    """
    check_precision(precision)
    if precision in ("fp32", "fp16"):
        return model.num_params() * (4 if precision == "fp32" else 2)
    total_bits = 0
    for row in model.rows():
        if precision == "int8":
            weight_bits = 8 * row.weights
        else:
            index = max(1, math.ceil(math.log2(row.distinct_weights + 1)))
            weight_bits = index * row.weights + 32 * row.distinct_weights
        total_bits += weight_bits + 32 * (row.params - row.weights)
    return math.ceil(total_bits / 8)


@dataclass(frozen=True)
class PrecisionEnergy(_Picojoules):
    """Energy of one inference (batch 1) in one precision, in picojoules, and its counts."""

    precision: str
    operations: dict[str, int]
    weight_bytes: int
    on_chip: bool
    compute_pj: float
    memory_pj: float


def precision_energy(
    model: Sequential, precision: str, weight_bytes: int | None = None, skip_zeros: bool = True,
    sram_bytes: int = DEFAULT_SRAM_BYTES, table: dict[str, float] = PJ_45NM,
) -> PrecisionEnergy:
    """Energy of one inference of ``model`` run in ``precision``.

    Parameters
    ----------
    model : the float model (the counts come from its shapes and nonzero weights).
    precision : one of :data:`PRECISIONS`.
    weight_bytes : bytes of weights read per inference: default the dense storage at the
        precision's width (:func:`stored_weight_bytes`); a compressed file's size if the
        weights are read in that form.
    skip_zeros, sram_bytes, table : as for :func:`inference_energy`.

    Returns
    -------
    PrecisionEnergy : compute = sum over operations of count * pJ; memory = the 32-bit words
    the weight bytes fill, each one SRAM read if they fit ``sram_bytes``, else one DRAM read.
    """
    ops = operation_counts(model, precision, skip_zeros)
    nbytes = stored_weight_bytes(model, precision) if weight_bytes is None else int(weight_bytes)
    _, fits, memory = weight_reads(nbytes, sram_bytes, table)
    compute = sum(count * table[op] for op, count in ops.items())
    return PrecisionEnergy(precision, ops, nbytes, fits, compute, memory)


def assumptions(precision: str, table: dict[str, float] = PJ_45NM) -> str:
    """The cost model of ``precision`` in one paragraph, with the prices of ``table``."""
    check_precision(precision)
    parts = []
    for unit, ops in OPERATIONS[precision].items():
        priced = " + ".join(f"{OPERATION_NAMES[op]} ({table[op]:g} pJ)" for op in ops)
        parts.append(f"per {UNITS[unit]}: {priced}")
    return (f"{precision}: " + "; ".join(parts) + ". Weights are read once per inference, "
            f"{table['sram_read32']:g} pJ per 32 bits from on-chip SRAM if they fit the budget, "
            f"{table['dram_read32']:g} pJ from DRAM otherwise; activations, bias additions, "
            "pooling and static power are not counted.")
