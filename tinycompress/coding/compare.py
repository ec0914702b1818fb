"""General-purpose compressors on the same data: zlib and lzma beside the ``.tcz`` file.

Han, Mao & Dally, *Deep Compression* (ICLR 2016, §4) Huffman-code the weight indices and the
index gaps (version 2 of the file may arithmetic-code them instead: :mod:`.arith_section`).
:func:`general_purpose_sizes` asks what zlib (Deflate, RFC 1951: LZ77 matches and Huffman
codes) and lzma make of the very same symbols, of the float32 weights, and of the
``.tcz`` file itself, which they should hardly shrink further.
"""

from __future__ import annotations

import lzma
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .accounting import stream_bits, tensor_row
from .arith_section import stream_of
from .bitio import bytes_for
from .contexts import peek_flags, scanned
from .relative_index import encode_relative
from .sections import bit_patterns
from .tcz import TensorRecord, naming, read_file, read_records


def _symbol_width(tensors: list[np.ndarray]) -> str:
    """How the raw streams store a symbol: one byte, or two in a tensor whose alphabet needs it."""
    return "1-2 bytes per symbol" if any(a.itemsize == 2 for a in tensors) else "1 byte per symbol"


def _stream_symbols(rec: TensorRecord) -> dict[str, np.ndarray]:
    """The symbol streams a coded tensor was stored as: codebook indices and gaps (an
    arithmetic-coded tensor's gaps in its scan order, without fillers)."""
    bits = bit_patterns(rec.array)
    out: dict[str, np.ndarray] = {}
    entries = bits
    if rec.desc["k"] == "s":
        rel = encode_relative(bits, rec.desc["b"])
        entries, out["gaps"] = rel.values, rel.gaps
    if rec.desc["k"] == "a":
        order = peek_flags(stream_of(rec.section, rec.desc))[0]
        flat = scanned(bits.reshape(rec.array.shape), order)
        kept = np.flatnonzero(flat)
        entries, out["gaps"] = flat[kept], np.diff(kept, prepend=-1) - 1
    if rec.desc.get("c"):
        out["indices"] = np.searchsorted(np.unique(entries), entries)
    return out


def _stored_bytes(rec: TensorRecord) -> dict[str, float]:
    """The bytes the streams take in the file: code words and tables, or an arithmetic-coded
    stream shared out as :func:`.accounting.tensor_row` does."""
    n = rec.desc["n"]
    if rec.desc["k"] == "a":
        row = tensor_row(rec)
        return {"indices": n * row["weight_bits_huffman"] / 8,
                "gaps": n * row["index_bits_huffman"] / 8}
    out = {}
    for kind, key in (("indices", "v"), ("gaps", "g")):
        if key in rec.desc:
            code, table = stream_bits(rec.desc[key], n)
            out[kind] = bytes_for(code) + bytes_for(table)
    return out


def general_purpose_sizes(path: str | Path) -> list[dict[str, Any]]:
    """zlib (level 9) and lzma on the float32 weights, the index streams and the file itself.

    Rows ``{"data", "raw", "zlib", "lzma", "tcz"}`` in bytes: the decoded model's parameters
    as float32; the codebook indices and the gaps of the coded tensors, one byte per symbol
    (two if the alphabet needs it), beside the bytes those streams take in the file; and the
    ``.tcz`` file, which general-purpose compressors should hardly shrink further.
    """
    blob = read_file(path)
    with naming(path):
        model, _, records = read_records(blob)
    weights = b"".join(np.ascontiguousarray(p, dtype=np.float32).tobytes()
                       for _, _, p in model.parameters())
    streams: dict[str, list[np.ndarray]] = {"indices": [], "gaps": []}
    stored = {"indices": 0.0, "gaps": 0.0}
    for rec in records:
        if rec.desc["k"] not in ("d", "s", "a"):
            continue
        for kind, symbols in _stream_symbols(rec).items():
            dtype = np.uint8 if symbols.max(initial=0) < 256 else np.uint16
            streams[kind].append(symbols.astype(dtype))
        for kind, size in _stored_bytes(rec).items():
            stored[kind] += size
    rows = [{"data": "float32 weights", "bytes": weights, "tcz": None}]
    rows += [{"data": f"{kind} ({_symbol_width(s)})", "bytes": b"".join(a.tobytes() for a in s),
              "tcz": round(stored[kind])} for kind, s in streams.items() if s]
    rows.append({"data": ".tcz file", "bytes": blob, "tcz": len(blob)})
    return [{"data": r["data"], "raw": len(r["bytes"]), "zlib": len(zlib.compress(r["bytes"], 9)),
             "lzma": len(lzma.compress(r["bytes"], preset=9)), "tcz": r["tcz"]} for r in rows]
