"""What the readers of this package share: the optional ``interop`` extra, and bounded reads.

``tinycompress`` itself depends on NumPy alone, and every module of this package imports
without the extra: the ONNX reader, writer and runtime check call :func:`require` when they
run, which names the extra to install if a package is missing. (safetensors files need no
package: :mod:`.safetensors` reads and writes them with NumPy.)

A file from elsewhere is read by :func:`read_bounded`, which refuses one larger than its
format's limit before reading a byte of it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from ..errors import InteropError
from ..nn.schema import plain

EXTRA = "interop"
INSTALL = f"pip install 'tinycompress[{EXTRA}]'"
"""The command that installs the extra (``pip install -e '.[interop]'`` in a checkout)."""


def require(module: str, purpose: str = "ONNX files") -> ModuleType:
    """The module ``module`` (``"onnx"``, ``"onnxruntime"``), or a one-line
    :class:`InteropError` naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise InteropError(f"{purpose} need the Python package {module!r}, which is not "
                           f"installed: {INSTALL}") from exc


def read_bounded(path: str | Path, limit: int) -> tuple[bytes, str]:
    """The bytes of ``path`` and how messages name it, refusing a file over ``limit`` bytes.

    Raises
    ------
    InteropError
        If the file is missing, unreadable or too large.
    """
    path = Path(path)
    where = plain(path)
    try:
        size = path.stat().st_size
        if size > limit:
            raise InteropError(f"{where}: {size:,} bytes, over the limit of {limit:,}")
        return path.read_bytes(), where
    except OSError as exc:
        raise InteropError(f"cannot read {where} ({plain(exc.strerror or exc)})") from exc
