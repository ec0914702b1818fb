"""The source checkout exercises are made from, and the files a student copy is made of."""

from __future__ import annotations

import os
from pathlib import Path

from tinycompress.errors import ExerciseError

PACKAGE = "tinycompress"
_COPIED_FILES = ("pyproject.toml", "README.md", "LICENSE", "conftest.py", ".gitignore")
_COPIED_DIRS = (PACKAGE, "tests", "chapters", "bench", "data")
_SKIPPED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache"}
# The generator's tests and the gate that checks student copies are for maintainers.
_NOT_COPIED = ("tests", "exercises")


def project_root() -> Path:
    """The source checkout this package was imported from (the folder of ``pyproject.toml``)."""
    return Path(__file__).resolve().parents[2]


def source_root(root: str | os.PathLike[str] | None = None) -> Path:
    """``root`` (default: :func:`project_root`), checked to be a checkout of the project."""
    base = project_root() if root is None else Path(root)
    if not (base / PACKAGE).is_dir() or not (base / "pyproject.toml").is_file():
        raise ExerciseError(
            f"{base} is not a tinycompress source checkout (no {PACKAGE}/ and pyproject.toml); "
            "exercises are made from a clone of the repository: pass its folder with --source"
        )
    return base


def package_sources(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The ``.py`` files of the package under ``root`` (default: this checkout), sorted."""
    base = source_root(root)
    return sorted(p for p in (base / PACKAGE).rglob("*.py") if "__pycache__" not in p.parts)


def project_files(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The files a student copy is made of, relative to ``root``: the package with its
    sub-packages, the tests with their sub-folders, chapters, benchmarks, data and the top-level
    project files (caches and ``tests/exercises/``, the generator's own tests, left out)."""
    base = source_root(root)
    files = [Path(name) for name in _COPIED_FILES if (base / name).is_file()]
    for folder in _COPIED_DIRS:
        for path in sorted((base / folder).rglob("*")):
            rel = path.relative_to(base)
            if (
                path.is_file()
                and not _SKIPPED_NAMES.intersection(rel.parts)
                and path.suffix != ".pyc"
                and rel.parts[: len(_NOT_COPIED)] != _NOT_COPIED
            ):
                files.append(rel)
    return files
