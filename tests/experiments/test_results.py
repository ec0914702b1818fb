"""The experiments' results files: one place, found from the data folder, never the cwd; the
three splits every experiment reads, and the validation split each shipped file records."""

from __future__ import annotations

import json

import pytest

from tinycompress.experiments.results import results_path, write_results
from tinycompress.nn.data import VALIDATION, data_dir


def test_results_live_in_the_data_folder(tmp_path, monkeypatch) -> None:
    assert results_path("x") == data_dir() / "results" / "x.json"
    monkeypatch.setenv("TINYCOMPRESS_DATA", str(tmp_path))
    monkeypatch.chdir(tmp_path / "..")
    assert results_path("x") == tmp_path / "results" / "x.json"
    write_results(results_path("x"), {"b": 1, "a": [2]}, sort_keys=True)
    assert results_path("x").read_text() == '{\n "a": [\n  2\n ],\n "b": 1\n}'
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["x.json"]  # no temporary left


@pytest.mark.parametrize("name,keys", [
    ("mobilenet_grid", {"rows", "settings", "validation"}),
    ("pruning_results", {"sensitivity/lenet-300-100", "sensitivity/lenet5", "filters/lenet5",
                         "ablation/lenet5"}),
    ("quant_study", {"validation", "model", "bits", "model_validation", "float32", "lr_sweep",
                     "ablation"}),
])
def test_shipped_results_hold_what_the_chapters_read(name, keys) -> None:
    assert set(json.loads(results_path(name).read_text())) == keys


@pytest.mark.parametrize("name,parts", [
    ("pruning_results", ["sensitivity/lenet-300-100", "sensitivity/lenet5", "filters/lenet5"]),
    ("quant_study", [None]),
    ("mobilenet_grid", [None]),
])
def test_shipped_results_record_the_validation_split(name, parts) -> None:
    doc = json.loads(results_path(name).read_text())
    for part in parts:
        assert (doc[part] if part else doc)["validation"] == VALIDATION.to_json(60_000)


