"""Benchmark: version 2 of the ``.tcz`` file against version 1 on the same weights (issue 13).

The weights are today's pruned LeNets quantised as the issue says (``tinycompress quantize
data/fixtures/v1/<name>-pruned-dc.npz --bits fc1=3,fc=4`` (LeNet-300-100) or ``conv=5,fc=4``
(LeNet-5) ``--finetune-epochs 0``), frozen losslessly as the version 1 files
``data/fixtures/v1/<name>-quantised.tcz`` so that a change to the quantiser cannot move the
comparison; ``--requantize`` quantises the pruned fixtures again with today's code instead.
Each model is written in version 1 and in version 2 with its small tensors (biases) as fp32,
fp16 and int8 (:mod:`tinycompress.coding.small_tensors`), with the meta the ``encode`` command
writes, and every file is decoded and evaluated on the MNIST test set. Printed:

1. bytes, ratio (float32 bytes over file bytes) and test error of each file; the targets:
   at least 80x (LeNet-300-100) and 76x (LeNet-5) with the test error within 0.03 points of
   version 1's (the small-tensor precision that does it is named);
2. per tensor: the coder each version chose and its bits per kept weight;
3. the arithmetic coder against its ideal: every coded stream's bytes beside the adaptive code
   length of its own model (:func:`tinycompress.coding.arith.ideal_bits`); target: within 1%
   plus a few bytes;
4. decoding the whole LeNet-5 file (CPU time, one core; target under 1 s), and the decoders
   on LeNet-5's ``fc1/W`` in MB/s of coded input: readable and fast arithmetic decoders,
   bit-by-bit and table-driven Huffman on version 1's streams of the same tensor.

Times are the best of ``--repeat`` runs of ``time.process_time``; the load average is printed
because the machine may be shared. Run: ``python bench/bench_arith.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tinycompress.coding import (
    accounting,
    arith,
    contexts,
    contexts_fast,
    huffman,
    huffman_fast,
    sections,
    tcz,
)
from tinycompress.coding.arith_section import stream_of
from tinycompress.coding.relative_index import encode_relative
from tinycompress.nn.architecture import state_arrays
from tinycompress.nn.data import data_dir, load_arrays, normalization_of
from tinycompress.nn.model import Sequential
from tinycompress.nn.train import evaluate
from tinycompress.zoo import resolve_model

MODELS = {"lenet-300-100": ("fc1=3,fc=4", 80.0), "lenet5": ("conv=5,fc=4", 76.0)}
"""Each model's quantisation and target ratio."""

MAX_ERROR_CHANGE = 0.0003
"""The test error may move by 0.03 points at most."""


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def _weights(name: str, requantize: bool) -> tuple[Sequential, dict[str, Any]]:
    """The quantised model and the meta ``encode`` would write for it."""
    folder = data_dir() / "fixtures" / "v1"
    if requantize:
        from tinycompress.quantization import trained

        model, meta = resolve_model(str(folder / f"{name}-pruned-dc.npz"))
        trained.quantize_model(model, MODELS[name][0], init="linear", rng=0)
        frozen = tcz.from_bytes((folder / f"{name}-quantised.tcz").read_bytes())[0]
        same = all(a.tobytes() == b.tobytes() for a, b in zip(
            state_arrays(model).values(), state_arrays(frozen).values(), strict=True))
        print(f"{name}: quantised again, {'equal to' if same else 'DIFFERENT from'} the fixture")
    else:
        model, meta = tcz.from_bytes((folder / f"{name}-quantised.tcz").read_bytes())
    return model, {"normalization": meta["normalization"], "source": f"{name}-q.npz"}


def files(name: str, model: Sequential, meta: dict[str, Any]) -> dict[str, bytes]:
    """Version 1, and version 2 with each small-tensor precision, of the same weights."""
    out = {"v1": tcz.to_bytes(model, meta=meta, version=1)}
    for small in ("fp32", "fp16", "int8"):
        out[f"v2 {small}"] = tcz.checked_bytes(model, meta=meta, small=small)
    return out


