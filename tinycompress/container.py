"""The ``.tcz`` file: a whole compressed model in one documented, pickle-free binary container.

Han, Mao & Dally, *Deep Compression* (ICLR 2016), §2-§4: a pruned, quantised layer is stored
as relative indices (:mod:`.sparse_index`) and codebook indices, both Huffman-coded
(:mod:`.huffman`), plus the codebook. This module chooses, per tensor, the smallest of those
representations, writes them with a manifest and checksums, and reads them back bit for bit.

File layout (all integers little-endian)::

    offset  size  field
    0       4     magic b"\\x89TCZ"
    4       1     format version (1)
    5       4     manifest length M (uint32)
    9       4     CRC-32 of the manifest bytes
    13      M     manifest: zlib-compressed compact JSON
    13+M    ...   one section per tensor, in manifest order: its bytes, then their CRC-32

The manifest is ``{"arch": <architecture>, "meta": {...}, "t": [tensor, ...]}`` with the
architecture of :func:`tinycompress.checkpoint.architecture` (layer types, names and
configs: the shapes follow from it) and one entry per parameter and buffer, in the order of
:func:`tinycompress.checkpoint.state_arrays`. A tensor entry has ``z`` (section bytes) and
``k`` (kind):

- ``"r"`` raw: the array's bytes (dtype from the architecture, float32 by default);
- ``"d"`` dense coded: ``n = size`` values; ``"s"`` sparse coded: ``n`` entries in
  relative-index form with ``b``-bit gaps and filler zeros.

A coded tensor's section holds its ``c`` codebook values (raw, sorted by bit pattern), then
the value stream (``c > 0``: codebook indices; ``c = 0``: raw values), then, if sparse, the
gap stream. A symbol stream is described by ``{"f": w}`` (fixed ``w``-bit fields) or
``{"h": nbits, "a": A, "w": lw}`` (Huffman: ``A`` code lengths of ``lw`` bits each, then
``nbits`` bits of code words); every part is padded to whole bytes. The encoder tries every
layout (and, unless told, every gap width ``b`` in 1..12) and keeps the smallest.

Reading validates everything before it allocates: the magic, version, checksums, that the
manifest's sizes add up to the file's, that the model is no larger than
:data:`MAX_ELEMENTS`, that code-length tables are prefix codes and that bit streams end
exactly where they should. Any violation raises :class:`FormatError`.
"""

from __future__ import annotations

import inspect as _inspect
import json
import lzma
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import huffman
from .bitio import pack_fixed, unpack_fixed
from .checkpoint import architecture, atomic_write, state_arrays
from .errors import FormatError
from .layers import LAYER_TYPES, SHAPE_ONLY
from .model import Sequential
from .sparse_index import RelativeIndex, decode_relative, encode_relative

MAGIC = b"\x89TCZ"
VERSION = 1
_HEADER = struct.Struct("<4sBII")  # magic, version, manifest length, manifest CRC-32
MAX_ELEMENTS = 1 << 28
"""Largest total number of parameters a file may describe (1 GiB of float32)."""
MAX_MANIFEST_BYTES = 1 << 24
"""Largest decompressed manifest."""
_MAX_CONFIG_INT = 1 << 24  # no layer dimension in an architecture may exceed this
_MAX_GAP_BITS = 16
AUTO_INDEX_BITS = tuple(range(1, 13))
"""Gap widths tried when none is given."""

IndexBits = int | dict[str, int] | None
"""Gap width: one for all tensors, per layer (``{"fc1": 5}``) or per tensor (``"fc1/W"``),
or None to try every width in :data:`AUTO_INDEX_BITS` and keep the smallest."""


