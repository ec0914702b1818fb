"""Where the bytes of a ``.tcz`` file go: the paper's per-layer size accounting.

Han, Mao & Dally, *Deep Compression* (ICLR 2016), Tables 2-3: per layer, the weights kept, the
bits per weight and per index before Huffman coding (P+Q) and after (P+Q+H), and the
compression rate. Here every number is read from the file's own bytes, through
:func:`.tcz.read_records`: :func:`tensor_row` accounts for one tensor's section,
:func:`inspect_bytes` (or :func:`inspect`, for a path) for every layer and the whole file,
and :func:`format_inspect` prints the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..nn.architecture import MAX_PARAMETERS
from ..nn.model import Sequential
from .sections import bit_patterns
from .tcz import VERSION, TensorRecord, naming, read_file, read_records


def stream_bits(desc: dict[str, Any], n: int) -> tuple[int, int]:
    """``(code bits, table bits)`` of a stream as stored (padding excluded)."""
    if "f" in desc:
        return desc["f"] * n, 0
    return desc["h"], desc["a"] * desc["w"]


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
    bits = bit_patterns(rec.array)
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
        wb, (wcode, wtable) = max(k - 1, 0).bit_length(), stream_bits(desc["v"], n)
    else:
        wb, wcode, wtable = item, item * n, 0
    ib, icode, itable = 0, 0, 0
    if desc["k"] == "s":
        ib = desc["b"]
        icode, itable = stream_bits(desc["g"], n)
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


def inspect_bytes(blob: bytes, max_parameters: int = MAX_PARAMETERS) -> dict[str, Any]:
    """Per-layer and total storage of ``.tcz`` bytes (see :func:`inspect`)."""
    return inspect_records(len(blob), *read_records(blob, max_parameters))


def inspect_records(file_bytes: int, model: Sequential, meta: dict[str, Any],
                    records: list[TensorRecord]) -> dict[str, Any]:
    """Per-layer and total storage of a file of ``file_bytes`` bytes that
    :func:`~.tcz.read_records` parsed into ``(model, meta, records)``."""
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
        "header_and_manifest_bytes": file_bytes - sections, "section_bytes": sections,
        "file_bytes": file_bytes, "dense_bytes": dense, "ratio": dense / file_bytes,
        "meta": meta,
    }


def inspect(path: str | Path, max_parameters: int = MAX_PARAMETERS) -> dict[str, Any]:
    """Where the bytes of a ``.tcz`` file go, per layer, in the paper's table format.

    Returns a dict with ``layers`` (one row per layer with parameters: weights kept, weight
    and index bits before and after Huffman coding, bytes, compression rates from the
    file's bytes and from the paper's formula), ``tensors`` (the same per tensor), and the
    totals ``file_bytes``, ``dense_bytes`` (the float32 size of the model, 4 bytes per
    parameter) and ``ratio``. Errors name the file; ``max_parameters`` is the reader's limit
    (:func:`.tcz.load`).
    """
    blob = read_file(path, max_parameters)
    with naming(path):
        return inspect_bytes(blob, max_parameters)


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
