"""The bytes around the sections of a ``.tcz`` file: header, manifest and checksums, versions 1
and 2.

Version 1 (all integers little-endian)::

    offset  size  field
    0       4     magic b"\\x89TCZ"
    4       1     format version (1)
    5       4     manifest length M (uint32)
    9       4     CRC-32 of the manifest bytes
    13      M     manifest: zlib-compressed compact JSON
    13+M    ...   one section per tensor, in manifest order: its bytes, then their CRC-32

Version 2 keeps the magic and version and spends fewer bytes on the rest (``inspect`` showed
496 and 609 bytes of header and manifest, and 4 per tensor in checksums)::

    offset  size  field
    0       4     magic b"\\x89TCZ"
    4       1     format version (2)
    5       4     CRC-32 of every byte after this field
    9       1-3   manifest length M, unsigned LEB128 (7 bits a byte, low first; at most 3)
    ...     M     manifest: raw DEFLATE of compact JSON, with the preset dictionary
                  :data:`DICTIONARY` (the strings an architecture and manifest repeat)
    ...     ...   one section per tensor, in manifest order, back to back

One checksum covers the file: a forger must recompute it, and the parsers behind it check
every field anyway. :func:`pack` writes either version; :func:`read_header` and
:func:`inflate` read them, refusing with :class:`FormatError` a bad magic, version, length,
checksum or stream.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from ..errors import FormatError
from ..nn.schema import plain

MAGIC = b"\x89TCZ"
VERSION = 2
"""The version :func:`pack` writes by default; :data:`VERSIONS` are read."""

VERSIONS = (1, 2)

MAX_MANIFEST_BYTES = 1 << 20
"""Largest manifest, compressed or inflated (MobileNetV1's inflates to 12 KB): the objects
JSON parses it into stay within some tens of MB."""

HEADER_BYTES = 13
"""Bytes that hold either header in full: version 1's 13, version 2's 10 to 12."""

_V1 = struct.Struct("<4sBII")  # magic, version, manifest length, manifest CRC-32

DICTIONARY = (
    b'"type":"BatchNorm2D","config":{"num_features":,"momentum":0.1,"eps":1e-05,"name":"bn'
    b'"type":"DepthwiseConv2D","config":{"channels":,"kernel_size":3,"stride":1,"padding":1,'
    b'"type":"PointwiseConv2D","config":{"in_channels":,"out_channels":,"bias":false,"name":"pw'
    b'"type":"AvgPool2D","config":{"type":"GlobalAvgPool2D","config":{"type":"Dropout",'
    b'"config":{"p":0.5,"name":"dropout"}},{"type":"MaxPool2D","config":{"kernel_size":2,'
    b'"stride":2,"name":"pool"}},{"type":"Conv2D","config":{"in_channels":1,"out_channels":,'
    b'"kernel_size":5,"stride":1,"padding":0,"bias":true,"name":"conv"}},{"type":"Flatten",'
    b'"config":{"name":"flatten"}},{"type":"ReLU","config":{"name":"relu"}},{"type":"Dense",'
    b'"config":{"in_features":,"out_features":,"name":"fc"}},'
    b'{"arch":{"name":"lenet","input_shape":[1,28,28],"layers":[{'
    b'"meta":{"normalization":{"mean":0.1306604762738429,"std":0.30810780385646264},'
    b'"source":"data/checkpoints/.npz","t":[{"k":"r","z":},{"k":"h","z":},{"k":"q","e":-,'
    b'"v":{"f":8},{"k":"d","n":,"c":,"v":{"h":,"a":,"w":4},{"k":"s","n":,"b":,"g":{"h":,"a":,'
    b'"w":4},"c":,"v":{"h":,"a":,"w":3},"z":},{"k":"a","n":,"c":16,"z":}'
)
"""The preset dictionary of version 2's manifest: DEFLATE may refer back into these bytes
from the manifest's first byte, so the strings every architecture repeats cost a few bits.
Part of the format: changing it is a new version."""


@dataclass(frozen=True)
class Header:
    """A checked header: the version, the manifest's offset and length, and the stored CRC-32
    (of the manifest in version 1, of the file after the checksum in version 2)."""

    version: int
    start: int
    length: int
    crc: int

    @property
    def end(self) -> int:
        """Where the manifest ends and the first section starts."""
        return self.start + self.length

    @property
    def section_crc_bytes(self) -> int:
        """Bytes after each section: its CRC-32 in version 1, none in version 2."""
        return 4 if self.version == 1 else 0


def leb128(n: int) -> bytes:
    """``n`` as unsigned LEB128: 7 bits a byte, low first, the high bit set on all but the last."""
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def deflate(text: bytes, version: int) -> bytes:
    """The manifest bytes of JSON ``text``: zlib (version 1) or raw DEFLATE with
    :data:`DICTIONARY` (version 2), both at level 9."""
    if version == 1:
        return zlib.compress(text, 9)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
    return packer.compress(text) + packer.flush()


def pack(doc: dict[str, Any], sections: list[bytes], version: int = VERSION) -> bytes:
    """The file of a manifest ``doc`` and its tensor sections, in the layout of ``version``.

    Only that ``doc`` is plain JSON is checked: the caller makes ``doc`` and ``sections``
    agree.
    """
    try:
        text = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise FormatError(f"the manifest is not plain JSON: {plain(exc)}") from exc
    manifest = deflate(text, version)
    if version == 1:
        head = _V1.pack(MAGIC, 1, len(manifest), zlib.crc32(manifest))
        return head + manifest + b"".join(s + struct.pack("<I", zlib.crc32(s))
                                          for s in sections)
    body = leb128(len(manifest)) + manifest + b"".join(sections)
    return MAGIC + bytes([version]) + struct.pack("<I", zlib.crc32(body)) + body


def read_header(blob: bytes) -> Header:
    """The header at the start of ``blob`` (which need hold no more than
    :data:`HEADER_BYTES`), checked: magic, version and the manifest's length."""
    if len(blob) < 5:
        raise FormatError(f"only {len(blob)} bytes: too short for a .tcz header")
    if blob[:4] != MAGIC:
        raise FormatError(f"not a .tcz file (magic {blob[:4]!r}, expected {MAGIC!r})")
    version = blob[4]
    if version not in VERSIONS:
        raise FormatError(f".tcz format version {version}; this tinycompress reads "
                          f"{' and '.join(map(str, VERSIONS))}")
    if version == 1:
        if len(blob) < _V1.size:
            raise FormatError(f"only {len(blob)} bytes: too short for a .tcz header")
        _, _, length, crc = _V1.unpack_from(blob)
        header = Header(1, _V1.size, length, crc)
    else:
        header = _read_v2(blob)
    if header.length > MAX_MANIFEST_BYTES:
        raise FormatError(f"the header announces a manifest of {header.length:,} bytes, over "
                          f"the limit of {MAX_MANIFEST_BYTES:,}")
    return header


def _read_v2(blob: bytes) -> Header:
    """Version 2's checksum and LEB128 manifest length (at most 3 bytes, no needless zeros)."""
    if len(blob) < 10:
        raise FormatError(f"only {len(blob)} bytes: too short for a .tcz header")
    (crc,) = struct.unpack_from("<I", blob, 5)
    length, pos = 0, 9
    for shift in (0, 7, 14):
        if pos >= len(blob):
            raise FormatError("the file is truncated in its manifest length")
        byte = blob[pos]
        length |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            if byte == 0 and shift:
                raise FormatError("the manifest length has a needless zero byte")
            return Header(2, pos, length, crc)
    raise FormatError("the manifest length runs past 3 bytes (a manifest of over 2 MB)")


def check_crc(blob: bytes, header: Header) -> None:
    """Refuse ``blob`` (the whole file in version 2; header and manifest suffice in version 1)
    whose stored checksum does not match."""
    if header.version == 1:
        if zlib.crc32(blob[header.start : header.end]) != header.crc:
            raise FormatError("the manifest's checksum does not match: the file is corrupt")
    elif zlib.crc32(memoryview(blob)[9:]) != header.crc:
        raise FormatError("the file's checksum does not match: the file is corrupt")


def inflate(manifest: bytes, version: int) -> bytes:
    """The JSON text of the stored ``manifest``, at most :data:`MAX_MANIFEST_BYTES`, with
    nothing after its stream."""
    if version == 1:
        inflater = zlib.decompressobj()
    else:
        inflater = zlib.decompressobj(-15, zdict=DICTIONARY)
    what = "zlib" if version == 1 else "DEFLATE"
    try:
        text = inflater.decompress(manifest, MAX_MANIFEST_BYTES)
    except zlib.error as exc:
        raise FormatError(f"the manifest is not a {what} stream ({plain(exc)})") from None
    if inflater.unconsumed_tail:
        raise FormatError(f"the manifest inflates past the limit of {MAX_MANIFEST_BYTES:,} bytes")
    if not inflater.eof or inflater.unused_data:
        raise FormatError(f"the manifest's {what} stream is incomplete or followed by "
                          f"{len(inflater.unused_data)} other bytes")
    return text
