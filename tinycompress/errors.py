"""The project's own exceptions.

Every error a user can provoke with bad input (a missing or corrupt file, a wrong shape, a
diverging training run) is one of these, with a message that says what is wrong and what to
do about it. The command line prints ``str(error)`` on one line and exits non-zero.
"""

from __future__ import annotations


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
