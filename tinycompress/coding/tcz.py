"""The ``.tcz`` file: a whole compressed model in one documented, pickle-free binary container.

Han, Mao & Dally, *Deep Compression* (ICLR 2016), §2-§4: a pruned, quantised layer is stored
as relative indices (:mod:`.relative_index`) and codebook indices, both Huffman-coded
(:mod:`.huffman`), plus the codebook. This module chooses, per tensor, the smallest of those
representations, writes them with a manifest and checksums (:func:`to_bytes`, :func:`save`),
and reads them back bit for bit (:func:`from_bytes`, :func:`load`, and :func:`read_records`,
which also returns what the file says about each tensor; :mod:`.accounting` turns that into
the paper's size tables).

File layout (all integers little-endian)::

    offset  size  field
    0       4     magic b"\\x89TCZ"
    4       1     format version (1)
    5       4     manifest length M (uint32)
    9       4     CRC-32 of the manifest bytes
    13      M     manifest: zlib-compressed compact JSON
    13+M    ...   one section per tensor, in manifest order: its bytes, then their CRC-32

The manifest is ``{"arch": <architecture>, "meta": {...}, "t": [tensor, ...]}`` with the
architecture of :func:`tinycompress.nn.architecture.architecture` (layer types, names and
configs: the shapes follow from it) and one entry per parameter and buffer, in the order of
:func:`tinycompress.nn.architecture.state_arrays`. A tensor entry has ``z`` (section bytes) and
``k`` (kind):

- ``"r"`` raw: the array's bytes (dtype from the architecture, float32 by default);
- ``"d"`` dense coded: ``n = size`` values; ``"s"`` sparse coded: ``n`` entries in
  relative-index form with ``b``-bit gaps and filler zeros.

A coded tensor's section holds its ``c`` codebook values (raw, sorted by bit pattern), then
the value stream (``c > 0``: codebook indices; ``c = 0``: raw values), then, if sparse, the
gap stream. A symbol stream is described by ``{"f": w}`` (fixed ``w``-bit fields) or
``{"h": nbits, "a": A, "w": lw}`` (Huffman: ``A`` code lengths of ``lw`` bits each, then
``nbits`` bits of code words, read by :func:`.huffman_fast.decode`); every part is padded to
whole bytes. The encoder tries every layout (and, unless told, every gap width ``b`` in
1..12) and keeps the smallest.

Reading validates everything before it allocates: the magic, version, checksums, that the
manifest's sizes add up to the file's, that the model is no larger than
:data:`MAX_ELEMENTS`, that code-length tables are prefix codes and that bit streams end
exactly where they should. Any violation raises :class:`FormatError`.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError
from ..nn.architecture import architecture, build_from_architecture, state_arrays
from ..nn.checkpoint import atomic_write
from ..nn.model import Sequential
from . import huffman, huffman_fast
from .bitio import bytes_for, pack_fixed, unpack_fixed
from .relative_index import RelativeIndex, decode_relative, encode_relative

MAGIC = b"\x89TCZ"
VERSION = 1
_HEADER = struct.Struct("<4sBII")  # magic, version, manifest length, manifest CRC-32
_MAX_GAP_BITS = 16  # the widest gap field a file may declare

MAX_ELEMENTS = 1 << 28
"""Largest total number of parameters a file may describe (1 GiB of float32)."""

MAX_MANIFEST_BYTES = 1 << 24
"""Largest decompressed manifest."""

AUTO_INDEX_BITS = tuple(range(1, 13))
"""Gap widths tried when none is given."""

IndexBits = int | dict[str, int] | None
"""Gap width: one for all tensors, per layer (``{"fc1": 5}``) or per tensor (``"fc1/W"``),
or None to try every width in :data:`AUTO_INDEX_BITS` and keep the smallest."""


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


class _Cursor:
    """Reads consecutive parts of one section, refusing to run past its end."""

    def __init__(self, data: bytes, where: str) -> None:
        self.data, self.pos, self.where = data, 0, where

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise FormatError(
                f"{self.where}: needs {n} more bytes at offset {self.pos}, the section has "
                f"{len(self.data)}; the file is corrupt"
            )
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def done(self) -> None:
        if self.pos != len(self.data):
            raise FormatError(f"{self.where}: {len(self.data) - self.pos} unexplained bytes")


def decode_stream(cur: _Cursor, desc: Any, n: int, alphabet: int) -> np.ndarray:
    """Read ``n`` symbols described by ``desc`` (see :func:`encode_stream`); int64."""
    if not isinstance(desc, dict):
        raise FormatError(f"{cur.where}: a stream description must be an object")
    if "f" in desc:
        width = _int(desc, "f", 0, 64, cur.where)
        values = unpack_fixed(cur.take(bytes_for(n * width)), n, width)
    else:
        nbits = _int(desc, "h", 0, 8 * len(cur.data), cur.where)
        used = _int(desc, "a", 1, alphabet, cur.where)
        lw = _int(desc, "w", 1, 7, cur.where)
        lengths = unpack_fixed(cur.take(bytes_for(used * lw)), used, lw).astype(np.int64)
        code = huffman.HuffmanCode.from_lengths(lengths)
        values = huffman_fast.decode(cur.take(bytes_for(nbits)), nbits, n, code)
    if values.size and int(values.max()) >= alphabet:
        raise FormatError(f"{cur.where}: a symbol exceeds the alphabet of {alphabet}")
    return values.astype(np.int64)


def _int(desc: dict[str, Any], key: str, lo: int, hi: int, where: str) -> int:
    value = desc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise FormatError(f"{where}: field {key!r} = {value!r} is not an integer in {lo}..{hi}")
    return value


def bit_patterns(arr: np.ndarray) -> np.ndarray:
    """The bit patterns of a float array as unsigned integers (so -0.0 != +0.0, NaN == NaN)."""
    return np.ascontiguousarray(arr).reshape(-1).view(f"u{arr.dtype.itemsize}")


def _encode_values(bits: np.ndarray) -> tuple[dict[str, Any], bytes]:
    """Values (as bit patterns) through a codebook of their distinct values, or raw."""
    raw = bits.tobytes()
    uniq, index = np.unique(bits, return_inverse=True)
    if uniq.size > 1 << 16 or uniq.nbytes + bytes_for(bits.size) >= len(raw):
        return {"c": 0}, raw  # every code word has at least one bit
    desc, stream = encode_stream(index.reshape(-1), uniq.size)
    coded = uniq.tobytes() + stream
    return ({"c": int(uniq.size), "v": desc}, coded) if len(coded) < len(raw) else ({"c": 0}, raw)


def encode_tensor(arr: np.ndarray, index_bits: tuple[int, ...] = AUTO_INDEX_BITS
                  ) -> tuple[dict[str, Any], bytes]:
    """The smallest stored form of one tensor: raw, dense coded, or sparse coded.

    Parameters
    ----------
    arr : ndarray of float
        The tensor; stored bit for bit (``-0.0`` and NaN payloads survive).
    index_bits : tuple of int
        Gap widths ``b`` to try for the sparse form.

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
    for desc, values_desc, data in candidates:
        if len(data) < len(best[1]):
            best = ({**desc, **values_desc}, data)
    return best


