"""``tinycompress deep-compress``: the pipeline behind the command line, and its one-line errors."""

import json

import numpy as np

from tests.marks import whole_pipeline
from tinycompress.cli import main
from tinycompress.coding import tcz


@whole_pipeline
def test_cli_on_a_model_trained_on_another_dataset(tmp_path, capsys, make_dataset):
    folder = make_dataset(tmp_path / "d", n_train=64, n_test=16, size=(28, 28), classes=5)
    ckpt = tmp_path / "m.npz"
    assert main(["train", "lenet-300-100", "--data", str(folder), "--epochs", "1",
                 "--out", str(ckpt)]) == 0
    capsys.readouterr()
    out = tmp_path / "m.tcz"
    assert main(["deep-compress", str(ckpt), "--data", str(folder), "--quick", "--out", str(out),
                 "--max-error-increase", "100", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["compressed"]["n"] == 16 and out.is_file() and report["budget_points"] == 100
    first = report["stages"]["prune"]["rounds"][0]
    assert set(first["sparsities"]) == {"fc1", "fc2", "fc3"} and first["accepted"]
    decoded, _ = tcz.load(out)
    assert decoded.layers[-1].params["W"].shape[1] == 5
    assert np.count_nonzero(decoded.layer("fc1").params["W"]) < 235_200


def test_unreadable_config_is_a_one_line_error(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text("bits = 4")  # not JSON
    assert main(["deep-compress", "lenet5", "--quick", "--config", str(cfg),
                 "--out", str(tmp_path / "x.tcz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "settings is not readable JSON" in err
