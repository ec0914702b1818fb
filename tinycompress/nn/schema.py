"""Field-by-field checks of what a file says, and how its text appears in an error message.

Every reader of a project file (the architecture shared by checkpoints and ``.tcz`` files, a
checkpoint's metadata, a recorded input normalisation) validates the parsed JSON with the small
checkers here before it builds or allocates anything:

- :class:`Int`, :class:`Real`, :class:`Flag`, :class:`Text`, :class:`OneOf`, :class:`Items`
  and :class:`Anything`: one value's type and range. An integer is an ``int`` (not a float, a
  bool or a string); a real number is an ``int`` or a ``float`` and finite;
- :func:`check_object`: an object's keys (none unknown, none required missing), then each field;
- :func:`parse_json`: UTF-8 JSON in which no object repeats a key.

Each raises the reading format's own error class (``error``) with a one-line message that names
the field (``model.layers[3].config.kernel_size``) and the values it allows. A value taken from
a file appears through :func:`~tinycompress.errors.shown` (``repr``-escaped, cut), a path or
a library's message through :func:`plain`, so no message holds a raw newline or grows with the
input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from ..errors import TinyCompressError, one_line, shown

ErrorClass = type[TinyCompressError]


def plain(text: Any, limit: int = 200) -> str:
    """A path, a list of names or a library's message as it appears in ours: on one line,
    control characters escaped, at most ``limit`` characters (:func:`~.errors.one_line`)."""
    return one_line(str(text), limit)


def refuse(where: str, value: Any, expected: str, error: ErrorClass) -> NoReturn:
    """Raise ``error``: the field ``where`` holds ``value``, not what it should."""
    raise error(f"{where} is {shown(value)}; expected {expected}")


class Field(Protocol):
    """A checker of one value: :meth:`check` returns it (normalised) or raises ``error``."""

    expected: str

    def check(self, value: Any, where: str, error: ErrorClass) -> Any: ...


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Int:
    """An integer in ``lo..hi`` (or ``null`` when ``null`` is true: the constructor default)."""

    lo: int
    hi: int
    null: bool = False

    @property
    def expected(self) -> str:
        return f"an integer in {self.lo}..{self.hi}" + (" or null" if self.null else "")

    def check(self, value: Any, where: str, error: ErrorClass) -> int | None:
        if (value is None and self.null) or (_is_int(value) and self.lo <= value <= self.hi):
            return value
        refuse(where, value, self.expected, error)


@dataclass(frozen=True)
class Real:
    """A finite number in the interval from ``lo`` to ``hi``, each end open or closed."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False

    @property
    def expected(self) -> str:
        if math.isinf(self.lo) and math.isinf(self.hi):
            return "a finite number"
        left = "(" if self.lo_open or math.isinf(self.lo) else "["
        right = ")" if self.hi_open or math.isinf(self.hi) else "]"
        return f"a finite number in {left}{self.lo:g}, {self.hi:g}{right}"

    def check(self, value: Any, where: str, error: ErrorClass) -> float:
        if (_is_int(value) or isinstance(value, float)) and math.isfinite(value):
            above = value > self.lo if self.lo_open else value >= self.lo
            below = value < self.hi if self.hi_open else value <= self.hi
            if above and below:
                return float(value)
        refuse(where, value, self.expected, error)


@dataclass(frozen=True)
class Flag:
    """``true`` or ``false``."""

    expected: str = "true or false"

    def check(self, value: Any, where: str, error: ErrorClass) -> bool:
        if isinstance(value, bool):
            return value
        refuse(where, value, self.expected, error)


@dataclass(frozen=True)
class Text:
    """A printable string of 1 to ``max_len`` characters, none of them in ``forbidden``."""

    max_len: int
    forbidden: str = ""

    @property
    def expected(self) -> str:
        without = f" without {', '.join(map(repr, self.forbidden))}" if self.forbidden else ""
        return f"a printable string of 1..{self.max_len} characters{without}"

    def check(self, value: Any, where: str, error: ErrorClass) -> str:
        if (isinstance(value, str) and 0 < len(value) <= self.max_len and value.isprintable()
                and not any(c in value for c in self.forbidden)):
            return value
        refuse(where, value, self.expected, error)


@dataclass(frozen=True)
class OneOf:
    """Exactly one of ``choices`` (of the same type: ``true`` is not ``1``)."""

    choices: tuple[Any, ...]

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(map(repr, self.choices))

    def check(self, value: Any, where: str, error: ErrorClass) -> Any:
        if any(type(value) is type(c) and value == c for c in self.choices):
            return value
        refuse(where, value, self.expected, error)


@dataclass(frozen=True)
class Items:
    """A list of ``min_len..max_len`` items, each checked by ``item`` if given."""

    max_len: int
    item: Field | None = None
    min_len: int = 0

    @property
    def expected(self) -> str:
        of = f" each {self.item.expected}" if self.item is not None else ""
        return f"a list of {self.min_len}..{self.max_len} items{of}"

    def check(self, value: Any, where: str, error: ErrorClass) -> list[Any]:
        if not isinstance(value, list):
            refuse(where, value, self.expected, error)
        if not self.min_len <= len(value) <= self.max_len:
            raise error(f"{where} has {len(value):,} items; expected {self.expected}")
        if self.item is None:
            return value
        return [self.item.check(v, f"{where}[{i}]", error) for i, v in enumerate(value)]


@dataclass(frozen=True)
class Anything:
    """Any value: checked later, by the reader that knows what it means."""

    expected: str = "anything"

    def check(self, value: Any, where: str, error: ErrorClass) -> Any:
        return value


def check_object(value: Any, fields: Mapping[str, Field], where: str, error: ErrorClass,
                 required: Collection[str] = ()) -> dict[str, Any]:
    """``value`` as a dict of checked fields: an object whose keys are all in ``fields`` and
    include every key of ``required``, each value passed through its field's checker."""
    if not isinstance(value, dict):
        refuse(where, value, "an object", error)
    unknown = next((key for key in value if key not in fields), None)
    if unknown is not None:
        raise error(f"{where} has the unknown key {shown(unknown)}; allowed: "
                    f"{', '.join(fields) or 'none'}")
    missing = next((key for key in required if key not in value), None)
    if missing is not None:
        raise error(f"{where} lacks the key {missing!r}; required: {', '.join(required)}")
    return {key: fields[key].check(v, f"{where}.{key}", error) for key, v in value.items()}


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {shown(key)} appears twice in one object")
        out[key] = value
    return out


def parse_json(data: bytes, where: str, error: ErrorClass) -> Any:
    """The JSON document encoded in ``data`` (UTF-8), with no object repeating a key.

    Malformed text, a repeated key, nesting too deep for the parser and integers too long for
    Python all raise ``error``.
    """
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise error(f"{where} is not readable JSON ({plain(exc)})") from exc
