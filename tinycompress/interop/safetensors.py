"""The safetensors file, read and written with NumPy alone: a length, a JSON header, raw bytes.

Hugging Face's format for state dicts (https://huggingface.co/docs/safetensors) is simple
enough to need no library, and unlike a ``.pt`` file nothing in it is executed (a ``.pt`` file
is a pickle: loading one runs whatever code it names). Layout::

    offset  size  field
    0       8     N, the header's length (unsigned 64-bit little-endian)
    8       N     the header: UTF-8 JSON, an object; may end in spaces (padding)
    8+N     ...   the data: every tensor's bytes, little-endian, C order

The header maps each tensor's name to ``{"dtype": "F32", "shape": [500, 800],
"data_offsets": [begin, end]}`` (offsets into the data, ``end`` exclusive), and the optional
key ``"__metadata__"`` to an object of strings.

Reading (:func:`from_bytes`) validates every field before it builds an array:

- ``N`` at most :data:`MAX_HEADER_BYTES` and within the file; the header JSON, an object
  repeating no key, beginning with ``{``;
- each name a printable string of at most :data:`MAX_NAME` characters, at most
  :data:`MAX_TENSORS` tensors; each entry exactly the three keys; ``dtype`` one of
  :data:`DTYPES` (the ones NumPy has); ``shape`` at most :data:`MAX_NDIM` sizes;
  ``data_offsets`` two integers with ``end - begin`` exactly the bytes the shape and dtype need;
- the tensors, sorted by offset, tile the data exactly: the first begins at 0, each begins
  where the previous one ends (no overlap, no hole), the last ends at the end of the file (no
  trailing bytes);
- ``__metadata__`` an object of at most :data:`MAX_TENSORS` string values.

The arrays are views of the file's bytes (nothing is copied or allocated beyond the file).
Any violation raises :class:`~tinycompress.errors.InteropError`, one line naming the file and
the field. Writing (:func:`to_bytes`, :func:`save`) lays the tensors out in the order given and
pads the header with spaces to a multiple of 8 bytes, as the reference writer does.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InteropError, shown
from ..files import atomic_write
from ..nn.schema import Int, Items, OneOf, Text, check_object, parse_json
from .support import read_bounded

DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype("?"), "U8": np.dtype("u1"), "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"), "I16": np.dtype("<i2"), "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"), "I32": np.dtype("<i4"), "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F64": np.dtype("<f8"),
}
"""The safetensors dtypes read and written, as little-endian NumPy dtypes (BF16 and the FP8
types have no NumPy dtype and are refused)."""

MAX_HEADER_BYTES = 100_000_000
"""The longest header read (the reference implementation's limit)."""

MAX_FILE_BYTES = 1 << 33
"""The largest file read: 8 GiB."""

MAX_TENSORS = 1 << 16
MAX_NAME = 1000
MAX_NDIM = 8
MAX_SIZE = 1 << 40
"""At most this many tensors, characters per name, sizes per shape; no size above MAX_SIZE."""

METADATA = "__metadata__"
_LENGTH = struct.Struct("<Q")


def _entry_fields(data_bytes: int) -> dict[str, Any]:
    return {"dtype": OneOf(tuple(DTYPES)), "shape": Items(MAX_NDIM, Int(0, MAX_SIZE)),
            "data_offsets": Items(2, Int(0, data_bytes), min_len=2)}


def _header(blob: bytes, where: str) -> tuple[dict[str, Any], int]:
    """The parsed header and the offset where the data begins."""
    if len(blob) < _LENGTH.size:
        raise InteropError(f"{where}: {len(blob)} bytes, too short for a safetensors file "
                           "(an 8-byte header length comes first)")
    (n,) = _LENGTH.unpack_from(blob)
    if n > min(MAX_HEADER_BYTES, len(blob) - _LENGTH.size):
        raise InteropError(f"{where}: the header length is {n:,} bytes but the file has "
                           f"{len(blob) - _LENGTH.size:,} after it (limit {MAX_HEADER_BYTES:,}):"
                           " truncated, or not a safetensors file")
    text = blob[_LENGTH.size : _LENGTH.size + n]
    if not text.startswith(b"{"):
        raise InteropError(f"{where}: the header does not begin with '{{': not a safetensors file")
    header = parse_json(text, f"{where}: the header", InteropError)
    if not isinstance(header, dict) or len(header) > MAX_TENSORS + 1:
        raise InteropError(f"{where}: the header is not an object of at most {MAX_TENSORS} "
                           "tensors")
    return header, _LENGTH.size + n


def _metadata(value: Any, where: str) -> dict[str, str]:
    """``__metadata__``: an object of at most :data:`MAX_TENSORS` strings."""
    if (not isinstance(value, dict) or len(value) > MAX_TENSORS
            or not all(isinstance(v, str) for v in value.values())):
        raise InteropError(f"{where}: {METADATA} is {shown(value)}; expected an object of "
                           f"at most {MAX_TENSORS} strings")
    return dict(value)


def _entries(header: dict[str, Any], data_bytes: int, where: str
             ) -> dict[str, tuple[np.dtype, tuple[int, ...], int, int]]:
    """Every tensor's ``(dtype, shape, begin, end)``, each checked against the data's size."""
    fields, names = _entry_fields(data_bytes), Text(MAX_NAME)
    out = {}
    for name, entry in header.items():
        if name == METADATA:
            continue
        at = f"{where}: tensor {shown(name)}"
        names.check(name, f"{where}: a tensor name", InteropError)
        spec = check_object(entry, fields, at, InteropError, required=fields)
        dtype, shape = DTYPES[spec["dtype"]], tuple(spec["shape"])
        begin, end = spec["data_offsets"]
        need = math.prod(shape) * dtype.itemsize  # Python integers: no wrap-around
        if end - begin != need:
            raise InteropError(f"{at}: data_offsets {[begin, end]} span {end - begin:,} bytes; "
                               f"{spec['dtype']} {list(shape)} needs {need:,}")
        out[name] = (dtype, shape, begin, end)
    return out


def _check_tiling(entries: dict[str, tuple[Any, Any, int, int]], data_bytes: int,
                  where: str) -> None:
    """Refuse overlapping tensors, holes between them and bytes after the last one."""
    at = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: kv[1][2:]):
        if begin != at:
            what = "overlaps the tensor before it" if begin < at else f"leaves a hole at {at:,}"
            raise InteropError(f"{where}: tensor {shown(name)} begins at byte {begin:,} of the "
                               f"data and {what}")
        at = end
    if at != data_bytes:
        raise InteropError(f"{where}: the tensors end at byte {at:,} of the data but the file "
                           f"holds {data_bytes:,}: trailing bytes")


