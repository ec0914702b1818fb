"""Tests for tinycompress.coding.accounting: the paper's size tables from a file's own bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tinycompress.coding import accounting, tcz
from tinycompress.nn.batchnorm import BatchNorm2D
from tinycompress.nn.checkpoint import save_model
from tinycompress.nn.conv import Conv2D
from tinycompress.nn.dense import Dense, Flatten
from tinycompress.nn.model import Sequential


def _hand_made(version: int = 1) -> bytes:
    """fc/W (8 x 4): 8 kept weights, one in four, alternately 0.5 and -1; stored with 4-bit gaps
    (in version 1; version 2 codes it arithmetically)."""
    rng = np.random.default_rng(0)
    model = Sequential([Conv2D(1, 2, 3, name="conv", rng=rng), BatchNorm2D(2, name="bn"),
                        Flatten(name="flat"), Dense(8, 4, name="fc", rng=rng)], (1, 4, 4), "hand")
    w = np.zeros((8, 4), np.float32)
    w.flat[np.arange(0, 32, 4)] = [0.5, -1.0] * 4
    model.layer("fc").params["W"] = w
    return tcz.to_bytes(model, index_bits=4, version=version)


def test_tensor_row_by_hand() -> None:
    records = tcz.read_records(_hand_made())[2]
    row = accounting.tensor_row(next(r for r in records if r.name == "fc/W"))
    assert (row["weights"], row["kept_fraction"], row["layout"]) == (32, 0.25, "sparse")
    assert (row["entries"], row["fillers"], row["codebook"]) == (8, 0, 2)
    assert (row["weight_bits"], row["index_bits"]) == (1, 4)  # 2 values; distances 1..16
    # gaps 0 (distance 1) once and 3 (distance 4) seven times: one bit each after Huffman,
    # for a table of 4 code lengths of 1 bit
    assert (row["weight_bits_huffman"], row["index_bits_huffman"], row["table_bits"]) == (
        1.0, 1.0, 4)
    # codebook 2 x 4 bytes, 8 one-bit values, 4 table bits + 8 gap bits: 8 + 1 + 1 + 1 bytes
    assert row["bytes"] == 11
    assert row["rate_pq"] == (8 * (1 + 4) + 32 * 2) / (32 * 32)
    assert row["rate_pqh_formula"] == (8 * 1 + 8 * 1 + 32 * 2) / (32 * 32)
    assert row["rate_pqh"] == 8 * 11 / (32 * 32)
    assert (row["coder"], row["bits_per_kept"]) == ("huffman", 8 * 11 / 8)


def test_arithmetic_coded_row_shares_out_its_stream() -> None:
    records = tcz.read_records(_hand_made(version=2))[2]
    rec = next(r for r in records if r.name == "fc/W")
    row = accounting.tensor_row(rec)
    assert (rec.desc["k"], row["coder"], row["layout"]) == ("a", "arith", "sparse")
    assert (row["entries"], row["fillers"], row["codebook"], row["table_bits"]) == (8, 0, 2, 0)
    # P+Q: the best relative-index form, 1-bit values; distances 1 and 4 fit 2 bits
    assert (row["weight_bits"], row["index_bits"]) == (1, 2)
    assert row["rate_pq"] == (8 * (1 + 2) + 32 * 2) / (32 * 32)
    stream_bits = 8 * (len(rec.section) - 4 * 2)  # the section is the codebook, then the stream
    coded = 8 * (row["weight_bits_huffman"] + row["index_bits_huffman"])
    assert coded == pytest.approx(stream_bits)
    assert row["bits_per_kept"] == 8 * len(rec.section) / 8
    small = next(r for r in records if r.name == "fc/b")
    assert accounting.tensor_row(small)["coder"] == "raw"


@pytest.mark.parametrize("version", [1, 2])
def test_inspect_bytes_accounts_for_every_byte(version: int) -> None:
    blob = _hand_made(version)
    report = accounting.inspect_bytes(blob)
    crc = 4 if version == 1 else 0  # version 1 follows each section with its CRC-32
    sections = {t["name"]: t["bytes"] + crc for t in report["tensors"]}
    layers = {r["name"]: r for r in report["layers"]}
    assert list(layers) == ["conv", "bn", "fc"]  # the layers with parameters or buffers
    assert layers["bn"]["bytes"] == sum(v for k, v in sections.items() if k.startswith("bn/"))
    assert layers["fc"]["other_bytes"] == sections["fc/b"] - crc
    assert "weights" not in layers["bn"] and layers["fc"]["weights"] == 32
    assert report["section_bytes"] == sum(sections.values())
    assert report["header_and_manifest_bytes"] + report["section_bytes"] == len(blob)
    assert report["file_bytes"] == len(blob) and report["format_version"] == version
    # float32 parameters: conv W and b, bn gamma and beta (its running statistics are
    # buffers), fc W and b
    assert report["dense_bytes"] == 4 * (2 * 9 + 2 + 2 * 2 + 8 * 4 + 4)
    assert report["ratio"] == report["dense_bytes"] / len(blob)


@pytest.mark.parametrize("version", [1, 2])
def test_byte_map_sorts_every_byte_by_what_it_holds(version: int) -> None:
    blob = _hand_made(version)
    kinds, report = accounting.byte_map(blob), accounting.inspect_bytes(blob)
    assert tuple(kinds) == accounting.BYTE_KINDS and sum(kinds.values()) == len(blob)
    tensors = {t["name"]: t for t in report["tensors"]}
    assert kinds["header and manifest"] == report["header_and_manifest_bytes"]
    assert kinds["small tensors"] == sum(t["bytes"] for n, t in tensors.items()
                                         if not n.endswith("/W"))
    assert kinds["checksums"] == (4 * len(tensors) if version == 1 else 0)
    # fc/W's codebook holds 2 float32 values; conv/W (random values) has none
    assert kinds["codebooks"] == 8 and tensors["conv/W"]["codebook"] == 0
    # version 1: fc/W's gaps are Huffman coded with a table of 4 one-bit lengths, one byte;
    # version 2 codes fc/W arithmetically, with no table
    assert kinds["code tables"] == (1 if version == 1 else 0)
    assert kinds["weight streams"] == sum(t["bytes"] for n, t in tensors.items()
                                          if n.endswith("/W")) - 8 - kinds["code tables"]


def test_format_inspect_one_line_per_layer_then_one_per_tensor() -> None:
    report = accounting.inspect_bytes(_hand_made())
    lines = accounting.format_inspect(report).splitlines()
    rows = {line.split()[0]: line.split() for line in lines[2:5]}
    fc = next(r for r in report["layers"] if r["name"] == "fc")
    assert rows["fc"] == ["fc", "32", "25.0%", "sparse", "huffman", "1", "1.00", "4", "1.00",
                          "11.00", str(fc["bytes"]), f"{fc['rate_pq']:.2%}",
                          f"{fc['rate_pqh_formula']:.2%}", f"{fc['rate_pqh']:.2%}"]
    assert rows["bn"] == ["bn", str(report["layers"][1]["bytes"])]  # no weights: bytes only
    tensors = {line.split()[0]: line.split() for line in lines[7:7 + len(report["tensors"])]}
    assert tensors["fc/W"] == ["fc/W", "8x4", "huffman", "11", "11.00"]
    assert tensors["conv/b"][:3] == ["conv/b", "2", "raw"]
    assert tensors["bn/gamma"][2] == "fixed"  # all ones: a one-value codebook, 0-bit indices
    assert lines[-2] == (f"file_bytes {report['file_bytes']:,} (format version 1, header + "
                         f"manifest {report['header_and_manifest_bytes']:,}), dense_bytes "
                         f"{report['dense_bytes']:,}, ratio {report['ratio']:.1f}x")


@pytest.mark.task_magnitude_prune
def test_lenet5_inspect(tmp_path: Path, pruned_quantised: Callable[..., Sequential]) -> None:
    path = tcz.save(pruned_quantised("lenet5", 0.9, 4), tmp_path / "l5.tcz")
    report = accounting.inspect(path)
    assert report == accounting.inspect_bytes(path.read_bytes())
    assert report["file_bytes"] == path.stat().st_size
    assert report["dense_bytes"] == 4 * 431_080
    assert report["ratio"] == pytest.approx(report["dense_bytes"] / report["file_bytes"])
    assert report["header_and_manifest_bytes"] + sum(r["bytes"] for r in report["layers"]) == (
        report["file_bytes"])
    fc1 = next(r for r in report["layers"] if r["name"] == "fc1")
    assert fc1["kept_fraction"] == pytest.approx(0.1, abs=0.01)
    assert (fc1["layout"], fc1["coder"]) == ("sparse", "arith")
    assert fc1["codebook"] == 16 and fc1["fillers"] == 0  # arithmetic coding needs no fillers
    assert fc1["weight_bits"] == 4
    assert fc1["rate_pqh"] < fc1["rate_pq"]  # entropy coding saves something
    assert fc1["bits_per_kept"] < 4 + 5  # below 4-bit indices and 5-bit gaps


# --- command line -------------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinycompress.cli", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.task_magnitude_prune
def test_cli_encode_inspect_decode(tmp_path: Path,
                                   pruned_quantised: Callable[..., Sequential]) -> None:
    src = tmp_path / "m.npz"
    model = pruned_quantised("lenet-300-100", 0.92, 5)
    save_model(model, src, {"x": 1})
    out = tmp_path / "m.tcz"
    done = _cli("encode", str(src), "--out", str(out), "--index-bits", "5", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["file_bytes"] == out.stat().st_size
    shown = json.loads(_cli("inspect", str(out), "--json").stdout)
    assert shown["layers"] == report["layers"]
    text = _cli("inspect", str(out)).stdout
    assert "fc1" in text and "ratio" in text
    assert _cli("decode", str(out), "--out", str(tmp_path / "back.npz")).returncode == 0
    summary = json.loads(_cli("summary", str(out), "--json").stdout)
    assert summary == json.loads(json.dumps(model.summary()))  # the .tcz is the model
    out.write_bytes(out.read_bytes()[:-10])
    bad = _cli("inspect", str(out))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


# --- what entropy coding saves ------------------------------------------------------------------
def test_huffman_savings_from_the_files_rows() -> None:
    report = accounting.inspect_bytes(_hand_made())
    rows = accounting.huffman_savings(report["layers"])
    # conv/W (random values) is stored raw and bn has no weights: only the sparse fc is kept
    assert [r["name"] for r in rows] == ["fc"]
    fc = rows[0]
    # 1-bit values and 4-bit gaps fixed; one bit each after Huffman (test_tensor_row_by_hand)
    assert (fc["weight_bits"], fc["index_bits"], fc["bits_before"]) == (1, 4, 5)
    assert (fc["weight_bits_huffman"], fc["index_bits_huffman"], fc["bits_after"]) == (
        1.0, 1.0, 2.0)
    assert fc["saved"] == pytest.approx(1 - 2 / 5)


def test_huffman_savings_skips_rows_it_cannot_account() -> None:
    widths = {"weight_bits": 5, "weight_bits_huffman": 3.5, "index_bits": 5,
              "index_bits_huffman": 6.5}
    layers = [{"name": "bn", "bytes": 40},                                   # no weights
              {"name": "fc0", "layout": "dense", **widths},                  # not sparse
              {"name": "fc1", "layout": "sparse", **widths},
              {"name": "fc2", "layout": "sparse", "weight_bits": 4},         # keys missing
              {"name": "fc3", "layout": "sparse", **widths, "index_bits": 0,
               "weight_bits": 0, "weight_bits_huffman": 0.0, "index_bits_huffman": 0.0}]
    rows = accounting.huffman_savings(layers)
    assert [r["name"] for r in rows] == ["fc1", "fc3"]
    assert (rows[0]["bits_before"], rows[0]["bits_after"], rows[0]["saved"]) == (10, 10.0, 0.0)
    assert rows[1]["saved"] == 0.0  # nothing stored: nothing saved, no division by zero
    worse = accounting.huffman_savings([{"name": "x", "layout": "sparse", **widths,
                                         "index_bits_huffman": 7.5}])
    assert worse[0]["saved"] == pytest.approx(-0.1)  # coding can lengthen the entries


def test_savings_markdown_one_line_per_row() -> None:
    rows = [{"name": "fc1", "weight_bits": 4, "weight_bits_huffman": 2.784,
             "index_bits": 9, "index_bits_huffman": 4.916, "bits_before": 13,
             "bits_after": 7.7, "saved": 1 - 7.7 / 13}]
    lines = accounting.savings_markdown(rows, label="Layer").splitlines()
    assert lines[0].startswith("| Layer | weight bits P+Q → P+Q+H |")
    assert lines[1] == "|---|---|---|---|"
    assert lines[2] == "| fc1 | 4 → 2.78 | 9 → 4.92 | 5.30 of 13 (41%) |"
    assert len(accounting.savings_markdown([]).splitlines()) == 2  # the header alone
