"""The chapter-3 pruning runs: results merge into one file in the data folder, part by part;
the sensitivity curves are measured on the validation split, and poisoned test labels change
only the test errors reported."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinycompress.experiments import pruning_results
from tinycompress.experiments.results import results_path
from tinycompress.nn.checkpoint import save_model
from tinycompress.nn.data import Normalization, load_split, load_splits
from tinycompress.nn.train import Recipe, evaluate
from tinycompress.pruning import iterative


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
        "recipe": {"rounds": 3}, "rounds": [{"round": 1}], "kept": 0.25, "error": 0.125,
        "validation": None}}}
    assert json.loads(capsys.readouterr().out) == {"lr 0.001": [0.25, 0.125]}


@pytest.fixture
def tiny_splits(tmp_path, make_dataset, write_idx):
    """``splits(poisoned)``: the splits of a 6x6 dataset (100 training images: 10 held out, 40
    test images) for the tiny model; with ``poisoned`` every test label is first moved to the
    next class (a permutation would keep a constant predictor's error)."""
    folder = make_dataset(tmp_path / "d", n_train=100, n_test=40, size=(6, 6), classes=3)
    norm = Normalization.fit(load_split("train", folder).images)

    def splits(poisoned: bool = False):
        if poisoned:
            labels = load_split("test", folder).labels
            write_idx(folder / "t10k-labels-idx1-ubyte.gz", (labels + 1) % 3)
        return load_splits(norm, folder)
    return splits


@pytest.mark.task_magnitude_prune
def test_sensitivity_part_reads_the_validation_split_only(tiny_net, tiny_splits) -> None:
    clean = tiny_splits()
    result = pruning_results.sensitivity_part(tiny_net(), clean)
    assert result["validation"] == {"n": 10, "seed": 0} and len(clean.y_val) == 10
    assert result["baseline"] == evaluate(tiny_net(), clean.X_val, clean.y_val)["accuracy"]
    assert result["curves"] == iterative.sensitivity(tiny_net(), clean.X_val, clean.y_val,
                                                     pruning_results.SWEEP)
    poisoned = tiny_splits(poisoned=True)
    assert not np.array_equal(poisoned.y_test, clean.y_test)
    assert pruning_results.sensitivity_part(tiny_net(), poisoned) == result


@pytest.mark.task_filter_l1_ranking
def test_filters_part_chooses_on_validation_and_reports_test(tiny_net, tiny_splits,
                                                             monkeypatch) -> None:
    monkeypatch.setattr(pruning_results, "FILTERS_KEPT", {"conv1": 2})
    monkeypatch.setattr(pruning_results, "FILTER_RETRAIN", Recipe(epochs=1, batch_size=32,
                                                                  lr=0.01))
    monkeypatch.setattr(pruning_results, "timings", lambda model, X: {})
    clean = pruning_results.filters_part(tiny_net(prune=False), tiny_splits())
    poisoned = pruning_results.filters_part(tiny_net(prune=False), tiny_splits(poisoned=True))
    assert clean["validation"] == {"n": 10, "seed": 0}
    assert clean["after"]["params"] < clean["before"]["params"]
    chosen = ("sensitivity", "validation", "validation_error_base", "validation_error_pruned",
              "validation_error_retrained", "summary")
    assert {k: poisoned[k] for k in chosen} == {k: clean[k] for k in chosen}
    reported = ("error_base", "error_pruned", "error_retrained")
    assert [poisoned[k] for k in reported] != [clean[k] for k in reported]


def test_main_passes_the_dataset_to_each_part(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(pruning_results, "run_sensitivity", lambda *a: calls.append(a))
    monkeypatch.setattr(pruning_results, "run_filters", lambda *a: calls.append(a))
    pruning_results.main(["sensitivity", "lenet5", "--data", "DIR"])
    pruning_results.main(["filters"])
    assert calls == [("lenet5", "DIR"), (None,)]
