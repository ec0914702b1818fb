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

import lzma
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .relative_index import encode_relative
from .tcz import VERSION, TensorRecord, _nbytes, _read_file, _uint_view, read_records


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
