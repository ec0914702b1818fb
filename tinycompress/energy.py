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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .nn.model import Sequential

PJ_45NM = {"fadd32": 0.9, "fmul32": 3.7, "sram_read32": 5.0, "dram_read32": 640.0}
"""Energy per operation in picojoules (Horowitz 2014, 45 nm, as used by Han et al.)."""

DEFAULT_SRAM_BYTES = 512 * 1024
"""On-chip SRAM budget for weights: 512 KiB, a typical mobile accelerator's buffer."""


@dataclass(frozen=True)
class Energy:
    """Energy of one inference (batch 1), in picojoules, and what it assumed."""

    multadds: int
    weight_words: int
    on_chip: bool
    compute_pj: float
    memory_pj: float

    @property
    def total_pj(self) -> float:
        return self.compute_pj + self.memory_pj

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "total_pj": self.total_pj}


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
