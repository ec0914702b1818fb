"""``tinycompress prune``: per-layer targets, retraining at a tenth of the learning rate."""

import pytest

from tinycompress.cli import main
from tinycompress.nn.checkpoint import load_model
from tinycompress.pruning import magnitude


@pytest.mark.task_magnitude_prune
def test_cli_prune(tmp_path, capsys):
    out = tmp_path / "p.npz"
    assert main(["prune", "lenet-300-100", "--per-layer", "fc1=0.9,fc2=0.5", "--limit", "256",
                 "--retrain-epochs", "1", "--out", str(out), "--json"]) == 0
    model, meta = load_model(out)
    assert magnitude.current_sparsities(model) == pytest.approx(
        {"fc1": 0.9, "fc2": 0.5, "fc3": 0.0}, abs=1e-3)
    assert meta["prune_recipe"]["retrain"]["lr"] == pytest.approx(0.01)  # original / 10
    assert meta["test"]["n"] == 10_000 and len(meta["prune_rounds"]) == 1
    assert main(["prune", "lenet-300-100", "--per-layer", "fc1", "--out", str(out)]) == 2
    assert "NAME=SPARSITY" in capsys.readouterr().err
