"""Tests with the forged files of tests/coding/forge.py: every one is refused with a one-line
FormatError or decodes to exactly the source's weights (or, for a changed value or scale whose
checksum was recomputed, to a model of the same shapes), within a memory ceiling and a time
limit, and the corpus covers every field of every source's manifest: the two version 1
fixtures and two files of version 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import forge
from .forge_cases import corpus, forged_fields

ROOT = Path(__file__).resolve().parents[2]
CORPUS = corpus()
PARTS = sorted({(c.source, c.part) for c in CORPUS})
LIMITED_ENV = {**os.environ, "MALLOC_ARENA_MAX": "1", "OPENBLAS_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def references() -> dict[str, list]:
    return {name: forge.original(name).arrays for name in forge.SHIPPED}


@pytest.mark.parametrize("source, part", PARTS, ids=[f"{s}: {p}" for s, p in PARTS])
def test_forged_files_are_refused_cleanly_or_decode_exactly(
        source: str, part: str, references: dict[str, list]) -> None:
    """Each forged file of one part of one shipped file; a refusal is one line of at most
    MAX_MESSAGE characters (else its outcome is "bad message")."""
    failures = []
    for case in (c for c in CORPUS if (c.source, c.part) == (source, part)):
        kind, detail = forge.outcome(case.blob, references[case.source])
        if kind not in forge.allowed(case.expect):
            failures.append(f"{case.what} (expected {case.expect}): {kind} {detail}")
    assert not failures, "\n".join(failures[:30])


def test_the_corpus_covers_every_field_of_every_manifest() -> None:
    changed = {(c.source, c.what.partition(" = ")[0]) for c in CORPUS}
    for name in forge.SHIPPED:
        for path, _ in forged_fields(forge.original(name)):
            assert (name, forge.field_name(path)) in changed, forge.field_name(path)
    assert len(list(forge.fields(forge.original("lenet5").doc))) == len(list(forged_fields(
        forge.original("lenet5"))))  # version 1: every field
    expected = {c.expect for c in CORPUS}
    assert expected == {"error", "equal", "any", "decodes"} and len(CORPUS) > 2500
    assert {forge.original(name).version for name in forge.SHIPPED} == {1, 2}


def test_corpus_and_hypothesis_batch_under_memory_and_time_limits() -> None:
    """The whole corpus, then 100 Hypothesis examples, decoded in a subprocess whose address
    space is capped 200 MB above what it held after its imports (the models are 1-2 MB); the
    only "different" outcomes are those of cases that expect "decodes"."""
    run = subprocess.run(
        [sys.executable, "-m", "tests.coding.forge", "--check", "--examples", "100"],
        cwd=ROOT, env=LIMITED_ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary["failures"] == 0 and summary["cases"] == len(CORPUS)
    assert set(summary["outcomes"]) == {"error", "equal", "different"}
    assert summary["slowest_s"] < forge.TIME_LIMIT_S
    assert sum(summary["hypothesis"].values()) == 100
    assert set(summary["hypothesis"]) <= {"error", "equal", "different"}


def test_the_memory_ceiling_bites() -> None:
    """Under the same ceiling, allocating 300 MB fails: the limit is real, not vacuous."""
    code = ("import numpy as np; from tests.coding import forge; forge._ceiling(200)\n"
            "try:\n    np.ones(300 << 20, np.uint8)\nexcept MemoryError:\n    print('refused')")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=LIMITED_ENV,
                         capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "refused", run.stderr[-2000:]