# --------------------------------------------------------------------------------------------
# Symbol streams: fixed-width or Huffman, whichever is smaller
# --------------------------------------------------------------------------------------------
def _nbytes(nbits: int) -> int:
    return -(-nbits // 8)


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
        values = unpack_fixed(cur.take(_nbytes(n * width)), n, width)
    else:
        nbits = _int(desc, "h", 0, 8 * len(cur.data), cur.where)
        used = _int(desc, "a", 1, alphabet, cur.where)
        lw = _int(desc, "w", 1, 7, cur.where)
        lengths = unpack_fixed(cur.take(_nbytes(used * lw)), used, lw).astype(np.int64)
        code = huffman.HuffmanCode.from_lengths(lengths)
        values = huffman.decode(cur.take(_nbytes(nbits)), nbits, n, code)
    if values.size and int(values.max()) >= alphabet:
        raise FormatError(f"{cur.where}: a symbol exceeds the alphabet of {alphabet}")
    return values.astype(np.int64)


def _int(desc: dict[str, Any], key: str, lo: int, hi: int, where: str) -> int:
    value = desc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise FormatError(f"{where}: field {key!r} = {value!r} is not an integer in {lo}..{hi}")
    return value


# --------------------------------------------------------------------------------------------
# Tensors: raw, dense coded or sparse coded, whichever is smallest
# --------------------------------------------------------------------------------------------
def _uint_view(arr: np.ndarray) -> np.ndarray:
    """The bit patterns of a float array as unsigned integers (so -0.0 != +0.0, NaN == NaN)."""
    return np.ascontiguousarray(arr).reshape(-1).view(f"u{arr.dtype.itemsize}")


def _encode_values(bits: np.ndarray) -> tuple[dict[str, Any], bytes]:
    """Values (as bit patterns) through a codebook of their distinct values, or raw."""
    raw = bits.tobytes()
    uniq, index = np.unique(bits, return_inverse=True)
    if uniq.size > 1 << 16 or uniq.nbytes + _nbytes(bits.size) >= len(raw):
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
    bits = _uint_view(arr)
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


# --------------------------------------------------------------------------------------------
# The file
# --------------------------------------------------------------------------------------------
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
        sections.append(data + struct.pack("<I", zlib.crc32(data)))
    doc = {"arch": architecture(model), "meta": meta or {}, "t": descs}
    manifest = zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 9)
    header = _HEADER.pack(MAGIC, VERSION, len(manifest), zlib.crc32(manifest))
    return header + manifest + b"".join(sections)


