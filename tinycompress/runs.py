"""Where a Deep Compression run keeps its files, and which finished stages a rerun resumes.

A run writing ``NAME.tcz`` keeps beside it its report (``NAME.report.json``, ``NAME.report.md``,
``NAME.sizes.png``) and a folder ``NAME.stages/`` with the checkpoint of each finished stage
(``1-prune.npz``, ``2-quantize.npz``) and ``state.json``, the record of those stages: the
settings each ran with (:data:`STAGE_SETTINGS`), its test error, time and file size. A rerun
with the same settings resumes after the last stage whose record still holds; a record or state
file that does not is run again, never trusted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, shown
from .files import atomic_write
from .nn import schema
from .nn.architecture import MAX_PARAMETERS

STAGES = ("prune", "quantize", "encode")
STAGE_SETTINGS = {
    "prune": ("max_error_increase", "prune_share", "prune_recipes", "step", "max_rounds",
              "retrain_epochs", "retrain_lr_factor", "retrain_shift", "seed", "quick"),
    "quantize": ("bits", "init", "finetune_epochs", "finetune_lr", "small"),
}
"""The settings each stage's result depends on (besides the stages before it): changing the
bits reruns quantisation on the saved pruned model instead of pruning again."""


@dataclass
class Run:
    """Where a pipeline run keeps its files, and how large a model they may describe."""

    out: Path  # the .tcz file
    max_parameters: int = MAX_PARAMETERS

    @property
    def stage_dir(self) -> Path:
        return self.beside(".stages")

    @property
    def state_path(self) -> Path:
        return self.stage_dir / "state.json"

    def checkpoint(self, stage: str) -> Path:
        return self.stage_dir / f"{STAGES.index(stage) + 1}-{stage}.npz"

    def beside(self, suffix: str) -> Path:
        """A file beside the ``.tcz`` file: ``<stem><suffix>`` (``.report.md``, ...)."""
        return self.out.with_name(self.out.stem + suffix)

    def outputs(self) -> list[Path]:
        """Every file a run writes: the ``.tcz`` file, its report, chart, state and stages."""
        return [self.out, *map(self.beside, REPORT_SUFFIXES), self.state_path,
                *map(self.checkpoint, STAGE_SETTINGS)]

    def load_state(self, settings: Any, model_arg: str,
                   log: Callable[[str], Any] = print) -> dict[str, Any]:
        """The recorded stages that are still valid for ``settings`` (the run's
        :class:`~tinycompress.pipeline.Settings`), in order.

        A stage is kept if it ran on the same model with the same values of the settings it
        and every stage before it depend on (:data:`STAGE_SETTINGS`), its record holds what a
        fresh run's does (:func:`valid_record`) and its checkpoint exists. A state file that
        cannot be read is reported through ``log``, and every stage runs again.
        """
        state: dict[str, Any] = {"model": model_arg, "stages": {}}
        if not self.state_path.is_file():
            return state
        where = shown(str(self.state_path))
        try:
            saved = schema.parse_json(self.state_path.read_bytes(), where, ConfigError)
            if not (isinstance(saved, dict) and isinstance(saved.get("stages"), dict)):
                raise ConfigError(f"{where} is not an object with an object 'stages'")
        except (OSError, ConfigError) as exc:
            log(f"[state] {exc}; every stage runs again")
            return state
        if saved.get("model") != model_arg:
            return state
        for stage, keys in STAGE_SETTINGS.items():
            info = saved["stages"].get(stage)
            if not (valid_record(info, {k: getattr(settings, k) for k in keys})
                    and self.checkpoint(stage).is_file()):
                break
            state["stages"][stage] = info
        return state

    def save_state(self, state: dict[str, Any]) -> None:
        text = json.dumps(state, indent=1).encode()
        atomic_write(self.state_path, lambda f: f.write(text))


REPORT_SUFFIXES = (".report.json", ".report.md", ".sizes.png")
"""The files of a run's report, beside its ``.tcz`` file (see
:func:`tinycompress.pipeline.write_report`)."""


def valid_record(info: Any, settings: dict[str, Any]) -> bool:
    """Whether ``info``, a stage's record read from ``state.json``, can stand for a fresh run
    with ``settings``: the same settings, and a test error, a time and a file size."""
    return (isinstance(info, dict) and info.get("settings") == settings
            and all(type(info.get(k)) in (int, float) for k in ("error", "seconds", "file_bytes")))