def decode_tensor(data: bytes, desc: Any, size: int, dtype: np.dtype, where: str) -> np.ndarray:
    """Inverse of :func:`encode_tensor`: the flat array of ``size`` elements of ``dtype``."""
    if not isinstance(desc, dict) or desc.get("k") not in ("r", "d", "s"):
        raise FormatError(f"{where}: unknown tensor kind in {desc!r}")
    utype = np.dtype(f"u{dtype.itemsize}")
    cur = _Cursor(data, where)
    if desc["k"] == "r":
        flat = np.frombuffer(cur.take(size * dtype.itemsize), dtype=utype).copy()
    else:
        sparse = desc["k"] == "s"
        n = _int(desc, "n", 0, size if not sparse else 8 * len(data) + size, where)
        k = _int(desc, "c", 0, len(data) // dtype.itemsize, where)
        if k:
            book = np.frombuffer(cur.take(k * dtype.itemsize), dtype=utype)
            values = book[decode_stream(cur, desc.get("v"), n, k)]
        else:
            values = np.frombuffer(cur.take(n * dtype.itemsize), dtype=utype)
        if sparse:
            b = _int(desc, "b", 1, _MAX_GAP_BITS, where)
            gaps = decode_stream(cur, desc.get("g"), n, 1 << b)
            flat = decode_relative(RelativeIndex(gaps, values, b, size))
        elif n != size:
            raise FormatError(f"{where}: {n} values for a tensor of {size}")
        else:
            flat = values.copy()
    cur.done()
    return flat.view(dtype)


def _bits_for(name: str, index_bits: IndexBits) -> tuple[int, ...]:
    if index_bits is None:
        return AUTO_INDEX_BITS
    if isinstance(index_bits, int):
        chosen = index_bits
    else:
        layer = name.split("/")[0]
        chosen = index_bits.get(name, index_bits.get(layer))
        if chosen is None:
            return AUTO_INDEX_BITS
    if not 1 <= chosen <= _MAX_GAP_BITS:
        raise ValueError(f"index bits must lie in 1..{_MAX_GAP_BITS}, got {chosen} for {name}")
    return (chosen,)


def to_bytes(model: Sequential, index_bits: IndexBits = None,
             meta: dict[str, Any] | None = None) -> bytes:
    """The ``.tcz`` bytes of ``model`` (see the module docstring for the layout)."""
    descs, sections = [], []
    for name, arr in state_arrays(model).items():
        desc, data = encode_tensor(np.asarray(arr), _bits_for(name, index_bits))
        descs.append({**desc, "z": len(data)})
        sections.append(data)
    return assemble({"arch": architecture(model), "meta": meta or {}, "t": descs}, sections)


def assemble(doc: dict[str, Any], sections: list[bytes]) -> bytes:
    """The file of a manifest ``doc`` and its tensor sections, in the layout above.

    The header, the manifest (compact JSON, zlib level 9), then each section followed by its
    CRC-32. Nothing is checked: :func:`to_bytes` makes ``doc`` and ``sections`` agree.
    """
    manifest = zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 9)
    header = _HEADER.pack(MAGIC, VERSION, len(manifest), zlib.crc32(manifest))
    return header + manifest + b"".join(s + struct.pack("<I", zlib.crc32(s)) for s in sections)


