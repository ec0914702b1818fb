"""Tests for tinycompress.coding.layout: the header, manifest and checksums of versions 1 and
2, byte by byte."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from tinycompress.coding import layout
from tinycompress.errors import FormatError

DOC = {"arch": {"name": "x", "layers": []}, "meta": {}, "t": [{"k": "r", "z": 3}]}


def test_version_2_layout_by_hand() -> None:
    blob = layout.pack(DOC, [b"abc"])
    manifest = layout.deflate(json.dumps(DOC, separators=(",", ":")).encode(), 2)
    assert len(manifest) < 128  # one LEB128 byte
    body = bytes([len(manifest)]) + manifest + b"abc"
    assert blob == b"\x89TCZ\x02" + struct.pack("<I", zlib.crc32(body)) + body
    header = layout.read_header(blob)
    assert (header.version, header.start, header.length, header.section_crc_bytes) == (
        2, 10, len(manifest), 0)
    assert json.loads(layout.inflate(blob[header.start : header.end], 2)) == DOC
    layout.check_crc(blob, header)
    with pytest.raises(FormatError, match="file's checksum does not match"):
        layout.check_crc(blob[:-1] + b"x", header)


def test_version_1_layout_is_kept() -> None:
    blob = layout.pack(DOC, [b"abc"], version=1)
    manifest = zlib.compress(json.dumps(DOC, separators=(",", ":")).encode(), 9)
    assert blob[:13] == struct.pack("<4sBII", b"\x89TCZ", 1, len(manifest), zlib.crc32(manifest))
    assert blob[13:] == manifest + b"abc" + struct.pack("<I", zlib.crc32(b"abc"))
    header = layout.read_header(blob)
    assert (header.version, header.start, header.section_crc_bytes) == (1, 13, 4)


def test_the_dictionary_shrinks_the_manifest_of_an_architecture() -> None:
    text = json.dumps({"arch": {"layers": [{"type": "Dense", "config": {
        "in_features": 784, "out_features": 300, "name": "fc1"}}]}}).encode()
    assert len(layout.deflate(text, 2)) < len(layout.deflate(text, 1)) - 30


@pytest.mark.parametrize("head, match", [
    (b"\x89TC", "too short"), (b"PK\x03\x04\x02" + bytes(8), "not a .tcz file"),
    (b"\x89TCZ\x07" + bytes(8), "version 7; this tinycompress reads 1 and 2"),
    (b"\x89TCZ\x02" + bytes(4), "too short"),
    (b"\x89TCZ\x02" + bytes(4) + b"\x80", "truncated in its manifest length"),
    (b"\x89TCZ\x02" + bytes(4) + b"\x85\x00", "needless zero byte"),
    (b"\x89TCZ\x02" + bytes(4) + b"\x80\x80\x80\x01", "runs past 3 bytes"),
    (b"\x89TCZ\x02" + bytes(4) + b"\xff\xff\x7f", "over the limit of 1,048,576"),
    (b"\x89TCZ\x01" + struct.pack("<II", 2**32 - 1, 0), "over the limit"),
])
def test_headers_refused(head: bytes, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        layout.read_header(head)


def test_manifests_refused() -> None:
    text = b'{"t": []}'
    good = layout.deflate(text, 2)
    assert layout.inflate(good, 2) == text
    for stored, match in ((good[:-2], "incomplete"), (good + b"x", "followed by 1 other"),
                          (zlib.compress(text), "not a DEFLATE stream|incomplete|followed"),
                          (layout.deflate(b" " * (2 << 20), 2), "past the limit")):
        with pytest.raises(FormatError, match=match):
            layout.inflate(stored, 2)
    with pytest.raises(FormatError, match="not a zlib stream"):
        layout.inflate(good, 1)
