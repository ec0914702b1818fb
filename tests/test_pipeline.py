"""The Deep Compression pipeline: quick end-to-end runs, resuming, settings, derived targets."""

import json

import numpy as np
import pytest

from tinycompress import pipeline
from tinycompress.cli import main
from tinycompress.coding import tcz
from tinycompress.nn.train import evaluate


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dc") / "lenet-300-100.tcz"
    logs = []
    settings = pipeline.Settings.for_model("lenet-300-100", quick=True)
    report = pipeline.run("lenet-300-100", out, settings, progress=False, log=logs.append)
    return out, report, logs


@pytest.mark.task_magnitude_prune
@pytest.mark.task_centroid_grad
@pytest.mark.task_inference_energy
def test_quick_run_writes_file_report_and_figures(quick_run):
    out, report, _ = quick_run
    assert out.is_file() and report["compressed"]["file_bytes"] == out.stat().st_size
    assert report["compressed"]["ratio"] == pytest.approx(1_066_440 / out.stat().st_size)
    for suffix in (".report.md", ".report.json", ".sizes.png"):
        assert out.with_name(out.stem + suffix).is_file()
    md = out.with_name(out.stem + ".report.md").read_text()
    assert "| fc1 |" in md and "Energy" in md and "decoded file" in md


@pytest.mark.task_magnitude_prune
@pytest.mark.task_centroid_grad
@pytest.mark.task_inference_energy
def test_reported_error_is_the_decoded_files(quick_run):
    out, report, _ = quick_run
    decoded, meta = tcz.load(out)
    data = pipeline.load_data(meta, None, quick=True)
    assert evaluate(decoded, data.X_test, data.y_test)["error"] == report["compressed"]["error"]
    assert report["stages"]["prune"]["kept"] < 0.2  # the DC recipe prunes hard even in one round


@pytest.mark.task_magnitude_prune
@pytest.mark.task_centroid_grad
@pytest.mark.task_inference_energy
def test_rerun_resumes_finished_stages(quick_run):
    out, report, _ = quick_run
    logs = []
    again = pipeline.run("lenet-300-100", out, pipeline.Settings.for_model("lenet-300-100",
                         quick=True), progress=False, log=logs.append)
    assert [line for line in logs if "resumed" in line] == [
        f"[prune] resumed from {pipeline.Run(out).checkpoint('prune')}",
        f"[quantize] resumed from {pipeline.Run(out).checkpoint('quantize')}"]
    assert again["compressed"]["file_bytes"] == report["compressed"]["file_bytes"]


@pytest.mark.task_magnitude_prune
@pytest.mark.task_centroid_grad
@pytest.mark.task_inference_energy
def test_changed_settings_rerun_only_the_stages_they_affect(quick_run):
    out, _, _ = quick_run
    run = pipeline.Run(out)
    base = pipeline.Settings.for_model("lenet-300-100", quick=True)
    assert set(run.load_state(base, "lenet-300-100")["stages"]) == {"prune", "quantize"}
    other_bits = pipeline.replace(base, bits="fc=3")
    assert set(run.load_state(other_bits, "lenet-300-100")["stages"]) == {"prune"}
    assert run.load_state(pipeline.replace(base, seed=5), "lenet-300-100")["stages"] == {}
    assert run.load_state(base, "lenet5")["stages"] == {}


def test_config_file_overrides_and_rejects_unknown_keys(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"bits": "fc=4", "finetune_epochs": 0}))
    s = pipeline.Settings.for_model("lenet5").merged(cfg)
    assert s.bits == "fc=4" and s.finetune_epochs == 0
    assert s.prune_recipes == ["lenet5", "lenet5-dc"]
    cfg.write_text(json.dumps({"bitz": 3}))
    with pytest.raises(ValueError, match="bitz"):
        s.merged(cfg)


def test_sensitivity_targets_prune_robust_layers_harder():
    sweep = [0.0, 0.5, 0.9, 0.95]
    curves = {"big": [0.99, 0.99, 0.99, 0.985], "small": [0.99, 0.98, 0.90, 0.80]}
    weights = {"big": 9000, "small": 1000}
    t = pipeline.sensitivity_targets(curves, sweep, 0.99, weights, target_kept=0.2)
    assert t["big"] >= 0.9 and t["small"] <= 0.5
    kept = sum(weights[n] * (1 - s) for n, s in t.items()) / 10_000
    assert kept <= 0.2


@pytest.mark.task_magnitude_prune
@pytest.mark.task_centroid_grad
@pytest.mark.task_inference_energy
def test_cli_on_a_model_trained_on_another_dataset(tmp_path, capsys):
    from tests.test_data import make_dataset

    folder = make_dataset(tmp_path / "d", n_train=64, n_test=16, size=(28, 28), classes=5)
    ckpt = tmp_path / "m.npz"
    assert main(["train", "lenet-300-100", "--data", str(folder), "--epochs", "1",
                 "--out", str(ckpt)]) == 0
    capsys.readouterr()
    out = tmp_path / "m.tcz"
    assert main(["deep-compress", str(ckpt), "--data", str(folder), "--quick", "--out", str(out),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["compressed"]["n"] == 16 and out.is_file()
    recipe = report["stages"]["prune"]["recipes"][0]
    assert set(recipe["targets"]) == {"fc1", "fc2", "fc3"}  # chosen from its own sensitivity
    decoded, _ = tcz.load(out)
    assert decoded.layers[-1].params["W"].shape == (100, 5)
    assert np.count_nonzero(decoded.layer("fc1").params["W"]) < 235_200


def test_unreadable_config_is_a_one_line_error(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text("bits = 4")  # not JSON
    assert main(["deep-compress", "lenet5", "--quick", "--config", str(cfg),
                 "--out", str(tmp_path / "x.tcz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read settings as JSON" in err
