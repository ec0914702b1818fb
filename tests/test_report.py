"""The Deep Compression report: Markdown tables and the size chart from a report's numbers."""

import copy

import pytest

from tinycompress import report

REPORT = {  # the shape pipeline.run returns, with round numbers
    "model": "lenet5", "out": "/somewhere/lenet5.tcz", "seconds": 123.4,
    "validation": {"n": 5000, "seed": 0}, "budget_points": 0.2,
    "original": {"error": 0.0080, "validation_error": 0.0100, "params": 431_080,
                 "bytes": 1_724_320},
    "stages": {"prune": {"error": 0.0079, "validation_error": 0.0110, "seconds": 100.0,
                         "file_bytes": 120_000, "rounds": [
                             {"round": 1, "kept": 0.6, "error": 0.0104, "accepted": True},
                             {"round": 2, "kept": 0.36, "error": 0.0140, "accepted": False}]},
               "quantize": {"error": 0.0076, "validation_error": 0.0114, "seconds": 20.0,
                            "file_bytes": 26_000},
               "encode": {"seconds": 1.0}},
    "compressed": {"error": 0.0075, "validation_error": 0.0114, "accuracy": 0.9925, "n": 10_000,
                   "file_bytes": 25_000, "ratio": 1_724_320 / 25_000},
    "stage_bytes": {"pruned (P) file": 120_000, "P+Q (formula)": 30_000},
    "inspect": {"layers": [
        {"name": "conv1", "weights": 500, "kept_fraction": 0.66, "weight_bits": 5,
         "weight_bits_huffman": 4.21, "index_bits": 4, "index_bits_huffman": 3.14,
         "rate_pq": 0.3, "rate_pqh": 0.25},
        {"name": "bn1", "bytes": 40, "other_bytes": 40},  # no weights: not in the table
    ]},
    "times": {"original": {"dense_b1": 0.002, "dense_b64": 0.05},
              "decoded": {"dense_b1": 0.001, "sparse_b1": 0.0005, "dense_b64": 0.04,
                          "sparse_b64": 0.02}},
    "energy_pj": {"original": {"total_pj": 2.0e6, "on_chip": False},
                  "compressed": {"total_pj": 1.0e5, "on_chip": True}},
}


def test_stage_sizes_run_from_the_original_to_the_file():
    assert report.stage_sizes(REPORT) == {"original": 1_724_320, "pruned (P) file": 120_000,
                                          "P+Q (formula)": 30_000, "P+Q+H file": 25_000}
    assert list(report.stage_sizes(REPORT))[-1] == "P+Q+H file"


def test_layer_table_has_the_papers_columns_and_skips_weightless_layers():
    lines = report.layer_table(REPORT["inspect"]).splitlines()
    assert lines[0].startswith("| Layer | #Weights | Weights% (P) |")
    assert lines[0].count("|") == 10 and lines[1] == "|" + "---|" * 9
    assert lines[2:] == ["| conv1 | 500 | 66.0% | 5 | 4.2 | 4 | 3.1 | 30.00% | 25.00% |"]


def test_markdown_holds_the_metrics_stages_layers_and_chart(tmp_path):
    stem = tmp_path / "lenet5"
    md = report.render_markdown(REPORT, stem)
    assert md.startswith("# Deep Compression of lenet5\n")
    assert "File: `lenet5.tcz`, 25,000 bytes." in md
    assert "| 1. Test error (n = 10,000) | 0.80% | 0.75% |" in md
    assert "| 2. Size | 1,724,320 B (1,724.3 KB) | 25,000 B (25.0 KB), **69.0x** smaller |" in md
    assert "| 3. Inference time, batch 1 (dense / sparse CSR) | 2.000 ms / - | 1.000 ms / " \
           "0.500 ms |" in md
    assert "| 4. Energy per inference (45 nm model) | 2.00 uJ (DRAM) | 0.100 uJ (SRAM) |" in md
    assert "The paper (Table 1): error 0.74%, 44 KB, 39x." in md
    stages = ["| original | 1.00% | 0.80% | |", "| prune | 1.10% | 0.79% | 100 s |",
              "| quantize | 1.14% | 0.76% | 20 s |", "| decoded file | 1.14% | 0.75% | |"]
    positions = [md.index(row) for row in stages]
    assert positions == sorted(positions) and "| encode |" not in md
    assert "| conv1 | 500 | 66.0% |" in md and "| bn1 |" not in md
    assert "![sizes](lenet5.sizes.png)" in md
    chart = stem.with_suffix(".sizes.png")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_budget_section_says_what_was_spent_round_by_round(tmp_path):
    md = report.render_markdown(REPORT, tmp_path / "lenet5")
    assert ("validation split of 5,000 training images (seed 0)" in md
            and "Budget: 0.20 points of validation error; spent 0.14 (1.00% -> 1.14%)." in md)
    assert "| 1 | 60.00% | 1.04% | kept |" in md
    assert "| 2 | 36.00% | 1.40% | undone: over budget |" in md


def test_a_model_the_paper_did_not_compress_gets_no_paper_line(tmp_path):
    other = copy.deepcopy(REPORT)
    other["model"] = "my-net"
    md = report.render_markdown(other, tmp_path / "my-net")
    assert "The paper" not in md and md.startswith("# Deep Compression of my-net")


@pytest.mark.parametrize("stage_bytes", [{}, {"pruned (P) file": 120_000}])
def test_size_chart_draws_whatever_stages_were_measured(tmp_path, stage_bytes):
    partial = {**REPORT, "stage_bytes": stage_bytes}
    path = report.size_chart(partial, tmp_path / "c.png")
    assert path == tmp_path / "c.png" and path.stat().st_size > 1000
    assert len(report.stage_sizes(partial)) == 2 + len(stage_bytes)


def test_a_precision_the_model_cannot_run_is_named_with_its_reason(tmp_path):
    other = copy.deepcopy(REPORT)
    other["precisions_unsupported"] = {"int8": "dw1: int8 inference runs Dense, Conv2D"}
    md = report.render_markdown(other, tmp_path / "m")
    assert "- Not run in int8: dw1: int8 inference runs Dense, Conv2D" in md
