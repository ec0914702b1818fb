"""Forged ``.tcz`` files: the shipped files parsed, one field or section changed, and written
again with valid checksums, as an attacker would; and what the reader makes of each.

A :class:`Case` is one forged file and what a correct reader must do with it: refuse it with a
:class:`FormatError` (``"error"``), decode it to exactly the shipped weights (``"equal"``), or
either (``"any"``: a removed config key whose constructor default may equal it, say).
:func:`.forge_cases.corpus` builds them all from the sources of :data:`SHIPPED`: the two
shipped files of version 1 (kept as fixtures) and their weights written again in version 2,
with float16 and 8-bit small tensors:

- every field of the manifest but the free-form meta, given a value of every other JSON type
  (:func:`typed_variants`: an int becomes a float, a string, a bool, null, -1, 2**64, a list,
  an object), every object given an unknown key and deprived of each of its keys
  (:func:`.forge_cases.structural`);
- hand-picked changes of the file's bytes, header, zlib stream, JSON text, meta, architecture,
  tensor entries and sections (:func:`.forge_cases.targeted`).

:func:`outcome` decodes one and names the result: ``error`` (one line of at most
:data:`MAX_MESSAGE` characters), ``equal``, ``different`` (a silent mis-decode: a failure
unless the case expects ``decodes``), or a failure: ``misshapen`` (a model of other tensors),
``bad message`` or ``crash`` (any other exception). Run ``python -m tests.coding.forge
--report`` for the corpus counts, ``--check`` to decode it and a Hypothesis batch of typed
mutations under a memory ceiling (``RLIMIT_AS``) and a time limit, as the tests do.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import struct
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from tinycompress.coding import layout, tcz
from tinycompress.errors import FormatError
from tinycompress.nn.architecture import state_arrays
from tinycompress.nn.data import data_dir

V1_SOURCES = ("lenet-300-100", "lenet5")
"""The version 1 files the corpus is forged from: the shipped files of version 1, kept as
fixtures (``data/fixtures/v1/<name>.tcz``)."""

V2_SOURCES = {"lenet-300-100@v2-fp16": ("lenet-300-100", "fp16"),
              "lenet5@v2-int8": ("lenet5", "int8")}
"""Version 2 files forged from: the weights of a version 1 fixture written again (small
tensors as float16 or 8-bit), ``name -> (fixture, small)``."""

SHIPPED = (*V1_SOURCES, *V2_SOURCES)
"""Every source file of the corpus."""

MAX_MESSAGE = 400
"""The longest error message a forged file may produce (the CLI's one line)."""

CEILING_MB = 200
"""Memory a decode may take beyond what the process held before it (the models are 1-2 MB)."""

TIME_LIMIT_S = 5.0
"""The longest any one forged file may take to decode or be refused."""

DTYPE_NAMES = ("int32", ">f4", "S128", "object", "bool", "complex64", "float64", "float16",
               "<f4", "f4", "float32")
"""Layer ``dtype`` strings a forger might write; only ``float32`` is the format's."""

Path_ = tuple[str | int, ...]
"""Where a field is in the manifest: keys and list indices from the top."""


@dataclass(frozen=True)
class Case:
    """One forged file: the shipped file it came from, the part of the file forged, what was
    changed, its bytes, and what a correct reader must do: ``"error"``, ``"equal"`` or
    ``"any"`` (either)."""

    source: str
    part: str
    what: str
    blob: bytes
    expect: str

    @property
    def name(self) -> str:
        return f"{self.source}: {self.what}"


@dataclass(frozen=True)
class Original:
    """A source file taken apart: its manifest, its sections, the weights it decodes to, and
    its format version."""

    name: str
    doc: dict[str, Any]
    sections: list[bytes]
    arrays: list[np.ndarray]
    version: int = 1


def split(blob: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """A ``.tcz`` file's manifest and sections, by the documented layout of its version (not
    the library's reader)."""
    if blob[4] == 1:
        _, _, mlen, _ = struct.unpack_from("<4sBII", blob)
        doc, pos, crc = json.loads(zlib.decompress(blob[13 : 13 + mlen])), 13 + mlen, 4
    else:
        mlen, pos, shift = 0, 9, 0
        while True:
            mlen |= (blob[pos] & 0x7F) << shift
            pos, shift = pos + 1, shift + 7
            if not blob[pos - 1] & 0x80:
                break
        inflater = zlib.decompressobj(-15, zdict=layout.DICTIONARY)
        doc, pos, crc = json.loads(inflater.decompress(blob[pos : pos + mlen])), pos + mlen, 0
    sections = []
    for entry in doc["t"]:
        sections.append(blob[pos : pos + entry["z"]])
        pos += entry["z"] + crc
    return doc, sections


def serialise(doc: Any, sections: list[bytes], *, text: bytes | None = None,
              manifest: bytes | None = None, tail: bytes = b"", version: int = 1) -> bytes:
    """A file of ``version`` with valid checksums: the manifest from ``doc`` (or the JSON
    ``text``, or the stored ``manifest`` bytes as they are), the sections, then ``tail``."""
    if text is None:
        text = json.dumps(doc).encode()
    if version == 1:
        manifest = zlib.compress(text, 1) if manifest is None else manifest
        head = struct.pack("<4sBII", tcz.MAGIC, 1, len(manifest), zlib.crc32(manifest))
        return head + manifest + b"".join(
            s + struct.pack("<I", zlib.crc32(s)) for s in sections) + tail
    if manifest is None:
        packer = zlib.compressobj(1, zlib.DEFLATED, -15, zdict=layout.DICTIONARY)
        manifest = packer.compress(text) + packer.flush()
    body = layout.leb128(len(manifest)) + manifest + b"".join(sections) + tail
    return tcz.MAGIC + bytes([version]) + struct.pack("<I", zlib.crc32(body)) + body


def fixture(name: str) -> bytes:
    """The bytes of the version 1 fixture ``name`` (``data/fixtures/v1/<name>.tcz``)."""
    return (data_dir() / "fixtures" / "v1" / f"{name}.tcz").read_bytes()


def source_bytes(name: str) -> bytes:
    """The source file ``name`` of :data:`SHIPPED`: a fixture, or one written again."""
    if name in V1_SOURCES:
        return fixture(name)
    base, small = V2_SOURCES[name]
    model, meta = tcz.from_bytes(fixture(base))
    return tcz.to_bytes(model, meta=meta, small=small)


@cache
def original(name: str) -> Original:
    """The source file ``name``, taken apart, with the weights the reader gives it."""
    blob = source_bytes(name)
    doc, sections = split(blob)
    arrays = list(state_arrays(tcz.from_bytes(blob)[0]).values())
    return Original(name, doc, sections, arrays, blob[4])


# --- fields and their typed variants -----------------------------------------------------------
def fields(doc: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Every field of ``doc`` (containers and leaves) with its path, but meta's free-form
    contents (the meta object itself is a field)."""
    yield path, doc
    if path == ("meta",):
        return
    if isinstance(doc, dict | list):
        for key, value in doc.items() if isinstance(doc, dict) else enumerate(doc):
            yield from fields(value, (*path, key))


def typed_variants(value: Any) -> list[Any]:
    """Values of every other JSON type to put in a field holding ``value``."""
    others: list[Any] = ["x", True, None, [], {"x": 1}, 1.5]
    if type(value) is int:
        return [float(value), str(value), True, None, -1, 2**64, [value], {}]
    if isinstance(value, str):
        return [5, None, True, "", "x" * 1000, "a\nb", [value], {value: 1}]
    if isinstance(value, bool):
        return [int(value), str(value).lower(), None, [value]]
    if isinstance(value, list):
        return [dict(enumerate(value)), "x", None, 5, []] if value else others
    return [[value], "x", None, 5, 1.5] if isinstance(value, dict) else others


def replaced(doc: Any, path: Path_, value: Any) -> Any:
    """``doc`` with the field at ``path`` set to ``value`` (the root if ``()``): the objects and
    lists along the path are copied, everything else is shared (and never changed)."""
    if not path:
        return value
    out = copy.copy(doc)
    out[path[0]] = replaced(doc[path[0]], path[1:], value) if path[1:] else value
    return out


def removed(doc: Any, path: Path_) -> Any:
    """``doc`` without the key (or list item) at ``path``, copied along the path only."""
    out = copy.copy(doc)
    if len(path) == 1:
        del out[path[0]]
    else:
        out[path[0]] = removed(doc[path[0]], path[1:])
    return out


def field_name(path: Path_) -> str:
    """``manifest.t[3].z`` for ``("t", 3, "z")``."""
    return "manifest" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path)


def expectation(path: Path_, old: Any, new: Any) -> str:
    """What a reader must do with ``new`` in the field at ``path`` that held ``old``: a value of
    another JSON type is refused (but a pooling stride may be null: its kernel size), any other
    may happen to be valid; another exponent of an 8-bit tensor (``t[i].e``) is a valid file
    of other values."""
    if new is None and path[-1] == "stride":
        return "any"
    if type(new) is not type(old) or new in ("", [], {}):
        return "error"
    return "decodes" if path[:1] == ("t",) and path[-1] == "e" else "any"


# --- decoding ---------------------------------------------------------------------------------
def outcome(blob: bytes, reference: list[np.ndarray]) -> tuple[str, str]:
    """What the reader makes of ``blob``: ``(kind, detail)``; kind is ``error``, ``equal``,
    ``different``, ``misshapen``, ``bad message`` or ``crash``."""
    try:
        model, _ = tcz.from_bytes(blob)
    except FormatError as exc:
        message = str(exc)
        if len(message) > MAX_MESSAGE or not message.isprintable():
            return "bad message", f"{len(message)} characters: {message[:200]!r}"
        return "error", message
    except Exception as exc:  # noqa: BLE001 - any other exception is the failure we look for
        return "crash", f"{type(exc).__name__}: {str(exc)[:200]!r}"
    got = list(state_arrays(model).values())
    if len(got) != len(reference) or any(a.dtype != b.dtype or a.shape != b.shape
                                         for a, b in zip(got, reference, strict=True)):
        return "misshapen", "a model of other tensors"
    same = all(a.tobytes() == b.tobytes() for a, b in zip(got, reference, strict=True))
    return ("equal" if same else "different"), ""


def allowed(expect: str) -> tuple[str, ...]:
    """The outcomes a case expecting ``expect`` may have; ``"decodes"`` (a value of a section
    or a scale changed, checksums recomputed: no format can tell it from a true file) allows a
    different model of the same shapes too."""
    return {"error": ("error",), "equal": ("equal",), "any": ("error", "equal"),
            "decodes": ("error", "equal", "different")}[expect]


def run(cases: list[Case]) -> dict[str, Any]:
    """Decode every case: counts of outcomes and of failures (outcomes the case does not allow),
    the first failures, and the slowest case's time."""
    references = {name: original(name).arrays for name in SHIPPED}
    outcomes: Counter[str] = Counter()
    failures, slowest = [], 0.0
    for case in cases:
        start = time.perf_counter()
        kind, detail = outcome(case.blob, references[case.source])
        slowest = max(slowest, time.perf_counter() - start)
        outcomes[kind] += 1
        if kind not in allowed(case.expect):
            failures.append(f"{case.name} (expected {case.expect}): {kind} {detail}")
    return {"files": len(SHIPPED), "cases": len(cases),
            "parts": dict(Counter(c.part for c in cases)),
            "expected": dict(Counter(c.expect for c in cases)), "outcomes": dict(outcomes),
            "failures": len(failures), "first_failures": failures[:20],
            "slowest_s": round(slowest, 3)}


def _ceiling(extra_mb: int) -> int:
    """Cap this process's address space at what it maps now plus ``extra_mb``; the cap."""
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) for line in f if line.startswith("VmSize:")) * 1024
    limit = vm + (extra_mb << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return limit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="decode the corpus, print counts")
    parser.add_argument("--check", action="store_true", help="as --report, under a memory "
                        "ceiling, then a batch of Hypothesis examples")
    parser.add_argument("--ceiling-mb", type=int, default=CEILING_MB)
    parser.add_argument("--examples", type=int, default=100, help="Hypothesis examples")
    args = parser.parse_args(argv)
    if args.check and os.environ.get("MALLOC_ARENA_MAX") != "1":
        parser.error("--check needs MALLOC_ARENA_MAX=1 in the environment: glibc otherwise "
                     "reserves 64 MB of address space per thread, which RLIMIT_AS counts")
    # the modules that build on this one, imported (like the corpus made) before the ceiling
    from .forge_cases import corpus
    from .forge_property import property_batch

    cases = corpus()
    summary: dict[str, Any] = {}
    if args.check:
        # Hypothesis builds its character tables on first use (cached in memory, and on disk in
        # .hypothesis/ of the checkout): that is the generator's memory, not the decoder's, so
        # it is spent before the ceiling.
        property_batch(1)
        summary["ceiling_mb"] = args.ceiling_mb
        summary["address_space_limit"] = _ceiling(args.ceiling_mb)
    summary.update(run(cases))
    if args.check:
        start = time.perf_counter()
        summary["hypothesis"] = property_batch(args.examples)
        summary["hypothesis_s"] = round(time.perf_counter() - start, 1)
    print(json.dumps(summary, indent=1))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
