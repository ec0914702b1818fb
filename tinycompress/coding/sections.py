"""One tensor's section of a ``.tcz`` file: raw, dense coded or sparse coded, and back.

Han, Mao & Dally, *Deep Compression* (ICLR 2016), §2-§4: a pruned, quantised layer is stored
as relative indices (:mod:`.relative_index`) and codebook indices, both Huffman-coded
(:mod:`.huffman`), plus the codebook. :func:`encode_tensor` tries every form and keeps the
smallest; its manifest entry (the fields of :mod:`.manifest`) has ``k`` (kind):

- ``"r"`` raw: the array's float32 bytes;
- ``"d"`` dense coded: ``n = size`` values; ``"s"`` sparse coded: ``n`` entries in
  relative-index form with ``b``-bit gaps and filler zeros;
- ``"a"`` (version 2) arithmetic coded: the kept entries' gaps and codebook indices as
  context-coded binary decisions (:mod:`.arith_section`).

A coded tensor's section holds its ``c`` codebook values (raw, sorted by bit pattern), then
the value stream (``c > 0``: codebook indices; ``c = 0``: raw values), then, if sparse, the
gap stream. A symbol stream is described by ``{"f": w}`` (fixed ``w``-bit fields) or
``{"h": nbits, "a": A, "w": lw}`` (Huffman: ``A`` code lengths of ``lw`` bits each, then
``nbits`` bits of code words, read by :func:`.huffman_fast.decode`); every part is padded to
whole bytes (:func:`encode_stream`, :func:`decode_stream`). :func:`decode_tensor` reads a
section back bit for bit; :func:`storable` refuses what the format cannot hold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import FormatError, shown
from ..nn.architecture import engine_array
from . import huffman, huffman_fast
from .arith_section import decode_arith, encode_arith
from .bitio import bytes_for, pack_fixed, unpack_fixed
from .manifest import MAX_CODEBOOK
from .relative_index import RelativeIndex, decode_relative, encode_relative

AUTO_INDEX_BITS = tuple(range(1, 13))
"""Gap widths :func:`encode_tensor` tries when none is given."""


def encode_stream(symbols: np.ndarray, alphabet: int) -> tuple[dict[str, int], bytes]:
    """Store symbols ``0..alphabet-1`` as fixed-width fields or Huffman code, the smaller.

    Returns the stream's description for the manifest and its bytes. The Huffman form pays
    for its table: ``A`` code lengths of ``lw`` bits (``A`` = last used symbol + 1).
    """
    width = max(alphabet - 1, 0).bit_length()
    fixed = pack_fixed(symbols, width)[0]
    if symbols.size == 0:
        return {"f": width}, fixed
    code = huffman.HuffmanCode.from_counts(np.bincount(symbols, minlength=alphabet))
    used = int(np.flatnonzero(code.lengths).max()) + 1
    lw = code.max_length.bit_length()
    table = pack_fixed(code.lengths[:used], lw)[0]
    data, nbits = huffman.encode(symbols, code)
    if len(table) + len(data) < len(fixed):
        return {"h": nbits, "a": used, "w": lw}, table + data
    return {"f": width}, fixed


class Cursor:
    """Reads consecutive parts of one section, refusing to run past its end."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise FormatError(f"needs {n} more bytes at offset {self.pos}, the section has "
                              f"{len(self.data)}; the file is corrupt")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def done(self) -> None:
        if self.pos != len(self.data):
            raise FormatError(f"{len(self.data) - self.pos} unexplained bytes after the streams")


def decode_stream(cur: Cursor, desc: dict[str, int], n: int, alphabet: int) -> np.ndarray:
    """Read ``n`` symbols described by ``desc`` (see :func:`encode_stream`, checked by
    :func:`.manifest.check_stream`); int64."""
    if "f" in desc:
        values = unpack_fixed(cur.take(bytes_for(n * desc["f"])), n, desc["f"])
    else:
        used, lw = desc["a"], desc["w"]
        lengths = unpack_fixed(cur.take(bytes_for(used * lw)), used, lw).astype(np.int64)
        code = huffman.HuffmanCode.from_lengths(lengths)
        nbits = desc["h"]
        values = huffman_fast.decode(cur.take(bytes_for(nbits)), nbits, n, code,
                                     huffman_fast.table_bits_for(nbits))
    if values.size and int(values.max()) >= alphabet:
        raise FormatError(f"a symbol exceeds the alphabet of {alphabet}")
    return values.astype(np.int64)


def bit_patterns(arr: np.ndarray) -> np.ndarray:
    """The bit patterns of a float array as unsigned integers (so -0.0 != +0.0, NaN == NaN)."""
    return np.ascontiguousarray(arr).reshape(-1).view(f"u{arr.dtype.itemsize}")


