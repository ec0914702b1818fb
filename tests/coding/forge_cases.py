"""The corpus of forged files (:func:`corpus`), built with the tools of :mod:`.forge`: for each
source file, :func:`structural` (every field by type, every object's keys) and :func:`targeted`
(the bytes, the header, the manifest's stream, the JSON text, meta, the architecture, the
tensor entries and the sections, by hand; version 2's own in :mod:`.forge_cases_v2`)."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinycompress.coding import bitio, layout
from tinycompress.nn.architecture import MAX_LAYERS

from .forge import (
    DTYPE_NAMES,
    SHIPPED,
    Case,
    Original,
    expectation,
    field_name,
    fields,
    original,
    removed,
    replaced,
    serialise,
    typed_variants,
)
from .forge_cases_v2 import entries_v2, header_v2, sections_v2

_NAN, _NEG_INF, _NEG_NAN = b"\x00\x00\xc0\x7f", b"\x00\x00\x80\xff", b"\x00\x00\xc0\xff"
_OPTIONAL_LAYERS = ("ReLU", "Dropout")  # removing one leaves every tensor's shape
_SAME: Any = object()  # the original manifest (None is a forged one: JSON null)


def corpus() -> list[Case]:
    """Every forged file of both shipped files."""
    cases = []
    for name in SHIPPED:
        source = original(name)
        cases += [*structural(source), *targeted(source)]
    return cases


class Forger:
    """Cases forged from one original, in one part of the file:
    ``case(what, expect, doc=..., sections=..., ...)``."""

    def __init__(self, src: Original, part: str) -> None:
        self.src, self.part = src, part

    def case(self, what: str, expect: str, doc: Any = _SAME, sections: list[bytes] | None = None,
             **parts: Any) -> Case:
        doc = self.src.doc if doc is _SAME else doc
        sections = self.src.sections if sections is None else sections
        blob = serialise(doc, sections, version=self.src.version, **parts)
        return Case(self.src.name, self.part, what, blob, expect)

    def entry(self, i: int, **changes: Any) -> dict[str, Any]:
        """The manifest with ``t[i]`` updated by ``changes`` (a value None removes the key)."""
        doc = replaced(self.src.doc, ("t", i), {**self.src.doc["t"][i], **changes})
        doc["t"][i] = {k: v for k, v in doc["t"][i].items() if v is not None}
        return doc

    def section(self, i: int, data: bytes) -> list[bytes]:
        return [data if j == i else s for j, s in enumerate(self.src.sections)]


def forged_fields(src: Original) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """The fields :func:`structural` forges: every one in version 1; in version 2, whose
    architecture and meta the same schema checks, all but those inside ``arch`` and ``meta``."""
    for path, value in fields(src.doc):
        if src.version == 1 or path[:1] not in (("arch",), ("meta",)) or len(path) == 1:
            yield path, value


def structural(src: Original) -> Iterator[Case]:
    """Every field (:func:`forged_fields`) given a value of every other type; every object an
    unknown key and each of its keys removed; every layer and tensor entry removed."""
    forge, doc = Forger(src, "every field by type, every key"), src.doc
    for path, value in forged_fields(src):
        for new in typed_variants(value):
            expect = expectation(path, value, new) if path else "error"
            yield forge.case(f"{field_name(path)} = {new!r:.40}", expect, replaced(doc, path, new))
        if isinstance(value, dict):
            yield forge.case(f"{field_name(path)} has an unknown key", "equal" if path == ("meta",)
                             else "error", replaced(doc, (*path, "zz"), 1))
            for key in value:
                yield forge.case(f"{field_name((*path, key))} removed", _removal(path, key),
                                 removed(doc, (*path, key)))
    for i, spec in enumerate(doc["arch"]["layers"]):
        yield forge.case(f"layer {i} removed", "any" if spec["type"] in _OPTIONAL_LAYERS
                         else "error", removed(doc, ("arch", "layers", i)))
    for i in range(len(doc["t"])):
        yield forge.case(f"t[{i}] removed", "error", removed(doc, ("t", i)),
                         src.sections[:i] + src.sections[i + 1 :])


def _removal(path: tuple[str | int, ...], key: str) -> str:
    """What removing ``key`` from the object at ``path`` must give: meta may go; a layer
    config's keys with constructor defaults may (and may equal them); nothing else."""
    if path == () and key == "meta" or path == ("meta",):
        return "equal"
    return "any" if path and path[-1] == "config" and key != "name" else "error"


