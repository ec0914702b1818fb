"""The ``.tcz`` file: a whole compressed model in one documented, pickle-free binary container.

Han, Mao & Dally, *Deep Compression* (ICLR 2016), §2-§4, store a pruned, quantised model as
relative indices, codebook indices and codebooks; :mod:`.sections` chooses, per tensor, the
smallest such form. This module writes the forms with a manifest and checksums
(:func:`to_bytes`, :func:`save`) and reads them back bit for bit (:func:`from_bytes`,
:func:`load`, and :func:`read_records`, which also returns what the file says about each
tensor; :mod:`.accounting` turns that into the paper's size tables).

File layout (all integers little-endian)::

    offset  size  field
    0       4     magic b"\\x89TCZ"
    4       1     format version (1)
    5       4     manifest length M (uint32)
    9       4     CRC-32 of the manifest bytes
    13      M     manifest: zlib-compressed compact JSON
    13+M    ...   one section per tensor, in manifest order: its bytes, then their CRC-32

The manifest is ``{"arch": <architecture>, "meta": {...}, "t": [tensor, ...]}`` with the
architecture of :func:`tinycompress.nn.architecture.architecture` (layer types, names and
configs: the shapes follow from it) and one entry per parameter and buffer, in the order of
:func:`tinycompress.nn.architecture.state_arrays`: the form :mod:`.sections` chose for that
tensor (raw, dense coded or sparse coded) and its section's size ``z``. :mod:`.manifest`
states every field's rules.

Reading validates everything before it allocates, in the file's order: the magic, version and
checksums; the manifest field by field (:mod:`.manifest`: types, ranges and keys, the model
within ``max_parameters`` values, each section's size implied by its entry), with nothing
after its zlib stream; that the sizes add up to the file's, with nothing after the last
section; then, section by section, that code-length tables are prefix codes, bit streams end
exactly where they should, codebooks are sorted and every value is finite. Any violation
raises :class:`FormatError`, one line; :func:`load` and :func:`read_file` name the file.
Writing refuses what reading would: a tensor that is not finite float32, meta that is not
plain JSON or records an invalid normalization; :func:`save` writes nothing it has not
decoded back to the model bit for bit.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError, UsageError, shown
from ..files import atomic_write
from ..nn.architecture import MAX_PARAMETERS, architecture, build_from_architecture, state_arrays
from ..nn.model import Sequential
from ..nn.schema import plain
from .manifest import MAX_GAP_BITS, check_meta, check_sizes, parse
from .sections import AUTO_INDEX_BITS, decode_tensor, encode_tensor, storable

MAGIC = b"\x89TCZ"
VERSION = 1
_HEADER = struct.Struct("<4sBII")  # magic, version, manifest length, manifest CRC-32

MAX_MANIFEST_BYTES = 1 << 20
"""Largest manifest, compressed or inflated (MobileNetV1's inflates to 12 KB): the objects
JSON parses it into stay within some tens of MB."""

IndexBits = int | dict[str, int] | None
"""Gap width: one for all tensors, per layer (``{"fc1": 5}``) or per tensor (``"fc1/W"``),
or None to try every width in :data:`AUTO_INDEX_BITS` and keep the smallest."""


def _bits_for(name: str, index_bits: IndexBits) -> tuple[int, ...]:
    """The gap widths to try for the tensor ``name`` (see :data:`IndexBits`)."""
    if isinstance(index_bits, dict):
        index_bits = index_bits.get(name, index_bits.get(name.split("/")[0]))
    if index_bits is None:
        return AUTO_INDEX_BITS
    if type(index_bits) is not int or not 1 <= index_bits <= MAX_GAP_BITS:
        raise UsageError(f"index bits must be an integer in 1..{MAX_GAP_BITS}, got "
                         f"{shown(index_bits)} for {shown(name)}")
    return (index_bits,)


def to_bytes(model: Sequential, index_bits: IndexBits = None,
             meta: dict[str, Any] | None = None) -> bytes:
    """The ``.tcz`` bytes of ``model`` (see the module docstring for the layout).

    Raises :class:`FormatError` for a tensor :func:`storable` refuses or ``meta`` that
    :func:`.manifest.check_meta` refuses or JSON cannot hold, and
    :class:`~tinycompress.errors.UsageError` for gap widths outside ``1..16``.
    """
    descs, sections = [], []
    for name, arr in state_arrays(model).items():
        arr = storable(name, arr)
        desc, data = encode_tensor(arr, _bits_for(name, index_bits))
        descs.append({**desc, "z": len(data)})
        sections.append(data)
    doc = {"arch": architecture(model), "meta": check_meta(meta or {}), "t": descs}
    return assemble(doc, sections)


def assemble(doc: dict[str, Any], sections: list[bytes]) -> bytes:
    """The file of a manifest ``doc`` and its tensor sections, in the layout above.

    The header, the manifest (compact standard JSON, zlib level 9), then each section followed
    by its CRC-32. Only that ``doc`` is plain JSON is checked: :func:`to_bytes` makes ``doc``
    and ``sections`` agree.
    """
    try:
        text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise FormatError(f"the manifest is not plain JSON: {plain(exc)}") from exc
    manifest = zlib.compress(text.encode(), 9)
    header = _HEADER.pack(MAGIC, VERSION, len(manifest), zlib.crc32(manifest))
    return header + manifest + b"".join(s + struct.pack("<I", zlib.crc32(s)) for s in sections)


def checked_bytes(model: Sequential, index_bits: IndexBits = None,
                  meta: dict[str, Any] | None = None) -> bytes:
    """:func:`to_bytes`, decoded again and compared bit for bit with ``model``.

    Raises :class:`FormatError` unless the bytes hold exactly the model's weights, so that a
    caller writes (and replaces an existing file with) only bytes known to be good.
    """
    blob = to_bytes(model, index_bits, meta)
    if not _decodes_to(blob, model):
        raise FormatError("the encoded bytes do not decode to the model; nothing was written")
    return blob


def save(model: Sequential, path: str | Path, index_bits: IndexBits = None,
         meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (and JSON-able ``meta``) as a ``.tcz`` file, atomically, once its bytes
    are known to decode to it bit for bit (:func:`checked_bytes`)."""
    return write_file(checked_bytes(model, index_bits, meta), path)


def _decodes_to(blob: bytes, model: Sequential) -> bool:
    """Whether ``blob`` decodes to exactly the weights of ``model`` (as float32), bit for bit."""
    want = state_arrays(model)
    total = sum(a.size for a in want.values())
    got = state_arrays(from_bytes(blob, max(MAX_PARAMETERS, total))[0])
    return list(got) == list(want) and all(
        got[k].shape == want[k].shape
        and got[k].tobytes() == np.asarray(want[k], np.float32).tobytes() for k in want)


def write_file(blob: bytes, path: str | Path) -> Path:
    """Write ``.tcz`` bytes (from :func:`to_bytes`) to ``path``, atomically; returns the path."""
    atomic_write(path, lambda f: f.write(blob))
    return Path(path)


@dataclass
class TensorRecord:
    """What the file says about one tensor: name, manifest entry and section bytes."""

    name: str
    desc: dict[str, Any]
    section: bytes
    array: np.ndarray


@dataclass
class _Plan:
    """A file's header and manifest, checked: the model (placeholder weights), its meta, the
    tensor entries, their section sizes, and where the first section starts."""

    model: Sequential
    meta: dict[str, Any]
    entries: list[dict[str, Any]]
    sizes: list[int]
    start: int

    @property
    def end(self) -> int:
        """The file's length, by its manifest: each section and its CRC-32."""
        return self.start + sum(self.sizes) + 4 * len(self.sizes)

    def check_length(self, actual: int) -> None:
        """Refuse a file of ``actual`` bytes that is not of the manifest's length."""
        if actual != self.end:
            raise FormatError(f"the file has {actual} bytes but its manifest accounts for "
                              f"{self.end}: it is truncated or has bytes after its last section")


def read_records(blob: bytes, max_parameters: int = MAX_PARAMETERS
                 ) -> tuple[Sequential, dict[str, Any], list[TensorRecord]]:
    """Parse and validate ``.tcz`` bytes: ``(model, meta, records)``.

    In the order of the file: the header and manifest, the model the architecture describes
    (placeholder weights, at most ``max_parameters`` values) and the sections' sizes, checked
    against that model and the file's length (:func:`_plan`); then each section, checksummed
    and decoded (:func:`_read_sections`), whose arrays replace the placeholders.

    Raises
    ------
    FormatError
        On any malformed, truncated, corrupt or oversized content.
    """
    plan = _plan(blob, max_parameters)
    plan.check_length(len(blob))
    records = _read_sections(blob, plan)
    arrays = {r.name: r.array for r in records}
    for layer in plan.model.layers:
        for store in (layer.params, layer.buffers):
            for key in store:
                store[key] = arrays[f"{layer.name}/{key}"]
    return plan.model, plan.meta, records


def _plan(blob: bytes, max_parameters: int) -> _Plan:
    """Check the header, the manifest (:mod:`.manifest`) and the model it describes; ``blob``
    need only reach the end of the manifest."""
    arch, meta, entries, start = _read_manifest(blob, max_parameters)
    model = build_from_architecture(arch, FormatError, where="manifest.arch",
                                    max_parameters=max_parameters)
    return _Plan(model, meta, entries, check_sizes(entries, state_arrays(model)), start)


def _read_manifest(blob: bytes, max_parameters: int
                   ) -> tuple[Any, dict[str, Any], list[dict[str, Any]], int]:
    """Check the header, inflate and parse the manifest: ``(arch, meta, entries, end)``.

    ``end`` is the offset of the first section; :func:`.manifest.parse` checks the content.
    """
    if len(blob) < _HEADER.size:
        raise FormatError(f"only {len(blob)} bytes: too short for a .tcz header")
    magic, version, mlen, mcrc = _HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise FormatError(f"not a .tcz file (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise FormatError(f".tcz format version {version}; this tinycompress reads {VERSION}")
    if mlen > MAX_MANIFEST_BYTES:
        raise FormatError(f"the header announces a manifest of {mlen:,} bytes, over the limit "
                          f"of {MAX_MANIFEST_BYTES:,}")
    manifest = blob[_HEADER.size : _HEADER.size + mlen]
    if len(manifest) != mlen:
        raise FormatError(f"the file is truncated: the manifest needs {mlen} bytes")
    if zlib.crc32(manifest) != mcrc:
        raise FormatError("the manifest's checksum does not match: the file is corrupt")
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(manifest, MAX_MANIFEST_BYTES)
    except zlib.error as exc:
        raise FormatError(f"the manifest is not a zlib stream ({plain(exc)})") from None
    if inflater.unconsumed_tail:
        raise FormatError(f"the manifest inflates past the limit of {MAX_MANIFEST_BYTES:,} bytes")
    if not inflater.eof or inflater.unused_data:
        raise FormatError("the manifest's zlib stream is incomplete or followed by "
                          f"{len(inflater.unused_data)} other bytes")
    return (*parse(text, max_parameters), _HEADER.size + mlen)


def _read_sections(blob: bytes, plan: _Plan) -> list[TensorRecord]:
    """Each section of ``plan``, its CRC-32 checked, decoded to its expected tensor."""
    records, pos = [], plan.start
    expected = state_arrays(plan.model)
    for (name, ref), desc, size in zip(expected.items(), plan.entries, plan.sizes, strict=True):
        section = blob[pos : pos + size]
        (crc,) = struct.unpack_from("<I", blob, pos + size)
        pos += size + 4
        where = f"tensor {shown(name)}"
        if zlib.crc32(section) != crc:
            raise FormatError(f"{where}: the section's checksum does not match: the file is "
                              "corrupt")
        flat = decode_tensor(section, desc, ref.size, ref.dtype, where)
        records.append(TensorRecord(name, desc, section, flat.reshape(ref.shape)))
    return records


def from_bytes(blob: bytes, max_parameters: int = MAX_PARAMETERS
               ) -> tuple[Sequential, dict[str, Any]]:
    """``.tcz`` bytes back to ``(model, meta)``, the inverse of :func:`to_bytes`."""
    model, meta, _ = read_records(blob, max_parameters)
    return model, meta


def load(path: str | Path, max_parameters: int = MAX_PARAMETERS
         ) -> tuple[Sequential, dict[str, Any]]:
    """Read a ``.tcz`` file: ``(model, meta)`` with the exact weights that were saved.

    A model of more than ``max_parameters`` values is refused before anything is allocated;
    every error names the file.
    """
    blob = read_file(path, max_parameters)
    with naming(path):
        return from_bytes(blob, max_parameters)


@contextmanager
def naming(path: str | Path) -> Iterator[None]:
    """Re-raise every :class:`FormatError` of the block with the file's name in front."""
    try:
        yield
    except FormatError as exc:
        raise FormatError(f"{plain(path)}: {exc}") from exc


def read_file(path: str | Path, max_parameters: int = MAX_PARAMETERS) -> bytes:
    """The bytes of the ``.tcz`` file at ``path``, read only once its header and manifest
    (checked as by :func:`read_records`) account for its length.

    A file of any other length is refused having read at most its header and manifest.
    Raises :class:`FormatError`, naming the file, if there is none or it cannot be read.
    """
    path = Path(path)
    with naming(path):
        if not path.is_file():
            raise FormatError("no .tcz file there (or not a regular file)")
        try:
            with path.open("rb") as f:
                head = f.read(_HEADER.size)
                if len(head) == _HEADER.size:
                    head += f.read(min(_HEADER.unpack(head)[2], MAX_MANIFEST_BYTES + 1))
                plan = _plan(head, max_parameters)
                plan.check_length(path.stat().st_size)
                blob = head + f.read(plan.end - len(head) + 1)
        except OSError as exc:
            raise FormatError(f"cannot be read ({plain(exc.strerror or exc)})") from exc
        plan.check_length(len(blob))  # the file changed while it was read
    return blob
