"""Tests for tinycompress.coding.compare: zlib and lzma on the data the .tcz file codes."""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tinycompress.coding import compare, tcz
from tinycompress.nn.model import Sequential


@pytest.mark.task_magnitude_prune
def test_huffman_streams_beat_zlib_and_lzma(
    tmp_path: Path, pruned_quantised: Callable[..., Sequential]
) -> None:
    path = tcz.save(pruned_quantised("lenet-300-100", 0.92, 5), tmp_path / "m.tcz")
    rows = {r["data"].split()[0]: r for r in compare.general_purpose_sizes(path)}
    assert list(rows) == ["float32", "indices", "gaps", ".tcz"]
    for kind in ("indices", "gaps"):
        assert rows[kind]["tcz"] <= rows[kind]["zlib"]
    assert rows["float32"]["raw"] == 4 * 266_610 and rows["float32"]["tcz"] is None
    blob = path.read_bytes()
    assert rows[".tcz"] == {"data": ".tcz file", "raw": len(blob), "tcz": len(blob),
                            "zlib": len(zlib.compress(blob, 9)),
                            "lzma": len(lzma.compress(blob, preset=9))}
    assert rows[".tcz"]["zlib"] >= 0.95 * rows[".tcz"]["raw"]  # nothing left to squeeze


@pytest.mark.parametrize("version", [1, 2])
def test_stream_rows_count_symbols_and_their_stored_bytes(small_tcz: bytes, tmp_path: Path,
                                                          version: int) -> None:
    blob = tcz.to_bytes(tcz.from_bytes(small_tcz)[0], index_bits=3, version=version)
    path = tcz.write_file(blob, tmp_path / "small.tcz")
    rows = {r["data"].split()[0]: r for r in compare.general_purpose_sizes(path)}
    coded = [r for r in tcz.read_records(blob)[2] if r.desc["k"] != "r"]
    assert [r.desc["k"] for r in coded] == ["s", "s"] if version == 1 else ["a", "a"]
    entries = sum(r.desc["n"] for r in coded)
    assert rows["indices"]["raw"] == rows["gaps"]["raw"] == entries  # one byte per symbol
    # a coded section is its float32 codebook, then the index and gap streams (in version 2
    # one arithmetic-coded stream, shared out between them and rounded)
    codebooks = sum(4 * r.desc["c"] for r in coded)
    stored = codebooks + rows["indices"]["tcz"] + rows["gaps"]["tcz"]
    assert abs(stored - sum(len(r.section) for r in coded)) <= (version - 1)
