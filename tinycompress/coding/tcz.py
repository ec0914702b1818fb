"""The ``.tcz`` file: a whole compressed model in one documented, pickle-free binary container.

Han, Mao & Dally, *Deep Compression* (ICLR 2016), §2-§4, store a pruned, quantised model as
relative indices, codebook indices and codebooks; :mod:`.sections` chooses, per tensor, the
smallest such form. This module writes the forms with a manifest and checksums
(:func:`to_bytes`, :func:`save`) and reads them back bit for bit (:func:`from_bytes`,
:func:`load`, and :func:`read_records`, which also returns what the file says about each
tensor; :mod:`.accounting` turns that into the paper's size tables).

The byte layouts of versions 1 and 2 (header, manifest, checksums) are in :mod:`.layout`;
this module writes version 2 and reads both.

The manifest is ``{"arch": <architecture>, "meta": {...}, "t": [tensor, ...]}`` with the
architecture of :func:`tinycompress.nn.architecture.architecture` (layer types, names and
configs: the shapes follow from it) and one entry per parameter and buffer, in the order of
:func:`tinycompress.nn.architecture.state_arrays`: the form :mod:`.sections` chose for that
tensor (raw, dense coded, sparse coded; in version 2 also arithmetic coded, float16 or 8-bit)
and its section's size ``z``. :mod:`.manifest` states every field's rules. ``small``
(:mod:`.small_tensors`) says how biases and other small tensors are kept: ``"fp32"``, the
default, bit for bit; ``"fp16"`` or ``"int8"`` in fewer bits, exactly as
:func:`.small_tensors.as_stored` predicts.

Reading validates everything before it allocates, in the file's order: the magic, version and
checksum(s); the manifest field by field (:mod:`.manifest`: types, ranges and keys, the model
within ``max_parameters`` values, each section's size implied by its entry), with nothing
after its compressed stream; that the sizes add up to the file's, with nothing after the last
section; then, section by section, that code-length tables are prefix codes, bit streams end
exactly where they should (an arithmetic-coded one exactly as its encoder ends it, after the
number of entries the manifest declares), codebooks are sorted and every value is finite.
Any violation
raises :class:`FormatError`, one line; :func:`load` and :func:`read_file` name the file.
Writing refuses what reading would: a tensor that is not finite float32, meta that is not
plain JSON or records an invalid normalization; :func:`save` writes nothing it has not
decoded back to the model (its small tensors as stored) bit for bit.
"""

from __future__ import annotations

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
from .layout import (
    HEADER_BYTES,
    MAGIC,
    MAX_MANIFEST_BYTES,
    VERSION,
    Header,
    check_crc,
    inflate,
    pack,
    read_header,
)
from .manifest import MAX_GAP_BITS, check_meta, check_sizes, parse
from .sections import AUTO_INDEX_BITS, decode_tensor, encode_tensor, storable
from .small_tensors import (
    SMALL,
    as_stored,
    check_small,
    decode_small,
    encode_small,
    is_small,
    stored_value,
)

__all__ = ["MAGIC", "MAX_MANIFEST_BYTES", "SMALL", "VERSION", "TensorRecord", "assemble",
           "checked_bytes", "from_bytes", "load", "naming", "read_file", "read_records", "save",
           "to_bytes", "write_file"]

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
             meta: dict[str, Any] | None = None, small: str = "fp32",
             version: int = VERSION) -> bytes:
    """The ``.tcz`` bytes of ``model`` (see the module docstring for the layout).

    ``small`` (one of :data:`.small_tensors.SMALL`) says how biases and other small tensors
    are stored; ``version=1`` writes the first format (no arithmetic coding, every tensor's
    values stored bit for bit: with a ``small`` other than ``"fp32"``, the stored values).

    Raises :class:`FormatError` for a tensor :func:`storable` refuses or ``meta`` that
    :func:`.manifest.check_meta` refuses or JSON cannot hold, and
    :class:`~tinycompress.errors.UsageError` for gap widths outside ``1..16`` or an unknown
    ``small``.
    """
    check_small(small)
    descs, sections = [], []
    for name, arr in state_arrays(model).items():
        desc, data = _encode_entry(name, storable(name, arr), _bits_for(name, index_bits),
                                   small, version)
        descs.append({**desc, "z": len(data)})
        sections.append(data)
    doc = {"arch": architecture(model), "meta": check_meta(meta or {}), "t": descs}
    return pack(doc, sections, version)


def _encode_entry(name: str, arr: np.ndarray, bits: tuple[int, ...], small: str, version: int
                  ) -> tuple[dict[str, Any], bytes]:
    """One tensor's smallest entry (without ``z``) and section: of its stored values when it
    is small (:func:`.small_tensors.stored_value`), the small forms among the candidates."""
    candidates = []
    if is_small(name) and small != "fp32":
        arr = stored_value(arr, small)
        if version > 1 and (form := encode_small(arr, small)) is not None:
            candidates.append(form)
    candidates.append(encode_tensor(arr, bits, arith=version > 1))
    return min(candidates, key=lambda c: len(c[1]))


def assemble(doc: dict[str, Any], sections: list[bytes], version: int = VERSION) -> bytes:
    """The file of a manifest ``doc`` and its tensor sections (:func:`.layout.pack`)."""
    return pack(doc, sections, version)


def checked_bytes(model: Sequential, index_bits: IndexBits = None,
                  meta: dict[str, Any] | None = None, small: str = "fp32") -> bytes:
    """:func:`to_bytes`, decoded again and compared bit for bit with ``as_stored(model,
    small)`` (:func:`.small_tensors.as_stored`: ``model`` itself for ``"fp32"``).

    Raises :class:`FormatError` unless the bytes hold exactly those weights, so that a
    caller writes (and replaces an existing file with) only bytes known to be good.
    """
    blob = to_bytes(model, index_bits, meta, small)
    if not _decodes_to(blob, as_stored(model, small) if small != "fp32" else model):
        raise FormatError("the encoded bytes do not decode to the model; nothing was written")
    return blob


