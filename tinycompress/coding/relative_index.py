"""Relative-index sparse storage with filler zeros, the Deep Compression way.

Han, Mao & Dally, *Deep Compression* (ICLR 2016), §2 and Fig. 2: a pruned layer is stored as
its kept entries in order, each with the *distance* from the previous entry in ``b`` bits
instead of an absolute index. A distance ``d`` in ``1..2^b`` is stored as the symbol
``d - 1`` in ``0..2^b - 1``. "In case when the difference exceeds 8, the largest 3-bit (as an
example) unsigned number, we add a filler zero": while the next kept entry is farther than
``2^b``, an explicit zero entry is stored at distance ``2^b``; each filler costs one gap and
one value, like a real entry.

For a flat array with kept positions ``q_0 < q_1 < ...`` (with ``q_{-1} = -1``), entry ``i``
needs ``f_i = floor((d_i - 1) / 2^b)`` fillers before it, where ``d_i = q_i - q_{i-1}``, and
then has the gap symbol ``d_i - 1 - f_i 2^b``. Decoding is a cumulative sum:
position of entry ``k`` = ``sum_{j<=k} (g_j + 1) - 1``. Zeros after the last kept entry are
implied by the array's size.

"Kept" means nonzero: for bit-exact storage of floats pass their unsigned-integer view, so
that ``-0.0`` (bits ``0x80000000``) counts as a value and only ``+0.0`` is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FormatError


@dataclass(frozen=True)
class RelativeIndex:
    """A flat array in relative-index form.

    Attributes
    ----------
    gaps : ndarray of int64, shape (e,)
        Gap symbols ``d - 1`` in ``0..2^b - 1``, one per entry (fillers included).
    values : ndarray, shape (e,)
        The entries' values; fillers hold 0.
    index_bits : int
        ``b``.
    size : int
        Length of the flat array.
    """

    gaps: np.ndarray
    values: np.ndarray
    index_bits: int
    size: int

    @property
    def num_fillers(self) -> int:
        """How many filler (zero) entries were needed."""
        return int(np.count_nonzero(self.values == 0))


def filler_count(positions: np.ndarray, index_bits: int) -> int:
    """Fillers needed for kept positions ``positions`` (sorted) with ``b``-bit gaps.

    ``sum_i floor((d_i - 1) / 2^b)``; the storage is ``(a + fillers) * (b + value bits)``.
    """
    d = np.diff(np.asarray(positions, dtype=np.int64), prepend=-1)
    return int(((d - 1) >> index_bits).sum())


def encode_relative(flat: np.ndarray, index_bits: int) -> RelativeIndex:
    """Relative-index form of a 1-D array: its nonzero entries, with ``b``-bit gaps.

    Parameters
    ----------
    flat : ndarray, shape (n,)
        The array (for floats, pass ``x.view(np.uint32)`` to keep ``-0.0``).
    index_bits : int
        ``b >= 1``; distances ``1..2^b`` are representable.

    Returns
    -------
    RelativeIndex
        With ``a + sum_i f_i`` entries for ``a`` nonzeros.
    """
    flat = np.asarray(flat)
    if flat.ndim != 1:
        raise ValueError(f"expected a 1-D array, got shape {flat.shape}")
    if not 1 <= index_bits <= 32:
        raise ValueError(f"index_bits must lie in 1..32, got {index_bits}")
    kept = np.flatnonzero(flat)
    d = np.diff(kept, prepend=-1)
    fill = (d - 1) >> index_bits
    per_entry = fill + 1  # the fillers, then the entry itself
    total = int(per_entry.sum())
    own = np.cumsum(per_entry) - 1  # where each real entry lands
    gaps = np.full(total, (1 << index_bits) - 1, dtype=np.int64)
    gaps[own] = d - 1 - (fill << index_bits)
    values = np.zeros(total, dtype=flat.dtype)
    values[own] = flat[kept]
    return RelativeIndex(gaps=gaps, values=values, index_bits=index_bits, size=flat.size)


def decode_relative(rel: RelativeIndex) -> np.ndarray:
    """The flat array back from its relative-index form.

    Raises
    ------
    FormatError
        If a gap symbol is out of range, the entries run past ``size``, or the number of
        values differs from the number of gaps.
    """
    gaps = np.asarray(rel.gaps, dtype=np.int64)
    if gaps.shape != np.shape(rel.values) or gaps.ndim != 1:
        raise FormatError(
            f"{gaps.size} gaps but {np.size(rel.values)} values in a relative-index layer"
        )
    if gaps.size and (gaps.min() < 0 or gaps.max() >= 1 << rel.index_bits):
        raise FormatError(f"a gap symbol does not fit in {rel.index_bits} bits")
    positions = np.cumsum(gaps + 1) - 1
    if positions.size and positions[-1] >= rel.size:
        raise FormatError(
            f"relative indices reach position {int(positions[-1])} of an array of {rel.size}"
        )
    out = np.zeros(rel.size, dtype=np.asarray(rel.values).dtype)
    out[positions] = rel.values
    return out