def save(model: Sequential, path: str | Path, index_bits: IndexBits = None,
         meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (and JSON-able ``meta``) as a ``.tcz`` file, atomically."""
    blob = to_bytes(model, index_bits, meta)
    atomic_write(path, lambda f: f.write(blob))
    return Path(path)


@dataclass
class TensorRecord:
    """What the file says about one tensor: name, manifest entry and section bytes."""

    name: str
    desc: dict[str, Any]
    section: bytes
    array: np.ndarray


def _check_config(value: Any, where: str) -> None:
    """Refuse absurd integers anywhere in an architecture before any layer is built."""
    if isinstance(value, dict):
        for v in value.values():
            _check_config(v, where)
    elif isinstance(value, list | tuple):
        for v in value:
            _check_config(v, where)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_CONFIG_INT:
        raise FormatError(f"{where}: the architecture has a dimension of {value}, over "
                          f"{_MAX_CONFIG_INT}; the file is corrupt or not for this program")


def _shape_only_model(arch: Any) -> Sequential:
    """The model the architecture describes, with weightless placeholder parameters."""
    try:
        _check_config(arch["layers"], "manifest")
        _check_config(arch["input_shape"], "manifest")
        layers = []
        for spec in arch["layers"]:
            cls = LAYER_TYPES[spec["type"]]
            config = dict(spec["config"])
            if "rng" in _inspect.signature(cls).parameters:
                config["rng"] = SHAPE_ONLY
            layers.append(cls(**config))
        return Sequential(layers, tuple(arch["input_shape"]), arch["name"])
    except FormatError:
        raise
    except Exception as exc:  # any malformed description: unknown type, bad config, ...
        raise FormatError(f"the manifest's architecture is invalid: {exc!r}") from exc


def read_records(blob: bytes) -> tuple[Sequential, dict[str, Any], list[TensorRecord]]:
    """Parse and validate ``.tcz`` bytes: ``(model, meta, records)``.

    Raises
    ------
    FormatError
        On any malformed, truncated, corrupt or oversized content.
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
    model = _shape_only_model(arch)
    expected = state_arrays(model)
    if not isinstance(descs, list) or len(descs) != len(expected):
        raise FormatError(f"the manifest lists {len(descs)} tensors, the architecture has "
                          f"{len(expected)}")
    total = sum(a.size for a in expected.values())
    if total > MAX_ELEMENTS:
        raise FormatError(f"the model has {total:,} parameters, over the limit {MAX_ELEMENTS:,}")
    sizes = [_int(d, "z", 0, len(blob), "manifest") if isinstance(d, dict) else -1
             for d in descs]
    if min(sizes, default=0) < 0:
        raise FormatError("a tensor entry in the manifest is not an object")
    if _HEADER.size + mlen + sum(sizes) + 4 * len(sizes) != len(blob):
        raise FormatError(
            f"the file has {len(blob)} bytes but its manifest accounts for "
            f"{_HEADER.size + mlen + sum(sizes) + 4 * len(sizes)}: truncated or corrupt"
        )
    records, pos = [], _HEADER.size + mlen
    for (name, ref), desc, size in zip(expected.items(), descs, sizes, strict=True):
        section = blob[pos : pos + size]
        (crc,) = struct.unpack_from("<I", blob, pos + size)
        pos += size + 4
        if zlib.crc32(section) != crc:
            raise FormatError(f"{name}: the section's checksum does not match: the file is corrupt")
        flat = decode_tensor(section, desc, ref.size, ref.dtype, name)
        records.append(TensorRecord(name, desc, section, flat.reshape(ref.shape)))
    for layer in model.layers:
        for store in (layer.params, layer.buffers):
            for key in store:
                store[key] = next(r.array for r in records if r.name == f"{layer.name}/{key}")
    return model, meta, records


def load(path: str | Path) -> tuple[Sequential, dict[str, Any]]:
    """Read a ``.tcz`` file: ``(model, meta)`` with the exact weights that were saved."""
    model, meta, _ = read_records(_read_file(path))
    return model, meta


def _read_file(path: str | Path) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"no .tcz file at {path}")
    return path.read_bytes()


# --------------------------------------------------------------------------------------------
# Inspecting a file: the paper's per-layer table from the file's own bytes
# --------------------------------------------------------------------------------------------
def _stream_bits(desc: dict[str, Any], n: int) -> tuple[int, int]:
    """``(code bits, table bits)`` of a stream as stored (padding excluded)."""
    if "f" in desc:
        return desc["f"] * n, 0
    return desc["h"], desc["a"] * desc["w"]


def _stream_symbols(rec: TensorRecord) -> dict[str, np.ndarray]:
    """The symbol streams a coded tensor was stored as: codebook indices and gaps."""
    bits = _uint_view(rec.array)
    out: dict[str, np.ndarray] = {}
    entries = bits
    if rec.desc["k"] == "s":
        rel = encode_relative(bits, rec.desc["b"])
        entries, out["gaps"] = rel.values, rel.gaps
    if rec.desc.get("c"):
        out["indices"] = np.searchsorted(np.unique(entries), entries)
    return out