def save(model: Sequential, path: str | Path, index_bits: IndexBits = None,
         meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (and JSON-able ``meta``) as a ``.tcz`` file, atomically."""
    return write_file(to_bytes(model, index_bits, meta), path)


def write_file(blob: bytes, path: str | Path) -> Path:
    """Write ``.tcz`` bytes (from :func:`to_bytes`) to ``path``, atomically; returns the path."""
    atomic_write(path, lambda f: f.write(blob))
    return Path(path)


@dataclass
class TensorRecord:
    """What the file says about one tensor: name, manifest entry and section bytes."""

    name: str
    desc: dict[str, Any]
    section: bytes
    array: np.ndarray


def read_records(blob: bytes) -> tuple[Sequential, dict[str, Any], list[TensorRecord]]:
    """Parse and validate ``.tcz`` bytes: ``(model, meta, records)``.

    In the order of the file: the header and manifest (:func:`_read_manifest`); the model the
    architecture describes, with placeholder weights; the sections' sizes, checked against
    that model and the file's length (:func:`_section_sizes`); then each section, checksummed
    and decoded (:func:`_read_sections`), whose arrays replace the placeholders.

    Raises
    ------
    FormatError
        On any malformed, truncated, corrupt or oversized content.
    """
    arch, meta, descs, start = _read_manifest(blob)
    model = build_from_architecture(arch, FormatError)
    expected = state_arrays(model)
    sizes = _section_sizes(blob, start, descs, expected)
    records = _read_sections(blob, start, expected, descs, sizes)
    for layer in model.layers:
        for store in (layer.params, layer.buffers):
            for key in store:
                store[key] = next(r.array for r in records if r.name == f"{layer.name}/{key}")
    return model, meta, records


def _read_manifest(blob: bytes) -> tuple[Any, Any, Any, int]:
    """Check the header, inflate and parse the manifest: ``(arch, meta, descs, end)``.

    ``end`` is the offset of the first section. The manifest's content is not checked here.
    """
    if len(blob) < _HEADER.size:
        raise FormatError(f"only {len(blob)} bytes: too short for a .tcz header")
    magic, version, mlen, mcrc = _HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise FormatError(f"not a .tcz file (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise FormatError(f".tcz format version {version}; this tinycompress reads {VERSION}")
    manifest = blob[_HEADER.size : _HEADER.size + mlen]
    if len(manifest) != mlen:
        raise FormatError(f"the file is truncated: the manifest needs {mlen} bytes")
    if zlib.crc32(manifest) != mcrc:
        raise FormatError("the manifest's checksum does not match: the file is corrupt")
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(manifest, MAX_MANIFEST_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise FormatError("the manifest is too large or incomplete")
        doc = json.loads(text)
        arch, meta, descs = doc["arch"], doc.get("meta", {}), doc["t"]
    except FormatError:
        raise
    except Exception as exc:  # zlib.error, UnicodeDecodeError, JSONDecodeError, KeyError, ...
        raise FormatError(f"the manifest is unreadable: {exc!r}") from exc
    return arch, meta, descs, _HEADER.size + mlen


def _section_sizes(blob: bytes, start: int, descs: Any, expected: dict[str, np.ndarray]
                   ) -> list[int]:
    """The section sizes ``z`` of the manifest's tensor entries ``descs``, once they are known
    to describe the ``expected`` tensors, a model within :data:`MAX_ELEMENTS`, and sections
    that fill the file from ``start`` to its end."""
    if not isinstance(descs, list):
        raise FormatError("the manifest's tensor list 't' is not a list: the file is corrupt")
    if len(descs) != len(expected):
        raise FormatError(f"the manifest lists {len(descs)} tensors, the architecture has "
                          f"{len(expected)}")
    total = sum(a.size for a in expected.values())
    if total > MAX_ELEMENTS:
        raise FormatError(f"the model has {total:,} parameters, over the limit {MAX_ELEMENTS:,}")
    sizes = [_int(d, "z", 0, len(blob), "manifest") if isinstance(d, dict) else -1
             for d in descs]
    if min(sizes, default=0) < 0:
        raise FormatError("a tensor entry in the manifest is not an object")
    if start + sum(sizes) + 4 * len(sizes) != len(blob):
        raise FormatError(
            f"the file has {len(blob)} bytes but its manifest accounts for "
            f"{start + sum(sizes) + 4 * len(sizes)}: truncated or corrupt"
        )
    return sizes


def _read_sections(blob: bytes, start: int, expected: dict[str, np.ndarray],
                   descs: list[dict[str, Any]], sizes: list[int]) -> list[TensorRecord]:
    """Each section from ``start`` on, its CRC-32 checked, decoded to its expected tensor."""
    records, pos = [], start
    for (name, ref), desc, size in zip(expected.items(), descs, sizes, strict=True):
        section = blob[pos : pos + size]
        (crc,) = struct.unpack_from("<I", blob, pos + size)
        pos += size + 4
        if zlib.crc32(section) != crc:
            raise FormatError(f"{name}: the section's checksum does not match: the file is corrupt")
        flat = decode_tensor(section, desc, ref.size, ref.dtype, name)
        records.append(TensorRecord(name, desc, section, flat.reshape(ref.shape)))
    return records


def from_bytes(blob: bytes) -> tuple[Sequential, dict[str, Any]]:
    """``.tcz`` bytes back to ``(model, meta)``, the inverse of :func:`to_bytes`."""
    model, meta, _ = read_records(blob)
    return model, meta


def load(path: str | Path) -> tuple[Sequential, dict[str, Any]]:
    """Read a ``.tcz`` file: ``(model, meta)`` with the exact weights that were saved."""
    return from_bytes(read_file(path))


def read_file(path: str | Path) -> bytes:
    """The bytes of the ``.tcz`` file at ``path``; :class:`FormatError` if there is none."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"no .tcz file at {path}")
    return path.read_bytes()
