"""Safe output files: written whole or not at all, never over an input or a special file.

Every file the project writes goes through :func:`atomic_write`: the bytes go to a temporary
file beside the target, ``.NAME.XXXXXXXX.tmp``, which is flushed to disk and then renamed over
the target in one step, so a reader sees the old file or the new one, never a mixture. A target
that exists keeps its permission bits (a private ``0600`` file stays private).

Before anything is written, :func:`check_output` refuses a target that is a folder, a special
file (a FIFO, a device, a socket: renaming over ``/dev/null`` would replace the device with a
regular file), a read-only file, or one of the files the same command reads (under another name,
through a link, included): ``encode x.npz --out x.npz`` would replace the model it encodes.

A write killed half-way (``kill -9``, a power cut) cannot clean up after itself. So every write
of a target first removes what earlier interrupted writes of that same target left beside it
(:func:`remove_stale`): the temporary files and staging folders named ``.NAME.XXXXXXXX.tmp``
(``XXXXXXXX``: the eight characters :mod:`tempfile` draws), and nothing else. A write in
progress holds a lock on its temporary (``flock``), which the operating system releases when
the process ends however it ends: a leftover is a temporary that no process holds, so two
writers of one target never remove each other's work.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import OutputError, shown

try:
    import fcntl
except ImportError:  # Windows: no flock, but a file open there cannot be removed anyway
    fcntl = None  # type: ignore[assignment]

TEMP_SUFFIX = ".tmp"
_SPECIAL = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
            stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def check_output(path: str | Path, inputs: Iterable[str | Path] = ()) -> None:
    """Refuse to write ``path`` if that could destroy something.

    Parameters
    ----------
    path : the file about to be written (it may not exist yet).
    inputs : the files the same command reads; ``path`` may be none of them.

    Raises
    ------
    OutputError
        If ``path`` is a folder, a special file, a read-only file or one of ``inputs``.
    """
    path = Path(path)
    try:
        st = path.stat()  # through a link: a link to /dev/null is /dev/null
    except (FileNotFoundError, NotADirectoryError):
        return  # nothing there to destroy (a missing folder is made, a bad one fails to open)
    where = f"cannot write {shown(str(path))}"
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{where}: it is a folder; name the file to write inside it")
    if not stat.S_ISREG(st.st_mode):
        kind = _SPECIAL.get(stat.S_IFMT(st.st_mode), "a special file")
        raise OutputError(f"{where}: it is {kind}, not a regular file; choose a file name")
    if not os.access(path, os.W_OK):
        raise OutputError(f"{where}: it is read-only (mode {stat.S_IMODE(st.st_mode):04o}); "
                          "make it writable or choose another name")
    for source in inputs:
        if _same_file(st, Path(source)):
            raise OutputError(f"{where}: it is an input of this command ({shown(str(source))}); "
                              "write the result to another file")


def _same_file(st: os.stat_result, other: Path) -> bool:
    try:
        ost = other.stat()
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (ost.st_dev, ost.st_ino)


def _stale_pattern(target: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}{re.escape(TEMP_SUFFIX)}")


def _hold(path: Path) -> int | None:
    """A descriptor of ``path`` holding its exclusive lock, or None if another process holds it.

    Without flock (Windows) nothing is opened or locked (-1): a file open there cannot be
    removed anyway. Closing the descriptor (:func:`_release`) releases the lock.
    """
    if fcntl is None:
        return -1
    fd = os.open(path, os.O_RDONLY)  # a folder too
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _release(fd: int | None) -> None:
    if fd is not None and fd >= 0:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale(target: str | Path) -> list[Path]:
    """Remove the leftovers of earlier interrupted writes of ``target``; the paths removed.

    A leftover is a regular file or a folder beside ``target`` named ``.NAME.XXXXXXXX.tmp`` that
    no running process holds locked (see the module docstring). Links are never followed.
    """
    target = Path(target)
    pattern = _stale_pattern(target)
    try:
        candidates = [p for p in target.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:  # no such folder (yet), or not readable: nothing of ours is there
        return []
    removed = []
    for path in candidates:
        try:
            kind = stat.S_IFMT(path.lstat().st_mode)
            fd = _hold(path) if kind in (stat.S_IFREG, stat.S_IFDIR) else None
        except OSError:  # gone meanwhile, or not ours to open
            continue
        if fd is None:
            continue
        try:
            _remove(path)
            removed.append(path)
        finally:
            _release(fd)
    return removed


@contextmanager
def staging(target: str | Path, folder: bool = False) -> Iterator[Path]:
    """A new temporary file (or folder) beside ``target``, locked while the block runs.

    Leftovers of earlier interrupted writes of ``target`` are removed first. Whatever is left
    at the temporary's name when the block ends (it raised, or did not rename the temporary
    into place) is removed.
    """
    target = Path(target)
    remove_stale(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}."
    if folder:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=target.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=target.parent)
        os.close(fd)
        tmp = Path(name)
    lock = None
    try:
        lock = _hold(tmp)  # a new name: None only if a remover holds it for an instant
        yield tmp
    finally:
        if os.path.lexists(tmp):
            _remove(tmp)
        _release(lock)


def default_mode(folder: bool = False) -> int:
    """The permission bits a new file (or folder) gets here: ``0666`` (``0777``) less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if folder else 0o666) & ~umask


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it into place.

    ``path`` is checked with :func:`check_output` first; an existing file keeps its permission
    bits (read, write and execute; set-id bits are not carried over). If ``write`` raises or the
    process is interrupted, ``path`` is left as it was. Returns ``path``.
    """
    path = Path(path)
    check_output(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode) & 0o777
    except FileNotFoundError:
        mode = default_mode()
    with staging(path) as tmp:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    return path
