"""The chapter-3 pruning runs: results merge into one file in the data folder, part by part."""

from __future__ import annotations

import json

from tinycompress.experiments import pruning_results
from tinycompress.experiments.results import results_path
from tinycompress.nn.checkpoint import save_model


def test_merge_keeps_the_other_parts(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TINYCOMPRESS_DATA", str(tmp_path))
    pruning_results.merge("b/part", {"x": 1})
    pruning_results.merge("a/part", [1, 2])
    pruning_results.merge("b/part", {"x": 2})
    path = tmp_path / "results" / "pruning_results.json"
    assert path == results_path("pruning_results")
    assert json.loads(path.read_text()) == {"a/part": [1, 2], "b/part": {"x": 2}}
    assert path.read_text().index('"a/part"') < path.read_text().index('"b/part"')  # sorted


def test_ablation_part_records_the_checkpoints(tmp_path, monkeypatch, capsys, tiny_net) -> None:
    meta = {"prune_recipe": {"rounds": 3}, "prune_rounds": [{"round": 1}], "kept": 0.25,
            "test": {"error": 0.125}}
    ckpt = save_model(tiny_net(), tmp_path / "p.npz", meta)
    monkeypatch.setenv("TINYCOMPRESS_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    pruning_results.main(["ablation", f"lr 0.001={ckpt}"])
    doc = json.loads((tmp_path / "data" / "results" / "pruning_results.json").read_text())
    assert doc == {"ablation/lenet5": {"lr 0.001": {
        "recipe": {"rounds": 3}, "rounds": [{"round": 1}], "kept": 0.25, "error": 0.125}}}
    assert json.loads(capsys.readouterr().out) == {"lr 0.001": [0.25, 0.125]}
