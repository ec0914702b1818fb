"""Packing integers into bit strings and back, most significant bit first.

Han, Mao & Dally, *Deep Compression* (ICLR 2016, §4) store weight indices and sparse index
gaps as bit strings; these helpers are shared by the Huffman coder (:mod:`.huffman`) and the
``.tcz`` file (:mod:`.tcz`). Two shapes of the same operation:

- :func:`pack_codes` writes a sequence of variable-length code words ``c_i`` of ``l_i`` bits
  each, back to back, into ``ceil(sum(l_i) / 8)`` bytes (the last byte padded with zeros,
  :func:`bytes_for`);
- :func:`pack_fixed` / :func:`unpack_fixed` are the special case ``l_i = w`` for all ``i``
  (plain ``w``-bit unsigned integers), whose inverse is a reshape rather than a search.

Everything is vectorised: the loop runs over the (at most 64) distinct code lengths or bit
positions, never over the symbols.
"""

from __future__ import annotations

import numpy as np

from ..errors import FormatError

MAX_CODE_LENGTH = 64
"""Longest code word (bits) these helpers pack: code words are held in ``uint64``."""


def bytes_for(nbits: int) -> int:
    """Whole bytes that hold ``nbits`` bits, the last one zero-padded: ``ceil(nbits / 8)``."""
    return -(-nbits // 8)


def pack_codes(codes: np.ndarray, lengths: np.ndarray) -> tuple[bytes, int]:
    """Concatenate variable-length code words into a byte string, MSB first.

    Parameters
    ----------
    codes : ndarray of unsigned int, shape (n,)
        Code word ``i`` is the low ``lengths[i]`` bits of ``codes[i]``.
    lengths : ndarray of int, shape (n,)
        Code-word lengths in bits, ``0 <= lengths[i] <= 64``.

    Returns
    -------
    data : bytes
        ``ceil(nbits / 8)`` bytes; bit ``k`` of the stream is bit ``7 - k % 8`` of byte ``k // 8``.
    nbits : int
        ``sum(lengths)``, the number of meaningful bits in ``data``.

    Notes
    -----
    Code word ``i`` starts at bit ``s_i = sum_{j<i} l_j``; its bit ``t`` (``0 <= t < l_i``,
    counted from the most significant end) is ``(c_i >> (l_i - 1 - t)) & 1`` and lands at
    stream position ``s_i + t``. The loop runs over the distinct lengths ``l`` and ``t < l``,
    each step a scatter over all code words of that length.
    """
    codes = np.asarray(codes, dtype=np.uint64).ravel()
    lengths = np.asarray(lengths, dtype=np.int64).ravel()
    if codes.shape != lengths.shape:
        raise ValueError(f"codes {codes.shape} and lengths {lengths.shape} differ in shape")
    if lengths.size and (lengths.min() < 0 or lengths.max() > MAX_CODE_LENGTH):
        raise ValueError(f"code lengths must lie in 0..{MAX_CODE_LENGTH}")
    nbits = int(lengths.sum())
    bits = np.zeros(nbits, dtype=np.uint8)
    starts = np.cumsum(lengths) - lengths
    for length in np.unique(lengths[lengths > 0]).tolist():
        sel = lengths == length
        c, s = codes[sel], starts[sel]
        for t in range(length):
            bits[s + t] = (c >> np.uint64(length - 1 - t)) & np.uint64(1)
    return np.packbits(bits).tobytes(), nbits


def pack_fixed(values: np.ndarray, width: int) -> tuple[bytes, int]:
    """Pack unsigned integers ``0 <= v < 2**width`` as ``width``-bit fields, MSB first.

    Returns ``(data, nbits)`` with ``nbits = width * len(values)``; ``width = 0`` stores
    nothing (every value must then be 0).
    """
    values = np.asarray(values, dtype=np.uint64).ravel()
    if not 0 <= width <= MAX_CODE_LENGTH:
        raise ValueError(f"width must lie in 0..{MAX_CODE_LENGTH}, got {width}")
    if values.size and width < MAX_CODE_LENGTH and int(values.max()) >> width:
        raise ValueError(f"a value {int(values.max())} does not fit in {width} bits")
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    bits = ((values[:, None] >> shifts[None, :]) & np.uint64(1)).astype(np.uint8)
    return np.packbits(bits.ravel()).tobytes(), width * values.size


def unpack_fixed(data: bytes, n: int, width: int) -> np.ndarray:
    """Inverse of :func:`pack_fixed`: read ``n`` unsigned ``width``-bit fields.

    Raises
    ------
    FormatError
        If ``data`` holds fewer than ``n * width`` bits.
    """
    if not 0 <= width <= MAX_CODE_LENGTH or n < 0:
        raise FormatError(f"bad fixed-width field: n={n}, width={width}")
    nbits = n * width
    if nbits > 8 * len(data):
        raise FormatError(
            f"bit stream ends early: {n} fields of {width} bits need {nbits} bits, "
            f"only {8 * len(data)} present; the file is truncated or corrupt"
        )
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=nbits)
    weights = np.uint64(1) << np.arange(width - 1, -1, -1, dtype=np.uint64)
    return (bits.reshape(n, width).astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
