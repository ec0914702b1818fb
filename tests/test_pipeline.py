"""The Deep Compression pipeline: quick end-to-end runs, resuming, settings, the budget."""

import gzip
import json
import shutil
from dataclasses import fields

import pytest

from tests.marks import whole_pipeline
from tinycompress import arguments, pipeline, runs, zoo
from tinycompress.coding import accounting, tcz
from tinycompress.energy import PRECISIONS
from tinycompress.errors import ConfigError
from tinycompress.nn.checkpoint import save_model
from tinycompress.nn.train import evaluate


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One quick run; it counts its encodings and may not read back the file it wrote."""
    out = tmp_path_factory.mktemp("dc") / "lenet-300-100.tcz"
    logs, encodings = [], []
    settings = pipeline.Settings.for_model("lenet-300-100", quick=True)
    encode = tcz.to_bytes

    def counted(*args, **kwargs):
        encodings.append(1)
        return encode(*args, **kwargs)

    def reread(*args, **kwargs):
        raise AssertionError("the pipeline read back the file it wrote")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tcz, "to_bytes", counted)
        patch.setattr(tcz, "load", reread)
        patch.setattr(tcz, "read_file", reread)
        patch.setattr(accounting, "inspect", reread)
        report = pipeline.run("lenet-300-100", out, settings, progress=False, log=logs.append)
    return out, report, logs, len(encodings)


@whole_pipeline
def test_quick_run_writes_file_report_and_figures(quick_run):
    out, report, _, _ = quick_run
    assert out.is_file() and report["compressed"]["file_bytes"] == out.stat().st_size
    assert report["compressed"]["ratio"] == pytest.approx(1_066_440 / out.stat().st_size)
    for suffix in (".report.md", ".report.json", ".sizes.png"):
        assert out.with_name(out.stem + suffix).is_file()
    md = out.with_name(out.stem + ".report.md").read_text()
    assert "| fc1 |" in md and "Energy" in md and "decoded file" in md
    rows = report["precisions"]
    assert sorted(rows) == sorted(PRECISIONS) and "int8" in md
    assert rows["fp32"]["error"] == report["compressed"]["error"]  # the same decoded model
    assert abs(rows["int8"]["error"] - rows["fp32"]["error"]) <= 0.005  # 5 of 1,000 images


@whole_pipeline
def test_reported_error_is_the_decoded_files(quick_run):
    out, report, _, _ = quick_run
    decoded, meta = tcz.load(out)
    data = pipeline.load_data(meta, None, quick=True)
    assert evaluate(decoded, data.X_test, data.y_test)["error"] == report["compressed"]["error"]
    points = pipeline.Settings.for_model("lenet-300-100").max_error_increase
    assert report["validation"] == {"n": 1000, "seed": 0} and report["budget_points"] == points
    c, o = report["compressed"], report["original"]
    assert c["validation_error"] == evaluate(decoded, data.X_val, data.y_val)["error"]
    assert c["validation_error"] <= o["validation_error"] + points / 100 + 1e-12  # the budget
    assert report["stages"]["quantize"]["tried"]  # the bits were chosen, not given


@whole_pipeline
def test_rerun_resumes_finished_stages(quick_run):
    out, report, _, _ = quick_run
    logs = []
    again = pipeline.run("lenet-300-100", out, pipeline.Settings.for_model("lenet-300-100",
                         quick=True), progress=False, log=logs.append)
    assert [line for line in logs if "resumed" in line] == [
        f"[prune] resumed from {runs.Run(out).checkpoint('prune')}",
        f"[quantize] resumed from {runs.Run(out).checkpoint('quantize')}"]
    assert again["compressed"]["file_bytes"] == report["compressed"]["file_bytes"]


@whole_pipeline
def test_changed_settings_rerun_only_the_stages_they_affect(quick_run):
    out, _, _, _ = quick_run
    run = runs.Run(out)
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
    assert s.max_error_increase == pipeline.Settings().max_error_increase
    cfg.write_text(json.dumps({"bitz": 3}))
    with pytest.raises(ConfigError, match="bitz"):
        s.merged(cfg)
    cfg.write_text(json.dumps({"prune_recipes": ["lenet5", "lenet9"]}))
    with pytest.raises(ConfigError, match=r"prune_recipes\[1\] is 'lenet9'; expected one of 'len"):
        s.merged(cfg)
    cfg.write_text("bits = 4")  # not JSON
    with pytest.raises(ConfigError, match="settings is not readable JSON"):
        s.merged(cfg)
    with pytest.raises(ConfigError, match="settings cannot be read"):
        s.merged(tmp_path / "missing.json")


@whole_pipeline
def test_the_file_is_encoded_once_and_inspected_from_its_bytes(quick_run):
    out, report, _, encodings = quick_run
    assert encodings == 3  # the pruned model's size, the quantised model's size, the file
    assert report["inspect"] == accounting.inspect(out)
    assert report["stage_bytes"]["pruned (P) file"] == report["stages"]["prune"]["file_bytes"]
    assert report["stages"]["quantize"]["file_bytes"] < report["stages"]["prune"]["file_bytes"]
    assert report["stage_bytes"]["P+Q (formula)"] == round(pipeline.formula_bytes(
        report["inspect"]))


def test_every_setting_has_a_kind_that_its_defaults_pass():
    assert list(arguments.SETTINGS) == [f.name for f in fields(pipeline.Settings)]
    for settings in (pipeline.Settings(), *pipeline.COMPRESSION_SETTINGS.values()):
        for name, kind in arguments.SETTINGS.items():
            value = getattr(settings, name)
            assert kind.check(value, name, ConfigError) == value


def test_a_config_at_the_edges_of_the_ranges_is_accepted(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"seed": 2**32 - 1, "index_bits": None, "quick": True,
                               "finetune_lr": 1, "max_error_increase": 100, "step": 0.95,
                               "prune_share": 1, "finetune_epochs": 0,
                               "prune_recipes": [], "bits": "16"}))
    s = pipeline.Settings().merged(cfg)
    assert (s.seed, s.index_bits, s.quick, s.finetune_lr, s.bits) == (2**32 - 1, None, True,
                                                                      1.0, "16")


@whole_pipeline
def test_poisoned_test_labels_change_no_choice_and_no_byte(tmp_path, make_dataset):
    """Every choice reads the validation split: with the test labels scrambled, the run makes
    the same choices and writes the same file; only the reported test error moves."""
    clean = make_dataset(tmp_path / "clean", n_train=300, n_test=100, size=(10, 10), classes=4)
    poisoned = tmp_path / "poisoned"
    shutil.copytree(clean, poisoned)
    labels = poisoned / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[8:] = bytes((b + 1) % 4 for b in raw[8:])  # every test label wrong
    labels.write_bytes(gzip.compress(bytes(raw)))
    model, meta = zoo.train_model("lenet-300-100", clean, epochs=2, progress=False)
    ckpt = tmp_path / "m.npz"
    save_model(model, ckpt, meta)
    settings = pipeline.Settings(quick=True, max_error_increase=30.0)
    reports = {name: pipeline.run(str(ckpt), tmp_path / f"{name}.tcz", settings, str(folder),
                                  progress=False, log=lambda _: None)
               for name, folder in (("clean", clean), ("poisoned", poisoned))}
    a, b = reports["clean"], reports["poisoned"]
    for stage in ("prune", "quantize"):
        drop = {"error", "error_before_finetune", "seconds"}  # test figures and times
        assert ({k: v for k, v in a["stages"][stage].items() if k not in drop}
                == {k: v for k, v in b["stages"][stage].items() if k not in drop})
    assert (tmp_path / "clean.tcz").read_bytes() == (tmp_path / "poisoned.tcz").read_bytes()
    assert b["compressed"]["error"] != a["compressed"]["error"]  # the test labels were read
    assert any(r["accepted"] for r in a["stages"]["prune"]["rounds"])  # a choice was made