def save(model: Sequential, path: str | Path, index_bits: IndexBits = None,
         meta: dict[str, Any] | None = None, small: str = "fp32") -> Path:
    """Write ``model`` (and JSON-able ``meta``) as a ``.tcz`` file, atomically, once its bytes
    are known to decode to it (its small tensors as ``small`` stores them) bit for bit
    (:func:`checked_bytes`)."""
    return write_file(checked_bytes(model, index_bits, meta, small), path)


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
    """What the file says about one tensor: name, manifest entry, section bytes, the array
    decoded, and the format version of the file (whose sections in version 1 are followed by
    a 4-byte checksum: :attr:`checksum_bytes`)."""

    name: str
    desc: dict[str, Any]
    section: bytes
    array: np.ndarray
    version: int = VERSION

    @property
    def checksum_bytes(self) -> int:
        return 4 if self.version == 1 else 0


@dataclass
class _Plan:
    """A file's header and manifest, checked: the header, the model (placeholder weights), its
    meta, the tensor entries and their section sizes."""

    header: Header
    model: Sequential
    meta: dict[str, Any]
    entries: list[dict[str, Any]]
    sizes: list[int]

    @property
    def end(self) -> int:
        """The file's length, by its manifest: each section (and in version 1 its CRC-32)."""
        return self.header.end + sum(self.sizes) + self.header.section_crc_bytes * len(self.sizes)

    def check_length(self, actual: int) -> None:
        """Refuse a file of ``actual`` bytes that is not of the manifest's length."""
        if actual != self.end:
            raise FormatError(f"the file has {actual} bytes but its manifest accounts for "
                              f"{self.end}: it is truncated or has bytes after its last section")


def read_records(blob: bytes, max_parameters: int = MAX_PARAMETERS
                 ) -> tuple[Sequential, dict[str, Any], list[TensorRecord]]:
    """Parse and validate ``.tcz`` bytes of either version: ``(model, meta, records)``.

    In the order of the file: the header and manifest, the model the architecture describes
    (placeholder weights, at most ``max_parameters`` values) and the sections' sizes, checked
    against that model and the file's length (:func:`_plan`); version 2's checksum of the
    file; then each section (in version 1 checksummed) decoded (:func:`_read_sections`),
    whose arrays replace the placeholders.

    Raises
    ------
    FormatError
        On any malformed, truncated, corrupt or oversized content.
    """
    plan = _plan(blob, max_parameters)
    plan.check_length(len(blob))
    if plan.header.version > 1:
        check_crc(blob, plan.header)
    records = _read_sections(blob, plan)
    arrays = {r.name: r.array for r in records}
    for layer in plan.model.layers:
        for store in (layer.params, layer.buffers):
            for key in store:
                store[key] = arrays[f"{layer.name}/{key}"]
    return plan.model, plan.meta, records


def _plan(blob: bytes, max_parameters: int) -> _Plan:
    """Check the header, the manifest (:mod:`.manifest`) and the model it describes; ``blob``
    need only reach the end of the manifest. A version 1 manifest's checksum is checked before
    it is parsed; version 2's covers the whole file, checked once its length is."""
    header = read_header(blob)
    manifest = blob[header.start : header.end]
    if len(manifest) != header.length:
        raise FormatError(f"the file is truncated: the manifest needs {header.length} bytes")
    if header.version == 1:
        check_crc(blob, header)
    arch, meta, entries = parse(inflate(manifest, header.version), max_parameters,
                                header.version)
    model = build_from_architecture(arch, FormatError, where="manifest.arch",
                                    max_parameters=max_parameters)
    return _Plan(header, model, meta, entries, check_sizes(entries, state_arrays(model)))


def _read_sections(blob: bytes, plan: _Plan) -> list[TensorRecord]:
    """Each section of ``plan`` (in version 1 its CRC-32 checked), decoded to its expected
    tensor."""
    records, pos, crc = [], plan.header.end, plan.header.section_crc_bytes
    expected = state_arrays(plan.model)
    for (name, ref), desc, size in zip(expected.items(), plan.entries, plan.sizes, strict=True):
        section = blob[pos : pos + size]
        where = f"tensor {shown(name)}"
        if crc and zlib.crc32(section) != struct.unpack_from("<I", blob, pos + size)[0]:
            raise FormatError(f"{where}: the section's checksum does not match: the file is "
                              "corrupt")
        pos += size + crc
        if desc["k"] in ("h", "q"):
            try:
                flat = decode_small(section, desc, ref.size).view(ref.dtype)
            except FormatError as exc:
                raise FormatError(f"{where}: {exc}") from exc
        else:
            flat = decode_tensor(section, desc, ref.size, ref.dtype, where, ref.shape)
        records.append(TensorRecord(name, desc, section, flat.reshape(ref.shape),
                                    plan.header.version))
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
                head = f.read(HEADER_BYTES)
                if len(head) >= 5 and head[:4] == MAGIC:
                    header = read_header(head)
                    head += f.read(max(0, min(header.end, MAX_MANIFEST_BYTES + HEADER_BYTES)
                                       - len(head)))
                plan = _plan(head, max_parameters)
                plan.check_length(path.stat().st_size)
                blob = head + f.read(plan.end - len(head) + 1)
        except OSError as exc:
            raise FormatError(f"cannot be read ({plain(exc.strerror or exc)})") from exc
        plan.check_length(len(blob))  # the file changed while it was read
    return blob
