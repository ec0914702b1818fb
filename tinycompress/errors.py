"""The project's own exceptions.

Every error a user can provoke with bad input (a missing or corrupt file, a wrong shape, a
diverging training run) is one of these, with a message that says what is wrong and what to
do about it. The command line prints ``str(error)`` on one line and exits non-zero.

Text that comes from the user or from a file (a layer name, an argument, a path) enters a message
through :func:`shown`: escaped and cut, so a name holding a newline or a megabyte of characters
cannot split or flood the one line.
"""

from __future__ import annotations

import reprlib


class TinyCompressError(Exception):
    """Base class of every error tinycompress raises on purpose."""


class DataError(TinyCompressError):
    """A dataset file is missing, truncated, corrupt or inconsistent."""


class CheckpointError(TinyCompressError):
    """A checkpoint file is missing, truncated, corrupt or describes an unknown model."""


class FormatError(TinyCompressError):
    """A compressed ``.tcz`` file is malformed (bad magic, version, checksum, sizes, codes)."""


class ShapeError(TinyCompressError, ValueError):
    """An array has the wrong shape or dtype for the layer or function it was given to."""


class TrainingDivergedError(TinyCompressError):
    """The loss became NaN or infinite during training."""


class UsageError(TinyCompressError):
    """A command or function was given arguments that name nothing or do not fit together."""


class ConfigError(TinyCompressError, ValueError):
    """A settings file is unreadable or names settings that do not exist."""


class ExerciseError(TinyCompressError):
    """Solution markers in the source are malformed or disagree with the exercise task list."""


class OutputError(TinyCompressError):
    """An output cannot be written safely: it is a folder, a special file, a read-only file or a
    file the same command reads."""


MAX_MESSAGE = 400
"""The longest one-line message the command line prints, in characters."""


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` as one printable line of at most ``limit`` characters.

    Characters that are not printable (a newline, a terminal escape) are written as Python
    escapes (``\\n``, ``\\x1b``); a longer text is cut and ends in ``...``.
    """
    head = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit + 1])
    return head if len(head) <= limit else head[: limit - 3] + "..."


_REPR = reprlib.Repr()  # stops early: a huge value is never rendered whole
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 2 * MAX_MESSAGE
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 8


def shown(value: object, limit: int = 200) -> str:
    """``repr(value)`` for an error message: escaped, on one line, at most ``limit`` characters.

    >>> shown("fc1\\nfc2")
    "'fc1\\\\nfc2'"
    """
    try:
        text = _REPR.repr(value)
    except ValueError:  # an integer of thousands of digits refuses to become text
        text = f"<{type(value).__name__} too long to show>"
    return one_line(text, limit)


class InteropError(TinyCompressError):
    """A model file of another framework (ONNX, safetensors) is malformed, uses what the engine
    does not have, or needs the optional ``interop`` extra that is not installed."""
