"""The shipped trained checkpoints reach the papers' baselines (evaluation only)."""

import pytest

from tinycompress import zoo
from tinycompress.nn.data import load_arrays, normalization_of
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