def sizes_table(name: str, blobs: dict[str, bytes], dense: int) -> bool:
    """Bytes, ratio and test error of each file; whether the model's target is met."""
    model, meta = tcz.from_bytes(blobs["v1"])
    X, y = load_arrays("test", norm=normalization_of(meta))
    base = evaluate(model, X, y)["error"]
    target, met = MODELS[name][1], []
    print(f"\n{name}: {'file':>8s} {'bytes':>7s} {'ratio':>7s} {'test error':>10s} {'change':>7s}")
    for label, blob in blobs.items():
        error = evaluate(tcz.from_bytes(blob)[0], X, y)["error"]
        ratio = dense / len(blob)
        ok = label != "v1" and ratio >= target and abs(error - base) <= MAX_ERROR_CHANGE + 1e-12
        met += [label] if ok else []
        print(f"{'':14s} {label:>8s} {len(blob):7,d} {ratio:6.1f}x {error:10.2%} "
              f"{100 * (error - base):+6.2f}{'  meets the target' if ok else ''}")
    print(f"{'':14s} target >= {target:.0f}x: {'PASS (' + ', '.join(met) + ')' if met else 'FAIL'}")
    return bool(met)


def tensors_table(blobs: dict[str, bytes]) -> None:
    rows = {label: accounting.inspect_bytes(blob)["tensors"] for label, blob in blobs.items()}
    labels = list(rows)
    print(f"{'tensor':>14s} " + " ".join(f"{lab + ' coder':>13s} {'b/kept':>6s}" for lab in labels))
    for i, t in enumerate(rows["v1"]):
        cells = " ".join(f"{rows[lab][i]['coder']:>13s} {rows[lab][i]['bits_per_kept']:6.2f}"
                         for lab in labels)
        print(f"{t['name']:>14s} {cells}")


def _decisions(rec: tcz.TensorRecord) -> tuple[np.ndarray, np.ndarray, contexts.ContextLayout]:
    """The decisions an ``"a"`` section codes, rebuilt from its decoded tensor."""
    desc, flat_all = rec.desc, sections.bit_patterns(rec.array)
    order, neighbours = contexts.peek_flags(stream_of(rec.section, desc))
    flat = contexts.scanned(flat_all.reshape(rec.array.shape), order)
    kept = np.flatnonzero(flat)
    c = desc["c"]
    lay = contexts.ContextLayout(flat.size, max(c - 1, 0).bit_length())
    book = np.frombuffer(rec.section[: 4 * c], "<u4")
    indices = np.searchsorted(book.view(np.float32), flat[kept].view(np.float32)) if c else None
    negatives = int(np.count_nonzero(book >> 31))
    ctx, bits = contexts_fast.binarise(np.diff(kept, prepend=-1) - 1, indices, lay, negatives,
                                       order, neighbours)
    return ctx, bits, lay


def ideal_table(blobs: dict[str, bytes]) -> bool:
    """Every arithmetic-coded stream against its ideal; whether all are within 1% + 4 bytes."""
    ok = True
    for label, blob in blobs.items():
        for rec in tcz.read_records(blob)[2]:
            if rec.desc["k"] != "a" or label != "v2 fp32":
                continue
            ctx, bits, lay = _decisions(rec)
            ideal = arith.ideal_bits(zip(ctx.tolist(), bits.tolist(), strict=True), lay.total) / 8
            got = len(stream_of(rec.section, rec.desc))
            ok &= got <= 1.01 * ideal + 4
            print(f"{rec.name:>14s} {ctx.size:9,d} decisions  stream {got:6,d} B  ideal "
                  f"{ideal:9.1f} B  overhead {got - ideal:+5.1f} B ({got / ideal - 1:+.3%})")
    return ok


