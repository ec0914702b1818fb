"""Where the bytes of a ``.tcz`` file go: the paper's per-layer size accounting.

Han, Mao & Dally, *Deep Compression* (ICLR 2016), Tables 2-3: per layer, the weights kept, the
bits per weight and per index before Huffman coding (P+Q) and after (P+Q+H), and the
compression rate; and per tensor the coder the file chose (fixed width, Huffman, arithmetic,
or fp16 / int8 for a small tensor) and its bits per kept weight. Here every number is read
from the file's own bytes, through :func:`.tcz.read_records`: :func:`tensor_row` accounts for
one tensor's section, :func:`inspect_bytes` (or :func:`inspect`, for a path) for every layer
and the whole file, and :func:`format_inspect` prints the tables; :func:`byte_map` sorts every
byte of a file by what it holds; :func:`huffman_savings` and :func:`savings_markdown` give
what entropy coding saves per sparse layer (the paper's Table 2: P+Q against P+Q+H).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..nn.architecture import MAX_PARAMETERS
from ..nn.model import Sequential
from .arith_section import estimated_bits, stream_of
from .bitio import bytes_for
from .contexts import ContextLayout, peek_flags, scanned
from .contexts_fast import binarise
from .relative_index import filler_count
from .sections import AUTO_INDEX_BITS, bit_patterns
from .small_tensors import is_small
from .tcz import VERSION, TensorRecord, naming, read_file, read_records


def stream_bits(desc: dict[str, Any], n: int) -> tuple[int, int]:
    """``(code bits, table bits)`` of a stream as stored (padding excluded)."""
    if "f" in desc:
        return desc["f"] * n, 0
    return desc["h"], desc["a"] * desc["w"]


def coder(desc: dict[str, Any]) -> str:
    """The coder a manifest entry chose: ``raw``, ``fp16``, ``int8``, ``fixed`` (fixed-width
    fields only), ``huffman`` (a Huffman-coded stream) or ``arith`` (arithmetic coded)."""
    kind = desc["k"]
    if kind in ("r", "h", "q", "a"):
        return {"r": "raw", "h": "fp16", "q": "int8", "a": "arith"}[kind]
    streams = [desc[k] for k in ("v", "g") if k in desc]
    return "huffman" if any("h" in st for st in streams) else "fixed"


def _best_relative(kept: np.ndarray, width: int) -> tuple[int, int]:
    """``(b, fillers)`` of the smallest relative-index form of kept positions with ``width``-bit
    values: the paper's P+Q layout for a tensor stored otherwise."""
    costs = [((kept.size + filler_count(kept, b)) * (width + b), b) for b in AUTO_INDEX_BITS]
    b = min(costs)[1]
    return b, filler_count(kept, b)


def _arith_split(rec: TensorRecord) -> tuple[float, float]:
    """Bits per entry of an ``"a"`` section's stream spent on values and on gaps: the stream's
    bits shared out as the model's estimate of each part (:func:`.arith_section.
    estimated_bits`)."""
    desc, bits = rec.desc, bit_patterns(rec.array)
    n, c = desc["n"], desc["c"]
    if not n:
        return 0.0, 0.0
    order, neighbours = peek_flags(stream_of(rec.section, desc))
    flat = scanned(bits.reshape(rec.array.shape), order)
    kept = np.flatnonzero(flat)
    lay = ContextLayout(flat.size, max(c - 1, 0).bit_length())
    indices = None
    if c:
        book = np.sort(np.unique(flat[kept]).view(np.float32))
        indices = np.searchsorted(book, flat[kept].view(np.float32))
    negatives = int(np.count_nonzero(np.signbit(book))) if c else 0
    ctx, bit = binarise(np.diff(kept, prepend=-1) - 1, indices, lay, negatives, order, neighbours)
    value = (ctx >= lay.value_base) & (ctx < lay.flag(0))
    est_v = estimated_bits(ctx[value], bit[value], lay.total)
    est_g = estimated_bits(ctx[~value], bit[~value], lay.total)
    stream = 8 * (len(rec.section) - 4 * (c or n))
    share = est_v / (est_v + est_g) if est_v + est_g else 0.0
    return stream * share / n, stream * (1 - share) / n