def _encode_values(bits: np.ndarray) -> tuple[dict[str, Any], bytes]:
    """Values (as bit patterns) through a codebook of their distinct values, or raw."""
    raw = bits.tobytes()
    uniq, index = np.unique(bits, return_inverse=True)
    if uniq.size > MAX_CODEBOOK or uniq.nbytes + bytes_for(bits.size) >= len(raw):
        return {"c": 0}, raw  # every code word has at least one bit
    desc, stream = encode_stream(index.reshape(-1), uniq.size)
    coded = uniq.tobytes() + stream
    return ({"c": int(uniq.size), "v": desc}, coded) if len(coded) < len(raw) else ({"c": 0}, raw)


def encode_tensor(arr: np.ndarray, index_bits: tuple[int, ...] = AUTO_INDEX_BITS,
                  arith: bool = False) -> tuple[dict[str, Any], bytes]:
    """The smallest stored form of one tensor: raw, dense coded, sparse coded, or (with
    ``arith``, a version 2 kind) arithmetic coded (:func:`.arith_section.encode_arith`).

    Parameters
    ----------
    arr : ndarray of float
        The tensor; stored bit for bit (``-0.0`` survives).
    index_bits : tuple of int
        Gap widths ``b`` to try for the sparse form.
    arith : bool
        Whether to try the arithmetic-coded form too.

    Returns
    -------
    desc : dict
        The manifest entry (without its size ``z``).
    data : bytes
        The section.
    """
    bits = bit_patterns(arr)
    best: tuple[dict[str, Any], bytes] = ({"k": "r"}, bits.tobytes())
    candidates = [({"k": "d", "n": int(bits.size)}, *_encode_values(bits))]
    if bits.size and np.count_nonzero(bits) < bits.size:
        for b in index_bits:
            rel = encode_relative(bits, b)
            values_desc, values = _encode_values(rel.values)
            gaps_desc, gaps = encode_stream(rel.gaps, 1 << b)
            desc = {"k": "s", "n": int(rel.gaps.size), "b": b, "g": gaps_desc}
            candidates.append((desc, values_desc, values + gaps))
    if arith:
        desc, data = encode_arith(bits, arr.shape)
        candidates.append((desc, {}, data))
    for desc, values_desc, data in candidates:
        if len(data) < len(best[1]):
            best = ({**desc, **values_desc}, data)
    return best


def decode_tensor(data: bytes, desc: dict[str, Any], size: int, dtype: np.dtype, where: str,
                  shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Inverse of :func:`encode_tensor`: the flat array of ``size`` elements of ``dtype``
    (an ``"a"`` section needs the tensor's ``shape`` too, for its scan order).

    ``desc`` is an entry checked by :func:`.manifest.check_entry`. The codebook must be
    sorted (by bit pattern; by value in an ``"a"`` section) without repeats and, like every
    value, finite. A :class:`FormatError` names the tensor: ``where``.
    """
    try:
        return _decode(data, desc, size, dtype, shape or (size,)).view(dtype)
    except FormatError as exc:
        raise FormatError(f"{where}: {exc}") from exc


def _decode(data: bytes, desc: dict[str, Any], size: int, dtype: np.dtype,
            shape: tuple[int, ...]) -> np.ndarray:
    """:func:`decode_tensor`'s bit patterns (unsigned integers of the dtype's width)."""
    utype = np.dtype(f"u{dtype.itemsize}")
    cur = Cursor(data)
    if desc["k"] == "a":
        return decode_arith(data, desc, shape)
    if desc["k"] == "r":
        flat = np.frombuffer(cur.take(size * dtype.itemsize), dtype=utype).copy()
    else:
        n, k = desc["n"], desc["c"]
        if k:
            book = np.frombuffer(cur.take(k * dtype.itemsize), dtype=utype)
            if np.any(book[1:] <= book[:-1]):
                raise FormatError("the codebook is not sorted by bit pattern without repeats, "
                                  "as the format stores it")
            _refuse_non_finite(book.view(dtype), "the codebook holds")
            values = book[decode_stream(cur, desc["v"], n, k)]
        else:
            values = np.frombuffer(cur.take(n * dtype.itemsize), dtype=utype)
        if desc["k"] == "s":
            gaps = decode_stream(cur, desc["g"], n, 1 << desc["b"])
            flat = decode_relative(RelativeIndex(gaps, values, desc["b"], size))
        else:
            flat = values.copy()
    cur.done()
    _refuse_non_finite(flat.view(dtype), "the tensor holds")
    return flat


def _refuse_non_finite(values: np.ndarray, what: str) -> None:
    bad = values.size - int(np.count_nonzero(np.isfinite(values)))
    if bad:
        raise FormatError(f"{what} {bad} NaN or infinite values; a .tcz file stores finite "
                          "values only")


def storable(name: str, arr: np.ndarray) -> np.ndarray:
    """``arr`` as the format stores it, native float32 (``>f4`` is converted, no other dtype
    is accepted: :func:`~tinycompress.nn.architecture.engine_array`); with a NaN or infinite
    value it is refused too."""
    arr = engine_array(np.asarray(arr), shown(name), FormatError)
    _refuse_non_finite(arr, f"{shown(name)} holds")
    return arr