def tensor_row(rec: TensorRecord) -> dict[str, Any]:
    """One tensor's storage in the paper's terms (Deep Compression Tables 2-3).

    ``weight_bits`` / ``index_bits`` are the fixed widths before Huffman coding (P+Q), the
    ``*_huffman`` ones the average code bits per entry as stored (P+Q+H). ``rate_pq`` is the
    paper's accounting, ``(entries (w + b) + 32 k) / (32 n)`` with the fixed widths and a
    float32 codebook of ``k`` values; ``rate_pqh_formula`` the same with the Huffman code
    lengths; ``rate_pqh`` the section's actual bytes (tables and padding included) over
    ``4 n``.
    """
    desc, size = rec.desc, rec.array.size
    bits = _uint_view(rec.array)
    item = 8 * rec.array.dtype.itemsize
    row: dict[str, Any] = {
        "name": rec.name, "shape": list(rec.array.shape), "weights": int(size),
        "kept_fraction": float(np.count_nonzero(bits) / size) if size else 0.0,
        "layout": {"r": "raw", "d": "dense", "s": "sparse"}[desc["k"]],
        "bytes": len(rec.section), "codebook": int(desc.get("c", 0)),
    }
    n = desc.get("n", size)
    k = row["codebook"]
    if k:
        wb, (wcode, wtable) = max(k - 1, 0).bit_length(), _stream_bits(desc["v"], n)
    else:
        wb, wcode, wtable = item, item * n, 0
    ib, icode, itable = 0, 0, 0
    if desc["k"] == "s":
        ib = desc["b"]
        icode, itable = _stream_bits(desc["g"], n)
    dense_bits = item * size or 1
    row.update({
        "entries": int(n),
        "fillers": int(n - np.count_nonzero(bits)) if desc["k"] == "s" else 0,
        "weight_bits": wb, "weight_bits_huffman": wcode / n if n else 0.0,
        "index_bits": ib, "index_bits_huffman": icode / n if n else 0.0,
        "table_bits": wtable + itable,
        "rate_pq": (n * (wb + ib) + item * k) / dense_bits if desc["k"] != "r" else 1.0,
        "rate_pqh_formula": (wcode + icode + item * k) / dense_bits if desc["k"] != "r" else 1.0,
        "rate_pqh": 8 * len(rec.section) / dense_bits,
    })
    return row


def inspect_bytes(blob: bytes) -> dict[str, Any]:
    """Per-layer and total storage of ``.tcz`` bytes (see :func:`inspect`)."""
    model, meta, records = read_records(blob)
    tensors = [tensor_row(r) for r in records]
    by_name = {t["name"]: t for t in tensors}
    layers = []
    for layer in model.layers:
        names = [f"{layer.name}/{k}" for k in (*layer.params, *layer.buffers)]
        if not names:
            continue
        w = by_name.get(f"{layer.name}/W")
        row = {"name": layer.name, "type": type(layer).__name__,
               "bytes": sum(by_name[n]["bytes"] + 4 for n in names),
               "other_bytes": sum(by_name[n]["bytes"] for n in names if not n.endswith("/W"))}
        if w is not None:
            row.update({key: w[key] for key in (
                "weights", "kept_fraction", "layout", "codebook", "entries", "fillers",
                "weight_bits", "weight_bits_huffman", "index_bits", "index_bits_huffman",
                "table_bits", "rate_pq", "rate_pqh_formula", "rate_pqh")})
        layers.append(row)
    dense = 4 * model.num_params()
    sections = sum(len(r.section) + 4 for r in records)
    return {
        "model": model.name, "format_version": VERSION, "layers": layers, "tensors": tensors,
        "header_and_manifest_bytes": len(blob) - sections, "section_bytes": sections,
        "file_bytes": len(blob), "dense_bytes": dense, "ratio": dense / len(blob),
        "meta": meta,
    }


def inspect(path: str | Path) -> dict[str, Any]:
    """Where the bytes of a ``.tcz`` file go, per layer, in the paper's table format.

    Returns a dict with ``layers`` (one row per layer with parameters: weights kept, weight
    and index bits before and after Huffman coding, bytes, compression rates from the
    file's bytes and from the paper's formula), ``tensors`` (the same per tensor), and the
    totals ``file_bytes``, ``dense_bytes`` (the float32 size of the model, 4 bytes per
    parameter) and ``ratio``.
    """
    return inspect_bytes(_read_file(path))


