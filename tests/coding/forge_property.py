"""Typed mutations of the shipped manifests, drawn by Hypothesis (:func:`mutations`), and the
property every one must satisfy: refused with a clean :class:`FormatError`, or decoded to
exactly the shipped weights (:func:`check`). :func:`property_batch` runs it outside pytest, for
the subprocess of :mod:`.forge` that runs under a memory ceiling."""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .forge import (
    DTYPE_NAMES,
    SHIPPED,
    TIME_LIMIT_S,
    Case,
    Original,
    allowed,
    expectation,
    field_name,
    fields,
    original,
    outcome,
    replaced,
    serialise,
)

JSON_VALUES = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=12), st.booleans(), st.none(),
    st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=3),
                                                            st.integers(0, 3), max_size=2),
    st.sampled_from(DTYPE_NAMES))
"""Any JSON value, small: numbers of every size (NaN and infinities included), strings,
booleans, null, lists, objects, and the dtype strings a forger might try."""

SETTINGS = settings(max_examples=60, deadline=TIME_LIMIT_S * 1000, derandomize=True,
                    database=None, suppress_health_check=[HealthCheck.too_slow,
                                                          HealthCheck.data_too_large])
"""Deterministic runs (``derandomize``), each example within the time limit (``deadline``)."""


@cache
def _original(name: str) -> Original:
    return original(name)


@st.composite
def mutations(draw: st.DrawFn) -> Case:
    """One forged file: a shipped manifest with one field set to any JSON value, a ``dtype``
    given to a layer, or an unknown key added to an object (meta's free-form contents apart)."""
    src = _original(draw(st.sampled_from(SHIPPED)))
    paths = [(p, v) for p, v in fields(src.doc) if p]
    how = draw(st.sampled_from(["set", "dtype", "key"]))
    if how == "set":
        path, old = draw(st.sampled_from(paths))
        new = draw(JSON_VALUES)
        doc, expect = replaced(src.doc, path, new), expectation(path, old, new)
        what = f"{field_name(path)} = {new!r:.60}"
    elif how == "dtype":
        i = draw(st.sampled_from([i for i, s in enumerate(src.doc["arch"]["layers"])
                                  if s["type"] in ("Dense", "Conv2D")]))
        dtype: Any = draw(st.sampled_from(DTYPE_NAMES) | st.text(max_size=6) | JSON_VALUES)
        doc = replaced(src.doc, ("arch", "layers", i, "config", "dtype"), dtype)
        expect, what = ("equal" if dtype == "float32" else "error"), f"layer {i} dtype {dtype!r}"
    else:
        objects = [p for p, v in paths if isinstance(v, dict) and p != ("meta",)]
        path = draw(st.sampled_from(objects))
        key = draw(st.text(min_size=1, max_size=6))
        if key in _at(src.doc, path):
            key += "\x00"
        doc, expect = replaced(src.doc, (*path, key), 0), "error"
        what = f"{field_name(path)} gains the key {key!r}"
    return Case(src.name, "hypothesis", what, serialise(doc, src.sections), expect)


def _at(doc: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def check(case: Case) -> str:
    """The outcome of ``case``, which must be one it allows (else AssertionError)."""
    kind, detail = outcome(case.blob, _original(case.source).arrays)
    assert kind in allowed(case.expect), f"{case.name} (expected {case.expect}): {kind} {detail}"
    return kind


def property_batch(examples: int) -> dict[str, int]:
    """Run the property on ``examples`` Hypothesis examples; the count of each outcome."""
    counts: Counter[str] = Counter()

    @settings(SETTINGS, max_examples=examples)
    @given(mutations())
    def prop(case: Case) -> None:
        counts[check(case)] += 1

    prop()
    return dict(counts)