def _code_bits(rec: TensorRecord, item: int) -> dict[str, Any]:
    """Entries, fillers, fixed and as-stored bits per entry of the values and of the gaps."""
    desc, bits = rec.desc, bit_patterns(rec.array)
    size, kind = bits.size, desc["k"]
    n, k = desc.get("n", size), desc.get("c", 0)
    wb = max(k - 1, 0).bit_length() if k else {"h": 16, "q": 8}.get(kind, item)
    row = {"entries": int(n), "fillers": 0, "weight_bits": wb, "index_bits": 0,
           "table_bits": 0, "weight_bits_huffman": float(wb), "index_bits_huffman": 0.0}
    if kind in ("d", "s", "q"):
        wcode, row["table_bits"] = stream_bits(desc["v"], n) if "v" in desc else (item * n, 0)
        row["weight_bits_huffman"] = wcode / n if n else 0.0
    if kind == "s":
        row["index_bits"] = desc["b"]
        icode, itable = stream_bits(desc["g"], n)
        row.update(fillers=int(n - np.count_nonzero(bits)),
                   index_bits_huffman=icode / n if n else 0.0)
        row["table_bits"] += itable
    if kind == "a":
        row["index_bits"], fillers = _best_relative(np.flatnonzero(bits), wb)
        row["weight_bits_huffman"], row["index_bits_huffman"] = _arith_split(rec)
        row["pq_entries"] = int(n + fillers)
    return row


