"""A run's files and its resumable state: what is resumed, and what is run again."""

import pytest

from tinycompress import runs
from tinycompress.pipeline import Settings


@pytest.mark.parametrize("text", ["{", "[]", '{"model": "m", "stages": []}', "\xff\xfe"])
def test_an_unreadable_state_file_is_reported_and_every_stage_runs_again(tmp_path, text):
    run = runs.Run(tmp_path / "m.tcz")
    run.stage_dir.mkdir()
    run.state_path.write_bytes(text.encode("latin-1"))
    logs = []
    assert run.load_state(Settings(), "m", logs.append) == {"model": "m", "stages": {}}
    assert len(logs) == 1 and logs[0].startswith(f"[state] '{run.state_path}' is not ")
    assert logs[0].endswith("; every stage runs again")


def test_a_stage_record_missing_its_numbers_is_run_again(tmp_path):
    settings, run = Settings(), runs.Run(tmp_path / "m.tcz")
    run.stage_dir.mkdir()
    run.checkpoint("prune").write_bytes(b"")
    record = {"settings": {k: getattr(settings, k) for k in runs.STAGE_SETTINGS["prune"]},
              "error": 0.1, "seconds": 1.0, "file_bytes": 100}
    run.save_state({"model": "m", "stages": {"prune": record}})
    assert run.load_state(settings, "m")["stages"] == {"prune": record}
    for broken in ({**record, "file_bytes": "100"}, {**record, "error": None}, [record]):
        run.save_state({"model": "m", "stages": {"prune": broken}})
        assert run.load_state(settings, "m")["stages"] == {}


def test_a_run_names_every_file_it_writes(tmp_path):
    run = runs.Run(tmp_path / "net.tcz")
    assert [p.relative_to(tmp_path).as_posix() for p in run.outputs()] == [
        "net.tcz", "net.report.json", "net.report.md", "net.sizes.png", "net.stages/state.json",
        "net.stages/1-prune.npz", "net.stages/2-quantize.npz"]