def from_bytes(blob: bytes, where: str = "safetensors"
               ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse and validate safetensors bytes: ``(tensors, metadata)`` in the header's order.

    The arrays are read-only views of ``blob`` in native byte order (see the module docstring
    for every check; a violation raises :class:`InteropError`).
    """
    header, start = _header(blob, where)
    data_bytes = len(blob) - start
    metadata = _metadata(header[METADATA], where) if METADATA in header else {}
    entries = _entries(header, data_bytes, where)
    _check_tiling(entries, data_bytes, where)
    tensors = {}
    for name, (dtype, shape, begin, _) in entries.items():
        flat = np.frombuffer(blob, dtype, math.prod(shape), start + begin)
        tensors[name] = flat.astype(dtype.newbyteorder("="), copy=False).reshape(shape)
    return tensors, metadata


def load(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read a safetensors file: ``(tensors, metadata)`` (:func:`from_bytes`, naming the file)."""
    return from_bytes(*read_bounded(path, MAX_FILE_BYTES))


def _code(name: str, array: np.ndarray) -> str:
    for code, dtype in DTYPES.items():
        if array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize:
            return code
    raise InteropError(f"tensor {shown(name)} has dtype {array.dtype}, which safetensors files "
                       f"written here do not hold; allowed: {', '.join(DTYPES)}")


def to_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors bytes of ``tensors`` (in their order) and string ``metadata``."""
    header: dict[str, Any] = {}
    if metadata:
        header[METADATA] = _metadata(metadata, "metadata")
    chunks, offset = [], 0
    for name, array in tensors.items():
        code = _code(name, np.asarray(array))
        Text(MAX_NAME).check(name, "a tensor name", InteropError)
        if name == METADATA:
            raise InteropError(f"a tensor may not be named {METADATA!r}")
        data = np.ascontiguousarray(array, DTYPES[code]).tobytes()
        header[name] = {"dtype": code, "shape": list(np.shape(array)),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(len(text) + _LENGTH.size) % 8)  # the data starts 8-byte aligned
    return _LENGTH.pack(len(text)) + text + b"".join(chunks)


def save(path: str | Path, tensors: dict[str, np.ndarray],
         metadata: dict[str, str] | None = None) -> Path:
    """Write ``tensors`` and ``metadata`` as a safetensors file, atomically; returns the path."""
    blob = to_bytes(tensors, metadata)
    atomic_write(path, lambda f: f.write(blob))
    return Path(path)