def tensor_row(rec: TensorRecord) -> dict[str, Any]:
    """One tensor's storage in the paper's terms (Deep Compression Tables 2-3).

    ``coder`` is the entry's choice (:func:`coder`), ``bits_per_kept`` the section's bits over
    its nonzero weights. ``weight_bits`` / ``index_bits`` are the fixed widths before entropy
    coding (P+Q; for an arithmetic-coded tensor the best relative-index width it would have
    had), the ``*_huffman`` ones the average code bits per entry as stored (P+Q+H; for
    arithmetic coding the stream's bits shared out by :func:`_arith_split`). ``rate_pq`` is the
    paper's accounting, ``(entries (w + b) + 32 k) / (32 n)`` with the fixed widths and a
    float32 codebook of ``k`` values; ``rate_pqh_formula`` the same with the coded bits;
    ``rate_pqh`` the section's actual bytes (tables and padding included) over ``4 n``.
    """
    desc, size = rec.desc, rec.array.size
    bits = bit_patterns(rec.array)
    item = 8 * rec.array.dtype.itemsize
    kept = int(np.count_nonzero(bits))
    row: dict[str, Any] = {
        "name": rec.name, "shape": list(rec.array.shape), "weights": int(size),
        "kept_fraction": float(kept / size) if size else 0.0,
        "layout": {"r": "raw", "d": "dense", "s": "sparse", "a": "sparse"}.get(desc["k"],
                                                                              "dense"),
        "coder": coder(desc), "bytes": len(rec.section), "codebook": int(desc.get("c", 0)),
        "bits_per_kept": 8 * len(rec.section) / kept if kept else 0.0,
    }
    row.update(_code_bits(rec, item))
    n, k, dense_bits = row["entries"], row["codebook"], item * size or 1
    pq_entries = row.pop("pq_entries", n)
    coded = desc["k"] in ("d", "s", "a")
    row.update({
        "rate_pq": (pq_entries * (row["weight_bits"] + row["index_bits"]) + item * k)
        / dense_bits if coded else 1.0,
        "rate_pqh_formula": (n * (row["weight_bits_huffman"] + row["index_bits_huffman"])
                             + item * k) / dense_bits if coded else 1.0,
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
    crc = records[0].checksum_bytes if records else 0
    version = records[0].version if records else VERSION
    layers = []
    for layer in model.layers:
        names = [f"{layer.name}/{k}" for k in (*layer.params, *layer.buffers)]
        if not names:
            continue
        w = by_name.get(f"{layer.name}/W")
        row = {"name": layer.name, "type": type(layer).__name__,
               "bytes": sum(by_name[n]["bytes"] + crc for n in names),
               "other_bytes": sum(by_name[n]["bytes"] for n in names if not n.endswith("/W"))}
        if w is not None:
            row.update({key: w[key] for key in (
                "weights", "kept_fraction", "layout", "coder", "bits_per_kept", "codebook",
                "entries", "fillers",
                "weight_bits", "weight_bits_huffman", "index_bits", "index_bits_huffman",
                "table_bits", "rate_pq", "rate_pqh_formula", "rate_pqh")})
        layers.append(row)
    dense = 4 * model.num_params()
    sections = sum(len(r.section) + crc for r in records)
    return {
        "model": model.name, "format_version": version, "layers": layers, "tensors": tensors,
        "header_and_manifest_bytes": file_bytes - sections, "section_bytes": sections,
        "file_bytes": file_bytes, "dense_bytes": dense, "ratio": dense / file_bytes,
        "meta": meta,
    }


BYTE_KINDS = ("header and manifest", "codebooks", "code tables", "weight streams",
              "small tensors", "checksums")
"""The kinds of bytes :func:`byte_map` counts, in file order."""


def byte_map(blob: bytes, max_parameters: int = MAX_PARAMETERS) -> dict[str, int]:
    """The bytes of a ``.tcz`` file by what they hold, one count per :data:`BYTE_KINDS`, adding
    up to ``len(blob)``.

    ``header and manifest``: everything before the first section (in version 2 with the file's
    one checksum); ``codebooks``: the float32 codebook values of the weight tensors (not
    ``.../b`` and the other small tensors, :func:`.small_tensors.is_small`); ``code tables``:
    their Huffman code-length tables, each padded to whole bytes as stored; ``weight streams``:
    the rest of their sections (codebook indices and positions as fixed-width fields, Huffman
    or arithmetic code, and the values of tensors without a codebook); ``small tensors``: the
    sections of biases and other small tensors, in whatever form; ``checksums``: the CRC-32
    after each section (version 1 only).
    """
    records = read_records(blob, max_parameters)[2]
    out = dict.fromkeys(BYTE_KINDS, 0)
    for rec in records:
        desc, size = rec.desc, len(rec.section)
        out["checksums"] += rec.checksum_bytes
        if is_small(rec.name):
            out["small tensors"] += size
            continue
        book = 4 * desc.get("c", 0) if desc["k"] in ("d", "s", "a") else 0
        tables = sum(bytes_for(st["a"] * st["w"]) for st in (desc.get("v"), desc.get("g"))
                     if st is not None and "h" in st)
        out["codebooks"] += book
        out["code tables"] += tables
        out["weight streams"] += size - book - tables
    out["header and manifest"] = len(blob) - sum(len(r.section) + r.checksum_bytes
                                                 for r in records)
    return out


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
    """The :func:`inspect` report as text: a table of layers (the paper's), then one of tensors
    (the coder each chose and its bits per kept weight)."""
    head = (f"{'layer':8s} {'weights':>8s} {'kept':>6s} {'layout':>6s} {'coder':>7s} "
            f"{'w bits':>6s} {'w bits H':>8s} {'i bits':>6s} {'i bits H':>8s} {'b/kept':>6s} "
            f"{'bytes':>7s} {'rate P+Q':>8s} {'formula':>8s} {'rate':>7s}")
    lines = [head, "-" * len(head)]
    for r in report["layers"]:
        if "weights" not in r:
            lines.append(f"{r['name']:8s} {'':>8s} {'':>6s} {'':>6s} {'':>7s} {'':>6s} "
                         f"{'':>8s} {'':>6s} {'':>8s} {'':>6s} {r['bytes']:7d}")
            continue
        lines.append(
            f"{r['name']:8s} {r['weights']:8d} {r['kept_fraction']:6.1%} {r['layout']:>6s} "
            f"{r['coder']:>7s} {r['weight_bits']:6d} {r['weight_bits_huffman']:8.2f} "
            f"{r['index_bits']:6d} {r['index_bits_huffman']:8.2f} {r['bits_per_kept']:6.2f} "
            f"{r['bytes']:7d} {r['rate_pq']:8.2%} {r['rate_pqh_formula']:8.2%} "
            f"{r['rate_pqh']:7.2%}")
    lines.append(f"\n{'tensor':14s} {'shape':>14s} {'coder':>7s} {'bytes':>7s} {'b/kept':>6s}")
    lines += [f"{t['name']:14s} {'x'.join(map(str, t['shape'])):>14s} {t['coder']:>7s} "
              f"{t['bytes']:7d} {t['bits_per_kept']:6.2f}" for t in report["tensors"]]
    lines.append(
        f"\nfile_bytes {report['file_bytes']:,} (format version {report['format_version']}, "
        f"header + manifest {report['header_and_manifest_bytes']:,}), dense_bytes "
        f"{report['dense_bytes']:,}, ratio {report['ratio']:.1f}x")
    lines.append("columns: coder = raw, fixed-width, huffman or arith (arithmetic) coding, or "
                 "fp16 / int8 for small tensors; w/i bits = weight (codebook index) and "
                 "relative-index bits per entry before / after entropy coding (H); b/kept = "
                 "a section's bits per kept (nonzero) value; rate P+Q and formula = the paper's "
                 "accounting before / after entropy coding; rate = the W section's bytes / "
                 "float32 bytes")
    return "\n".join(lines)


SAVINGS_KEYS = ("weight_bits", "weight_bits_huffman", "index_bits", "index_bits_huffman")
"""The fields of an :func:`inspect` layer row that :func:`huffman_savings` reads."""


def huffman_savings(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What entropy coding saves per sparse layer, in bits per stored entry.

    For each row of ``layers`` (an :func:`inspect` report's ``"layers"``) whose ``layout`` is
    ``"sparse"`` and that carries :data:`SAVINGS_KEYS`: with fixed widths ``w`` (codebook
    index) and ``b`` (relative index) before entropy coding (P+Q), and average code lengths
    ``w_H`` and ``b_H`` as stored (P+Q+H),

        bits_before = w + b,   bits_after = w_H + b_H,   saved = 1 - bits_after / bits_before

    (``saved`` is 0 when ``bits_before`` is 0). Rows without weights (a BatchNorm) or stored
    raw or dense are skipped, so the result may be shorter than ``layers``.

    Returns
    -------
    list of dict
        One per kept row, in order: ``name``, the four :data:`SAVINGS_KEYS`, ``bits_before``,
        ``bits_after`` and ``saved`` (a fraction; negative if coding lengthened the entries).
    """
    out = []
    for row in layers:
        if row.get("layout") != "sparse" or any(k not in row for k in SAVINGS_KEYS):
            continue
        before = row["weight_bits"] + row["index_bits"]
        after = row["weight_bits_huffman"] + row["index_bits_huffman"]
        out.append({"name": row["name"], **{k: row[k] for k in SAVINGS_KEYS},
                    "bits_before": before, "bits_after": after,
                    "saved": 1 - after / before if before else 0.0})
    return out


def savings_markdown(rows: list[dict[str, Any]], label: str = "layer") -> str:
    """The :func:`huffman_savings` rows as a Markdown table, one line per row.

    Columns: ``label`` (each row's ``name``), the weight and index bits per entry as
    ``P+Q → P+Q+H``, and the bits per entry saved as ``saved of before (percent)``.
    """
    lines = [f"| {label} | weight bits P+Q → P+Q+H | index bits P+Q → P+Q+H "
             "| bits/entry saved |", "|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['weight_bits']} → {r['weight_bits_huffman']:.2f} "
              f"| {r['index_bits']} → {r['index_bits_huffman']:.2f} "
              f"| {r['bits_before'] - r['bits_after']:.2f} of {r['bits_before']} "
              f"({r['saved']:.0%}) |" for r in rows]
    return "\n".join(lines)
