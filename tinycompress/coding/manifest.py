"""The schema of the ``.tcz`` manifest: every field checked by type and range before it is used.

The manifest of a ``.tcz`` file (:mod:`.tcz` has the byte layout) is UTF-8 JSON with no key
twice, ``{"arch": <architecture>, "meta": {...}, "t": [entry, ...]}`` (``meta`` may be
missing). Its rules, checked in reading order with the checkers of
:mod:`tinycompress.nn.schema` (an integer is an ``int``, not a float, bool or string):

- ``meta`` (:func:`check_meta`): an object of free-form fields; its ``normalization``, if
  recorded, is ``{"mean": m, "std": s}``, two numbers finite in float32 with ``s > 0``;
- ``t``: a list of at most ``4 * MAX_LAYERS`` entries (no layer has more than 4 tensors),
  each with exactly these keys (:func:`check_entry`), ``alphabet`` being ``c`` for the value
  stream ``v`` and ``2**b`` for the gap stream ``g``:

  ====  ========  ============================================================
  key   kinds     value
  ====  ========  ============================================================
  k     all       ``"r"`` (raw), ``"d"`` (dense coded) or ``"s"`` (sparse coded)
  z     all       the section's bytes: exactly what the other fields imply
  n     d, s      entries: the tensor's size (``d``), at most that (``s``)
  c     d, s      codebook values, ``0..min(n, 65536)``
  v     d, s      the value stream, present exactly when ``c > 0``
  b     s         gap width, ``1..16``
  g     s         the gap stream
  ====  ========  ============================================================

  A stream is ``{"f": w}``, ``w`` exactly the bits of ``alphabet - 1``, or
  ``{"h": bits, "a": lengths, "w": width}`` with ``a`` in ``1..alphabet``, ``w`` in ``1..7``.

  Version 2 adds three kinds (:data:`KINDS`): ``"a"`` arithmetic coded (:mod:`.arith_section`:
  ``n`` kept entries, ``c`` codebook values; ``z`` at least the ``4 c`` codebook bytes, or
  ``4 n`` raw values when ``c = 0``, the rest is the coded stream), and for small tensors
  (:mod:`.small_tensors`) ``"h"`` float16 (``z = 2 size``) and ``"q"`` 8-bit (exponent ``e``
  in :data:`E_RANGE`, the stream ``v`` of symbols ``0..254``);
- ``arch``: :func:`~tinycompress.nn.architecture.build_from_architecture`'s rules (layer
  types, configs, dtypes, at most ``MAX_LAYERS`` layers and ``max_parameters`` values); then
  each entry against the tensor the architecture gives it (:func:`check_sizes`).

Every refusal is one line of :class:`FormatError` naming the field (``manifest.t[3].z``), its
value (escaped and cut by :func:`~tinycompress.errors.shown`) and what is allowed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import FormatError, shown
from ..nn.architecture import MAX_LAYERS, MAX_PARAMETERS
from ..nn.schema import Anything, Field, Int, Items, OneOf, Real, check_object, parse_json
from .bitio import bytes_for

MAX_CODEBOOK = 1 << 16
"""Largest codebook a tensor entry may declare (the encoder stores more values raw)."""

MAX_GAP_BITS = 16
"""The widest gap field ``b`` a file may declare."""

KINDS = {1: ("r", "d", "s"), 2: ("r", "d", "s", "a", "h", "q")}
"""The entry kinds each format version knows."""

E_RANGE = (-149, 121)
"""Exponents ``e`` of a ``"q"`` entry: ``2^-149`` is float32's smallest step, and ``127 2^121``
its largest power-of-two multiple of 127 below the float32 maximum."""

Q_ALPHABET = 255
"""Symbols of a ``"q"`` stream: ``q + 127`` for ``|q| <= 127``."""

ITEM_BYTES = 4
"""Bytes of one stored value: a ``.tcz`` file holds float32 (little-endian) only."""

_F32 = np.finfo(np.float32)
_NORMALIZATION = {"mean": Real(-float(_F32.max), float(_F32.max)),
                  "std": Real(float(_F32.tiny), float(_F32.max))}
_COUNT = Int(0, 1 << 48)  # a byte or bit count, bounded later by the file's own length


def parse(text: bytes, max_parameters: int = MAX_PARAMETERS, version: int = 1
          ) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    """The manifest's JSON text -> ``(arch, meta, entries)``, checked as far as it can be alone.

    ``arch`` is returned as it is, for :func:`~tinycompress.nn.architecture.
    build_from_architecture`; entries may declare at most ``max_parameters`` values each, of
    the kinds of format ``version``.
    """
    doc = check_object(parse_json(text, "the manifest", FormatError),
                       {"arch": Anything(), "meta": Anything(),
                        "t": Items(4 * MAX_LAYERS)},
                       "manifest", FormatError, required=("arch", "t"))
    entries = [check_entry(e, f"manifest.t[{i}]", max_parameters, version)
               for i, e in enumerate(doc["t"])]
    return doc["arch"], check_meta(doc.get("meta", {})), entries


def check_meta(meta: Any) -> dict[str, Any]:
    """``meta`` as a reader returns it: an object whose ``normalization``, if recorded, is two
    numbers finite in float32, ``mean`` and ``std > 0`` (the ``null`` of a model that recorded
    none is dropped)."""
    if not isinstance(meta, dict):
        raise FormatError(f"manifest.meta is {shown(meta)}; expected an object")
    if meta.get("normalization", 0) is None:
        return {k: v for k, v in meta.items() if k != "normalization"}
    if "normalization" in meta:
        norm = check_object(meta["normalization"], _NORMALIZATION, "manifest.meta.normalization",
                            FormatError, required=_NORMALIZATION)
        return {**meta, "normalization": norm}
    return meta


def check_stream(desc: Any, alphabet: int, where: str) -> dict[str, int]:
    """A stream description ``{"f": w}`` or ``{"h", "a", "w"}`` for symbols ``0..alphabet-1``."""
    fields: dict[str, Field]
    if isinstance(desc, dict) and "f" in desc:
        width = max(alphabet - 1, 0).bit_length()
        fields = {"f": Int(width, width)}
    else:
        fields = {"h": _COUNT, "a": Int(1, alphabet), "w": Int(1, 7)}
    return check_object(desc, fields, where, FormatError, required=fields)


def stream_bytes(desc: dict[str, int], n: int) -> int:
    """Bytes of a checked stream of ``n`` symbols: fixed fields, or table then code words."""
    if "f" in desc:
        return bytes_for(n * desc["f"])
    return bytes_for(desc["a"] * desc["w"]) + bytes_for(desc["h"])


def _entry_fields(kind: str, max_parameters: int, version: int
                  ) -> tuple[dict[str, Field], tuple[str, ...]]:
    """The fields of an entry of ``kind`` (one of :data:`KINDS`) and the required ones."""
    fields: dict[str, Field] = {"k": OneOf(KINDS[version]), "z": _COUNT}
    if kind in ("d", "s", "a"):
        fields.update(n=Int(0, max_parameters), c=Int(0, MAX_CODEBOOK))
    if kind in ("d", "s", "q"):
        fields["v"] = Anything()
    if kind == "s":
        fields.update(b=Int(1, MAX_GAP_BITS), g=Anything())
    if kind == "q":
        fields["e"] = Int(*E_RANGE)
    return fields, tuple(k for k in fields if k != "v" or kind == "q")


def check_entry(entry: Any, where: str, max_parameters: int = MAX_PARAMETERS,
                version: int = 1) -> dict[str, Any]:
    """One tensor entry (the field ``where``) of a file of format ``version``: its kind's keys,
    types and ranges, its streams.

    Only what holds whatever the tensor: its size is checked by :func:`check_sizes`.
    """
    if not isinstance(entry, dict):
        raise FormatError(f"{where} is {shown(entry)}; expected an object (a tensor entry)")
    kind = OneOf(KINDS[version]).check(entry.get("k"), f"{where}.k", FormatError)
    fields, required = _entry_fields(kind, max_parameters, version)
    entry = check_object(entry, fields, where, FormatError, required)
    if kind in ("r", "h"):
        return entry
    if kind == "q":
        check_stream(entry["v"], Q_ALPHABET, f"{where}.v")
        return entry
    if kind == "a":
        if entry["c"] > entry["n"]:
            raise FormatError(f"{where}.c is {entry['c']}, more codebook values than the "
                              f"{entry['n']} entries")
        return entry
    n, c = entry["n"], entry["c"]
    if c > n:
        raise FormatError(f"{where}.c is {c}, more codebook values than the {n} entries")
    if (c > 0) != ("v" in entry):
        raise FormatError(f"{where} has c = {c}: it must have a value stream 'v' exactly when "
                          "c > 0")
    if c:
        check_stream(entry["v"], c, f"{where}.v")
    if kind == "s":
        check_stream(entry["g"], 1 << entry["b"], f"{where}.g")
    return entry


def section_bytes(entry: dict[str, Any], size: int) -> int:
    """The bytes a checked entry's section takes for a tensor of ``size`` values."""
    if entry["k"] == "r":
        return ITEM_BYTES * size
    if entry["k"] == "h":
        return 2 * size
    if entry["k"] == "q":
        return stream_bytes(entry["v"], size)
    n, c = entry["n"], entry["c"]
    if entry["k"] == "a":  # the codebook or raw values, then a stream of any length
        return max(entry["z"], ITEM_BYTES * (c or n))
    total = ITEM_BYTES * c + (stream_bytes(entry["v"], n) if c else ITEM_BYTES * n)
    return total + (stream_bytes(entry["g"], n) if entry["k"] == "s" else 0)


def check_sizes(entries: list[dict[str, Any]], expected: dict[str, np.ndarray]) -> list[int]:
    """The section sizes of checked ``entries`` against the ``expected`` tensors, in order."""
    if len(entries) != len(expected):
        raise FormatError(f"manifest.t lists {len(entries)} tensors; the architecture has "
                          f"{len(expected)}")
    sizes = []
    for i, (entry, (name, ref)) in enumerate(zip(entries, expected.items(), strict=True)):
        where, size = f"manifest.t[{i}]", ref.size
        if "n" in entry:
            Int(size if entry["k"] == "d" else 0, size).check(
                entry["n"], f"{where}.n (the tensor {shown(name)})", FormatError)
        want = section_bytes(entry, size)
        if entry["z"] != want:
            raise FormatError(f"{where}.z is {entry['z']}; the tensor {shown(name)} and the "
                              f"entry's fields imply a section of {want} bytes")
        sizes.append(want)
    return sizes
