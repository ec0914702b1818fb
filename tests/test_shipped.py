"""The shipped trained checkpoints reach the papers' baselines (evaluation only)."""

from dataclasses import asdict

import pytest

from tinycompress import zoo
from tinycompress.nn.data import VALIDATION, load_arrays, normalization_of
from tinycompress.nn.train import evaluate

TARGETS = {"lenet-300-100": 0.0164, "lenet5": 0.0080}  # Han et al. 2015, Table 1


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_shipped_checkpoint_meets_paper_baseline(name):
    model, meta = zoo.load_pretrained(name)
    assert model.num_params() == zoo.build(name).num_params()
    X, y = load_arrays("test", norm=normalization_of(meta, None))
    result = evaluate(model, X, y)
    assert result["n"] == 10_000
    assert result["error"] <= TARGETS[name]
    assert result["error"] == pytest.approx(meta["test"]["error"])  # the recorded figure is true


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_shipped_baseline_never_trained_on_the_validation_split(name):
    model, meta = zoo.load_pretrained(name)
    assert {k: meta["validation"][k] for k in ("n", "seed")} == VALIDATION.to_json(60_000)
    X, y = load_arrays("validation", norm=normalization_of(meta, None))
    assert evaluate(model, X, y)["error"] == pytest.approx(meta["validation"]["error"])
    assert meta["recipe"] == asdict(zoo.TRAINING_RECIPES[name])  # trained with today's recipe
