"""The hand-picked forged files of version 2's own parts (:mod:`.forge_cases` has the rest):
its header (one checksum, a LEB128 manifest length), its entries (``"a"``, ``"h"``, ``"q"``)
and its sections (sorted codebooks, arithmetic-coded streams, float16 and 8-bit values)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from tinycompress.coding.layout import leb128

from .forge import Case, serialise

if TYPE_CHECKING:
    from .forge_cases import Forger

_NAN, _POS_INF, _ZERO = b"\x00\x00\xc0\x7f", b"\x00\x00\x80\x7f", b"\x00\x00\x00\x00"


def _v2(forge: Forger, what: str, body: bytes, expect: str = "error") -> Case:
    """A version 2 file of the ``body`` after its checksum, the checksum recomputed."""
    blob = b"\x89TCZ\x02" + struct.pack("<I", zlib.crc32(body)) + body
    return Case(forge.src.name, forge.part, what, blob, expect)


def header_v2(forge: Forger) -> Iterator[Case]:
    blob = serialise(forge.src.doc, forge.src.sections, version=2)
    body = blob[9:]
    length, pos = 0, 0
    while True:  # the manifest length and where the manifest starts
        length |= (body[pos] & 0x7F) << (7 * pos)
        pos += 1
        if not body[pos - 1] & 0x80:
            break
    rest = body[pos:]
    for what, offset, value in (("magic", 0, b"PK\x03\x04"), ("version 1", 4, b"\x01"),
                                ("version 3", 4, b"\x03"), ("checksum zeroed", 5, bytes(4))):
        yield Case(forge.src.name, forge.part, f"header: {what}",
                   blob[:offset] + value + blob[offset + len(value):], "error")
    yield Case(forge.src.name, forge.part, "cut inside the header", blob[:10], "error")
    flipped = bytearray(blob)
    flipped[-1] ^= 0x10
    yield Case(forge.src.name, forge.part, "the last byte flipped (checksum as stored)",
               bytes(flipped), "error")
    for delta in (-1, 1):
        yield _v2(forge, f"manifest length {delta:+d}", leb128(length + delta) + rest)
    padded = bytes([length & 0x7F | 0x80, length >> 7 | 0x80, 0x00])
    yield _v2(forge, "manifest length with a needless zero byte", padded + rest)
    yield _v2(forge, "manifest length in 4 bytes", b"\x80\x80\x80\x01" + rest)
    yield _v2(forge, "manifest length 2**21 - 1", b"\xff\xff\x7f" + rest)
    yield _v2(forge, "manifest length cut", bytes([0x80 | length & 0x7F]))


def _coded(forge: Forger) -> tuple[int, int]:
    """The index of the largest ``"a"`` entry and of the first small-tensor entry."""
    entries = forge.src.doc["t"]
    coded = max((i for i, e in enumerate(entries) if e["k"] == "a"), key=lambda i:
                entries[i]["z"])
    small = next(i for i, e in enumerate(entries) if e["k"] in ("h", "q"))
    return coded, small


def entries_v2(forge: Forger) -> Iterator[Case]:
    doc, sections = forge.src.doc, forge.src.sections
    i, j = _coded(forge)
    entry = doc["t"][i]
    for key, values in (("n", (entry["n"] - 1, entry["n"] + 1, 0, entry["n"] * 2)),
                        ("c", (entry["c"] - 1, entry["c"] + 1, 0))):
        for value in values:
            yield forge.case(f"t[{i}].{key} = {value}", "error", forge.entry(i, **{key: value}))
    for z, section in ((entry["z"] - 1, sections[i][:-1]), (entry["z"] + 1, sections[i] + b"\1"),
                       (entry["z"] + 1, sections[i] + b"\0"), (4 * entry["c"], sections[i][
                           :4 * entry["c"]])):
        yield forge.case(f"t[{i}].z = {z}, the section to match", "error",
                         forge.entry(i, z=z), forge.section(i, section))
    for kind in ("r", "d", "s", "h", "q"):
        yield forge.case(f"t[{i}].k = {kind!r}", "error", forge.entry(i, k=kind))
    for key, value in (("o", 1), ("m", 0), ("b", 4), ("v", {"f": 4})):
        yield forge.case(f"t[{i}] gains {key}", "error", forge.entry(i, **{key: value}))
    small = doc["t"][j]
    yield forge.case(f"t[{j}] ({small['k']}) as raw", "error", forge.entry(j, k="r"))
    if small["k"] == "q":
        for e in (small["e"] - 1, small["e"] + 1):
            yield forge.case(f"t[{j}].e = {e}", "decodes", forge.entry(j, e=e))
        for e in (-150, 122):
            yield forge.case(f"t[{j}].e = {e}", "error", forge.entry(j, e=e))
        yield forge.case(f"t[{j}] without v", "error", forge.entry(j, v=None))
    else:
        yield forge.case(f"t[{j}] (h) gains e", "error", forge.entry(j, e=0))


def _replace(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value):]


def sections_v2(forge: Forger) -> Iterator[Case]:
    doc, sections = forge.src.doc, forge.src.sections
    i, j = _coded(forge)
    sec, c = sections[i], doc["t"][i]["c"]
    book, stream = sec[: 4 * c], sec[4 * c:]
    last = 4 * (c - 1)
    for what, forged in (("first codebook value NaN", _replace(book, 0, _NAN)),
                         ("last codebook value +inf (still sorted)", _replace(book, last,
                                                                              _POS_INF)),
                         ("a codebook value +0.0 (the pruned value)", _replace(book, last, _ZERO)),
                         ("codebook values 0 and 1 swapped", book[4:8] + book[:4] + book[8:]),
                         ("codebook value 1 repeated", book[:4] + book[:4] + book[8:])):
        yield forge.case(f"t[{i}] {what}", "error", sections=forge.section(i, forged + stream))
    yield forge.case(f"t[{i}] stream starting 0xffffffff", "error",
                     sections=forge.section(i, book + b"\xff" * 4 + stream[4:]))
    yield forge.case(f"t[{i}] stream emptied", "error", forge.entry(i, z=len(book)),
                     forge.section(i, book))
    rng = np.random.default_rng(0)
    for k in range(3):
        noise = rng.integers(1, 256, len(stream), dtype=np.uint8).tobytes()
        yield forge.case(f"t[{i}] stream replaced by random bytes ({k})", "decodes",
                         sections=forge.section(i, book + noise))
    for at in (0, len(stream) // 2, len(stream) - 1):
        flipped = _replace(stream, at, bytes([stream[at] ^ 0x01]))
        yield forge.case(f"t[{i}] stream byte {at} flipped", "decodes",
                         sections=forge.section(i, book + flipped))
    yield from _small_sections(forge, j)


def _small_sections(forge: Forger, j: int) -> Iterator[Case]:
    entry, sec = forge.src.doc["t"][j], forge.src.sections[j]
    if entry["k"] == "h":
        for what, value in (("NaN", b"\x00\x7e"), ("+inf", b"\x00\x7c")):
            yield forge.case(f"t[{j}] (fp16) first value {what}", "error",
                             sections=forge.section(j, value + sec[2:]))
        yield forge.case(f"t[{j}] (fp16) first value changed", "decodes",
                         sections=forge.section(j, bytes([sec[0] ^ 1]) + sec[1:]))
    elif "f" in entry["v"]:
        yield forge.case(f"t[{j}] (int8) first symbol 255, past 254", "error",
                         sections=forge.section(j, b"\xff" + sec[1:]))