def targeted(src: Original) -> Iterator[Case]:
    """The hand-picked cases of every part of the file (those of version 2's own header,
    entries and sections in :mod:`.forge_cases_v2`)."""
    if src.version == 1:
        parts = (("bytes, header and text", _bytes_and_text), ("header v1", _header_v1),
                 ("tensor entries", _entries), ("sections", _sections))
    else:
        parts = (("bytes, header and text", _bytes_and_text), ("header v2", header_v2),
                 ("tensor entries", entries_v2), ("sections", sections_v2))
    for part, cases in (*parts, ("meta", _meta), ("architecture", _architecture)):
        yield from cases(Forger(src, part))


def deflated(text: bytes, version: int) -> bytes:
    """``text`` stored as a manifest of ``version``: zlib, or raw DEFLATE with the dictionary."""
    if version == 1:
        return zlib.compress(text)
    packer = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=layout.DICTIONARY)
    return packer.compress(text) + packer.flush()


def _bytes_and_text(forge: Forger) -> Iterator[Case]:
    doc, sections, version = forge.src.doc, forge.src.sections, forge.src.version
    text = json.dumps(doc).encode()
    packed = deflated(text, version)
    yield forge.case("one byte after the last section", "error", tail=b"\x00")
    extra = b"\x00" * 4
    yield forge.case("an extra section after the last", "error",
                     tail=extra + struct.pack("<I", zlib.crc32(extra)))
    yield _raw(forge, "last byte missing", serialise(doc, sections, version=version)[:-1])
    yield forge.case("junk after the manifest's stream", "error", manifest=packed + b"junk")
    yield forge.case("the manifest's stream cut short", "error", manifest=packed[:-4])
    yield forge.case("the manifest stored without compression", "error", manifest=text)
    other = deflated(text, 3 - version)
    yield forge.case("the manifest compressed as the other version does", "error",
                     manifest=other)
    yield forge.case("the manifest not UTF-8", "error", text=b"\xff" + text)
    yield forge.case("the manifest not JSON", "error", text=b"[1, 2")
    yield forge.case("a key repeated", "error", text=b'{"t": [], ' + text[1:])
    yield forge.case("a zlib bomb (2 MiB of spaces)", "error", text=text + b" " * (2 << 20))
    in_meta = json.dumps(replaced(doc, ("meta", "zz"), "HERE")).encode()
    for what, value in (("arrays nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000),
                        ("a 5,000-digit integer", b"1" + b"0" * 5000)):
        yield forge.case(f"meta.zz: {what}", "error", text=in_meta.replace(b'"HERE"', value))


def _header_v1(forge: Forger) -> Iterator[Case]:
    head = serialise(forge.src.doc, forge.src.sections, version=1)
    for what, offset, value in (("magic", 0, b"PK\x03\x04"), ("version 2", 4, b"\x02"),
                                ("version 3", 4, b"\x03"),
                                ("manifest length 2**32 - 1", 5, b"\xff" * 4),
                                ("manifest CRC", 9, b"\x00" * 4)):
        yield _raw(forge, f"header: {what}", head[:offset] + value + head[offset + len(value):])
    yield _raw(forge, "a section's CRC", head[:-4] + bytes(4))


def _raw(forge: Forger, what: str, blob: bytes) -> Case:
    return Case(forge.src.name, forge.part, what, blob, "error")


def _meta(forge: Forger) -> Iterator[Case]:
    doc = forge.src.doc
    norm = doc["meta"]["normalization"]
    yield forge.case("meta removed", "equal", removed(doc, ("meta",)))
    yield forge.case("meta empty", "equal", replaced(doc, ("meta",), {}))
    yield forge.case("meta.source = 5", "equal", replaced(doc, ("meta", "source"), 5))
    text = json.dumps(doc).encode()
    std = json.dumps(norm["std"]).encode()
    for literal in (b"NaN", b"Infinity", b"1e999"):
        yield forge.case(f"meta.normalization.std = {literal.decode()}", "error",
                         text=text.replace(std, literal))
    valid: list[Any] = [None, {"mean": 0, "std": 1}]
    for value in valid:
        yield forge.case(f"meta.normalization = {value}", "equal",
                         replaced(doc, ("meta", "normalization"), value))
    bad: list[Any] = [[norm["mean"], norm["std"]], "x", {}, 5, {"mean": norm["mean"]},
                      {**norm, "zz": 1}]
    bad += [{**norm, key: v} for key in ("mean", "std")
            for v in (str(norm[key]), True, None, [norm[key]], 1e39)]
    bad += [{**norm, "std": v} for v in (0, 0.0, -norm["std"], 1e-50)]
    for value in bad:
        yield forge.case(f"meta.normalization = {value!r:.60}", "error",
                         replaced(doc, ("meta", "normalization"), value))


def _layer_path(doc: dict[str, Any], kind: str) -> tuple[str | int, ...]:
    """The config of the first layer of type ``kind``."""
    i = next(i for i, s in enumerate(doc["arch"]["layers"]) if s["type"] == kind)
    return ("arch", "layers", i, "config")


def _architecture(forge: Forger) -> Iterator[Case]:
    doc = forge.src.doc
    layers = doc["arch"]["layers"]
    relus = [{"type": "ReLU", "config": {"name": f"extra{i}"}} for i in range(MAX_LAYERS)]
    yield forge.case(f"{MAX_LAYERS} more layers", "error", replaced(doc, ("arch", "layers"),
                                                                   layers + relus))
    clash = [{"type": "ReLU", "config": {"name": layers[0]["config"]["name"]}}] * 900
    yield forge.case("900 layers of one name", "error",
                     replaced(doc, ("arch", "layers"), layers + clash))
    for kind in ("_Pool", "Layer", "Sequential", "Nope", "dense", "dense\n"):
        yield forge.case(f"layer type {kind!r}", "error",
                         replaced(doc, ("arch", "layers", 0, "type"), kind))
    first = _layer_path(doc, "Dense" if layers[0]["type"] == "Flatten" else "Conv2D")
    for dtype in DTYPE_NAMES:
        yield forge.case(f"dtype {dtype!r}", "equal" if dtype == "float32" else "error",
                         replaced(doc, (*first, "dtype"), dtype))
    yield forge.case("a layer renamed", "equal", replaced(doc, (*first, "name"), "renamed"))
    for name in ("a/b", "x" * 101, "fc\n1", "\x1b[31m"):
        yield forge.case(f"a layer named {name!r:.20}", "error",
                         replaced(doc, (*first, "name"), name))
    if layers[0]["type"] == "Flatten":  # LeNet-300-100
        fc1, fc2 = _layer_path(doc, "Dense"), ("arch", "layers", 3, "config")
        yield forge.case("input_shape [784]", "equal", replaced(doc, ("arch", "input_shape"),
                                                                [784]))
        for width, what in ((10**6, "10^6: over the parameter cap"), (30_000, "30,000")):
            grown = replaced(replaced(doc, (*fc1, "out_features"), width),
                             (*fc2, "in_features"), width)
            yield forge.case(f"fc1 and fc2 {what} wide, consistently", "error", grown)
        return
    conv, pool = _layer_path(doc, "Conv2D"), _layer_path(doc, "MaxPool2D")
    yield forge.case("input_shape [1, 29, 29] (same shapes)", "equal",
                     replaced(doc, ("arch", "input_shape"), [1, 29, 29]))
    for key, value in (("padding", -1), ("padding", -2), ("stride", 0), ("kernel_size", 0),
                       ("bias", False), ("in_channels", 3)):
        yield forge.case(f"conv1 {key} = {value}", "error", replaced(doc, (*conv, key), value))
    for value in (None, 1, 3):
        yield forge.case(f"pool1 stride = {value}", "equal" if value is None else "error",
                         replaced(doc, (*pool, "stride"), value))


def _entries(forge: Forger) -> Iterator[Case]:
    doc, sections = forge.src.doc, forge.src.sections
    entries = doc["t"]
    yield forge.case("t[0] and t[1] swapped", "error",
                     replaced(doc, ("t",), [entries[1], entries[0], *entries[2:]]),
                     [sections[1], sections[0], *sections[2:]])
    yield forge.case("an extra raw entry", "error", replaced(doc, ("t",), [*entries,
                                                                         {"k": "r", "z": 0}]),
                     [*sections, b""])
    raw = next(i for i, e in enumerate(entries) if e["k"] == "r")
    size = entries[raw]["z"] // 4
    yield forge.case(f"t[{raw}] as dense coded without a codebook", "equal",
                     forge.entry(raw, k="d", n=size, c=0))
    i = next(i for i, e in enumerate(entries) if e["k"] == "s")
    entry = entries[i]
    for z in (entry["z"] - 1, entry["z"] + 1):
        section = sections[i][:z] + b"\x00" * (z - len(sections[i]))
        yield forge.case(f"t[{i}].z = {z}, the section to match", "error",
                         forge.entry(i, z=z), forge.section(i, section))
    for key in ("n", "c", "b"):
        for delta in (-1, 1):
            yield forge.case(f"t[{i}].{key} {delta:+d}", _widened(entry, key, delta),
                             forge.entry(i, **{key: entry[key] + delta}))
    for stream in ("v", "g"):
        for key, delta in (*((k, d) for k in entry[stream] for d in (-1, 1)), ("h", 8)):
            if key in entry[stream]:
                changed = {**entry[stream], key: entry[stream][key] + delta}
                yield forge.case(f"t[{i}].{stream}.{key} {delta:+d}",
                                 _widened(entry[stream], key, delta),
                                 forge.entry(i, **{stream: changed}))
        yield forge.case(f"t[{i}].{stream} both fixed and Huffman", "error",
                         forge.entry(i, **{stream: {**entry[stream], "f": 1, "h": 1}}))
    for kind in ("r", "d"):
        yield forge.case(f"t[{i}].k = {kind!r}", "error", forge.entry(i, k=kind))
    yield forge.case(f"t[{i}] without codebook", "error", forge.entry(i, c=0, v=None))


def _widened(obj: dict[str, Any], key: str, delta: int) -> str:
    """A wider gap field ``b`` under a Huffman-coded gap stream, or one more code length that
    the table's padding bits supply (as 0: an unused symbol), may still decode the same."""
    wider = delta == 1 and (key == "b" and "h" in obj["g"] or key == "a")
    return "any" if wider else "error"


def _sections(forge: Forger) -> Iterator[Case]:
    entries, sections = forge.src.doc["t"], forge.src.sections
    i = next(i for i, e in enumerate(entries) if e.get("c", 0) > 1)
    book, c = sections[i], entries[i]["c"]
    last = 4 * (c - 1)
    for what, data in (("first codebook value NaN", _NAN + book[4:]),
                       ("last codebook value -inf (still sorted)", book[:last] + _NEG_INF
                        + book[last + 4:]),
                       ("last codebook value a negative NaN (still sorted)",
                        book[:last] + _NEG_NAN + book[last + 4:]),
                       ("codebook values 0 and 1 swapped", book[4:8] + book[:4] + book[8:]),
                       ("codebook value 1 repeated", book[:4] + book[:4] + book[8:])):
        yield forge.case(f"t[{i}] {what}", "error", sections=forge.section(i, data))
    raw = next(i for i, e in enumerate(entries) if e["k"] == "r")
    for what, value in (("NaN", _NAN), ("-inf", _NEG_INF)):
        yield forge.case(f"t[{raw}] (raw) first value {what}", "error",
                         sections=forge.section(raw, value + sections[raw][4:]))
    huff = next(i for i, e in enumerate(entries) if "h" in e.get("v", {}))
    table = 4 * entries[huff]["c"]
    ones = bitio.pack_fixed(np.ones(entries[huff]["v"]["a"], np.int64), entries[huff]["v"]["w"])[0]
    data = sections[huff][:table] + ones + sections[huff][table + len(ones):]
    yield forge.case(f"t[{huff}] every code length 1 (not a prefix code)", "error",
                     sections=forge.section(huff, data))
    entry = entries[huff]  # its Huffman indices name c values at most: one more goes unused
    unused = sections[huff][:table] + _NEG_NAN + sections[huff][table:]
    yield forge.case(f"t[{huff}] an unused negative NaN after the codebook", "error",
                     forge.entry(huff, c=entry["c"] + 1, z=entry["z"] + 4),
                     forge.section(huff, unused))