def speed_table(blobs: dict[str, bytes], repeat: int) -> bool:
    """Whole-file decoding and the decoders' MB/s on LeNet-5's fc1/W; whether under 1 s."""
    t1, _ = _best(lambda: tcz.from_bytes(blobs["v1"]), repeat)
    t2, _ = _best(lambda: tcz.from_bytes(blobs["v2 int8"]), repeat)
    print(f"decode the whole file: version 1 {t1:.3f} s, version 2 {t2:.3f} s "
          f"(target < 1 s: {'PASS' if t2 < 1 else 'FAIL'})")
    rec = next(r for r in tcz.read_records(blobs["v2 fp32"])[2] if r.name == "fc1/W")
    _, _, lay = _decisions(rec)
    stream, c, n = stream_of(rec.section, rec.desc), rec.desc["c"], rec.desc["n"]
    negatives = int(np.count_nonzero(np.frombuffer(rec.section[: 4 * c], "<u4") >> 31))
    rows = []
    want = np.flatnonzero(contexts.scanned(sections.bit_patterns(rec.array).reshape(
        rec.array.shape), contexts.peek_flags(stream)[0]))
    for what, fn, reps in (("arith readable", contexts.decode_readable, 1),
                           ("arith fast", contexts_fast.decode_entries, repeat)):
        t, out = _best(lambda f=fn: f(stream, n, lay, c, negatives), reps)
        assert np.array_equal(out[0], want)
        rows.append((what, len(stream), n, t))
    rows += _huffman_rows(next(r for r in tcz.read_records(blobs["v1"])[2]
                               if r.name == "fc1/W"), repeat)
    print(f"{'LeNet-5 fc1/W':>24s} {'bytes':>7s} {'entries':>8s} {'s':>8s} {'MB/s in':>8s} "
          f"{'M entries/s':>11s}")
    for what, size, entries, t in rows:
        print(f"{what:>24s} {size:7,d} {entries:8,d} {t:8.4f} {size / t / 1e6:8.3f} "
              f"{entries / t / 1e6:11.3f}")
    fast, slow = rows[1][3], rows[0][3]
    print(f"fast arithmetic decoder: {slow / fast:.1f}x the readable one")
    return t2 < 1


def _huffman_rows(rec: tcz.TensorRecord, repeat: int) -> list[tuple[str, int, int, float]]:
    """Version 1's Huffman-coded gap and index streams of ``rec`` (its gap width), decoded
    bit by bit and by the table-driven decoder."""
    rel = encode_relative(sections.bit_patterns(rec.array), rec.desc["b"])
    rows = []
    for key, symbols in (("gaps", rel.gaps), ("indices", np.unique(
            rel.values, return_inverse=True)[1].reshape(-1))):
        code = huffman.HuffmanCode.from_counts(np.bincount(symbols))
        data, nbits = huffman.encode(symbols, code)
        args = (data, nbits, symbols.size, code)  # the fast decoder with its default table
        for what, fn, reps in ((f"huffman bitwise ({key})", huffman.decode_bitwise, 1),
                               (f"huffman fast ({key})", huffman_fast.decode, repeat)):
            t, out = _best(lambda f=fn, a=args: f(*a), reps)
            assert np.array_equal(out, symbols)
            rows.append((what, len(data), symbols.size, t))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best kept)")
    parser.add_argument("--requantize", action="store_true",
                        help="quantise the pruned fixtures with today's code (default: the "
                             "frozen quantised fixtures)")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    ok = True
    for name in MODELS:
        model, meta = _weights(name, args.requantize)
        blobs = files(name, model, meta)
        ok &= sizes_table(name, blobs, 4 * model.num_params())
        tensors_table(blobs)
        print("arithmetic coder against its ideal (v2 fp32):")
        ok &= ideal_table(blobs)
        if name == "lenet5":
            ok &= speed_table(blobs, args.repeat)
    print(f"\nall targets: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
