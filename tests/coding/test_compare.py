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


def test_stream_rows_count_symbols_and_their_stored_bytes(small_tcz: bytes,
                                                          tmp_path: Path) -> None:
    path = tcz.write_file(small_tcz, tmp_path / "small.tcz")
    rows = {r["data"].split()[0]: r for r in compare.general_purpose_sizes(path)}
    coded = [r for r in tcz.read_records(small_tcz)[2] if r.desc["k"] != "r"]
    assert [r.desc["k"] for r in coded] == ["s", "s"]  # fc1/W and fc2/W, with codebooks
    entries = sum(r.desc["n"] for r in coded)
    assert rows["indices"]["raw"] == rows["gaps"]["raw"] == entries  # one byte per symbol
    # a coded section is its float32 codebook, then the index stream, then the gap stream
    codebooks = sum(4 * r.desc["c"] for r in coded)
    assert codebooks + rows["indices"]["tcz"] + rows["gaps"]["tcz"] == sum(
        len(r.section) for r in coded)