def format_inspect(report: dict[str, Any]) -> str:
    """The :func:`inspect` report as a text table."""
    head = (f"{'layer':8s} {'weights':>8s} {'kept':>6s} {'layout':>6s} {'w bits':>6s} "
            f"{'w bits H':>8s} {'i bits':>6s} {'i bits H':>8s} {'bytes':>7s} "
            f"{'rate P+Q':>8s} {'formula':>8s} {'rate':>7s}")
    lines = [head, "-" * len(head)]
    for r in report["layers"]:
        if "weights" not in r:
            lines.append(f"{r['name']:8s} {'':>8s} {'':>6s} {'':>6s} {'':>6s} {'':>8s} "
                         f"{'':>6s} {'':>8s} {r['bytes']:7d}")
            continue
        lines.append(
            f"{r['name']:8s} {r['weights']:8d} {r['kept_fraction']:6.1%} {r['layout']:>6s} "
            f"{r['weight_bits']:6d} {r['weight_bits_huffman']:8.2f} {r['index_bits']:6d} "
            f"{r['index_bits_huffman']:8.2f} {r['bytes']:7d} {r['rate_pq']:8.2%} "
            f"{r['rate_pqh_formula']:8.2%} {r['rate_pqh']:7.2%}")
    lines.append(
        f"\nfile_bytes {report['file_bytes']:,} (header + manifest "
        f"{report['header_and_manifest_bytes']:,}), dense_bytes {report['dense_bytes']:,}, "
        f"ratio {report['ratio']:.1f}x")
    lines.append("columns: w/i bits = weight (codebook index) and relative-index bits per entry "
                 "before / after Huffman (H); rate P+Q and formula = the paper's accounting "
                 "before / after Huffman; rate = the layer's W section bytes / float32 bytes")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# General-purpose compressors on the same data
# --------------------------------------------------------------------------------------------
def general_purpose_sizes(path: str | Path) -> list[dict[str, Any]]:
    """zlib (level 9) and lzma on the float32 weights, the index streams and the file itself.

    Rows ``{"data", "raw", "zlib", "lzma", "tcz"}`` in bytes: the decoded model's parameters
    as float32; the codebook indices and the gaps of the coded tensors, one byte per symbol
    (two if the alphabet needs it), beside the bytes those streams take in the file; and the
    ``.tcz`` file, which general-purpose compressors should hardly shrink further.
    """
    blob = _read_file(path)
    model, _, records = read_records(blob)
    weights = b"".join(np.ascontiguousarray(p, dtype=np.float32).tobytes()
                       for _, _, p in model.parameters())
    streams: dict[str, list[np.ndarray]] = {"indices": [], "gaps": []}
    stored = {"indices": 0, "gaps": 0}
    for rec in records:
        if rec.desc["k"] == "r":
            continue
        for kind, symbols in _stream_symbols(rec).items():
            dtype = np.uint8 if symbols.max(initial=0) < 256 else np.uint16
            streams[kind].append(symbols.astype(dtype))
            key = "v" if kind == "indices" else "g"
            code, table = _stream_bits(rec.desc[key], rec.desc["n"])
            stored[kind] += _nbytes(code) + _nbytes(table)
    rows = [{"data": "float32 weights", "bytes": weights, "tcz": None}]
    rows += [{"data": f"{kind} (1 symbol per byte)", "bytes": b"".join(a.tobytes() for a in s),
              "tcz": stored[kind]} for kind, s in streams.items() if s]
    rows.append({"data": ".tcz file", "bytes": blob, "tcz": len(blob)})
    return [{"data": r["data"], "raw": len(r["bytes"]), "zlib": len(zlib.compress(r["bytes"], 9)),
             "lzma": len(lzma.compress(r["bytes"], preset=9)), "tcz": r["tcz"]} for r in rows]
