"""The MNIST MobileNet study of chapter 2: one grid point trained, validated, tested, recorded
and saved."""

import json

import pytest

from tinycompress.experiments import mobilenet_grid
from tinycompress.experiments.mobilenet_grid import run_grid, train_point
from tinycompress.experiments.results import results_path
from tinycompress.models.mobilenet import mobilenet_mnist
from tinycompress.nn.checkpoint import load_model


@pytest.mark.task_batchnorm_backward
def test_grid_point_is_trained_recorded_and_saved(tmp_path):
    out = tmp_path / "grid.json"
    rows = run_grid([(0.25, 16, False)], out, log=lambda s: None, train_limit=256,
                    test_limit=200, validation_limit=150, epochs=1, batch_size=64)
    (row,) = rows
    assert 0.0 <= row["accuracy"] <= 1.0 and row["test_n"] == 200 and row["train_n"] == 256
    assert 0.0 <= row["validation_accuracy"] <= 1.0 and row["validation_n"] == 150
    assert row["multadds"] == mobilenet_mnist(0.25, 16, shape_only=True).multadds()
    doc = json.loads(out.read_text())
    assert doc["rows"] == rows and doc["validation"] == {"n": 5000, "seed": 0}
    row = train_point(0.25, 16, train_limit=128, test_limit=100, epochs=1,
                      save=tmp_path / "m.npz")
    model, meta = load_model(tmp_path / "m.npz")
    assert meta["accuracy"] == row["accuracy"] and "normalization" in meta
    assert model.input_shape == (1, 16, 16)


def test_mobilenet_grid_main_trains_the_whole_grid_into_the_results_file(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(mobilenet_grid, "run_grid",
                        lambda points, out, log, **kw: calls.append((points, out, kw)))
    mobilenet_grid.main(["--epochs", "1", "--train-limit", "100"])
    ((points, out, kwargs),) = calls
    assert len(points) == 2 * len(mobilenet_grid.ALPHAS) * len(mobilenet_grid.MNIST_RESOLUTIONS)
    assert len(set(points)) == len(points) and {full for _, _, full in points} == {False, True}
    assert out == str(results_path("mobilenet_grid"))
    assert kwargs == {"train_limit": 100, "epochs": 1, "seed": 0}
