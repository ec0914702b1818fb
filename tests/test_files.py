"""Safe output files: whole or not at all, permission bits kept, leftovers of kills removed."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tinycompress.errors import OutputError
from tinycompress.files import atomic_write, check_output, remove_stale, staging

STALE = ".m.npz.abc12_x9.tmp"  # the name tempfile gives a temporary of m.npz


def write_bytes(data: bytes):
    return lambda f: f.write(data)


def test_a_new_file_gets_the_usual_mode_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "m.npz"
    atomic_write(target, write_bytes(b"one"))
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_bytes() == b"one" and target.stat().st_mode & 0o777 == 0o666 & ~umask
    target.chmod(0o600)
    atomic_write(target, write_bytes(b"two"))
    assert target.read_bytes() == b"two" and target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.npz"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "m.npz"
    target.write_bytes(b"old")

    def half(f) -> None:
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.npz"]


@pytest.mark.parametrize("kind", ["folder", "fifo", "device", "input", "input-link"])
def test_outputs_that_would_destroy_something_are_refused(tmp_path: Path, kind: str) -> None:
    source = tmp_path / "in.npz"
    source.write_bytes(b"model")
    path = {"folder": tmp_path, "fifo": tmp_path / "pipe", "device": Path(os.devnull),
            "input": source, "input-link": tmp_path / "link.npz"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    if kind == "input-link":
        path.symlink_to(source)
    message = {"folder": "it is a folder", "fifo": "it is a FIFO", "device": "character device",
               "input": "an input of this command", "input-link": "an input of this command"}
    before = path.lstat()
    with pytest.raises(OutputError, match=message[kind]):
        check_output(path, [source])
    if kind in ("folder", "fifo", "device"):  # refused by every writer, inputs or not
        with pytest.raises(OutputError, match=message[kind]):
            atomic_write(path, write_bytes(b"x"))
    after = path.lstat()
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert source.read_bytes() == b"model"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any file")
def test_a_read_only_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "m.npz"
    target.write_bytes(b"keep")
    target.chmod(0o444)
    with pytest.raises(OutputError, match="read-only"):
        atomic_write(target, write_bytes(b"x"))
    assert target.read_bytes() == b"keep"


def test_only_unheld_temporaries_of_the_same_target_are_removed(tmp_path: Path) -> None:
    (tmp_path / STALE).write_bytes(b"left by kill -9")
    (tmp_path / ".m.npz.staging1.tmp").mkdir()  # a staging folder, with content
    (tmp_path / ".m.npz.staging1.tmp" / "f").write_text("x")
    keep = [".m.npz.backup.tmp", ".m.npz.abc12_x9.tmp.bak", ".other.npz.abc12_x9.tmp",
            "m.npz.abc12_x9.tmp", ".m.npz.ABC12_X9.tmp"]  # not a temporary of ours
    for name in keep:
        (tmp_path / name).write_text("mine")
    held = tmp_path / ".m.npz.held0000.tmp"
    held.write_text("a write in progress")
    fd = os.open(held, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as the writer holds it
    try:
        removed = remove_stale(tmp_path / "m.npz")
    finally:
        os.close(fd)
    assert sorted(p.name for p in removed) == [STALE, ".m.npz.staging1.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*keep, held.name])


def test_staging_removes_leftovers_first_and_its_own_folder_on_failure(tmp_path: Path) -> None:
    (tmp_path / STALE).write_bytes(b"old")
    with pytest.raises(RuntimeError), staging(tmp_path / "m.npz", folder=True) as folder:
        assert folder.is_dir() and folder.name.startswith(".m.npz.")
        assert not (tmp_path / STALE).exists()
        (folder / "part").write_text("half a copy")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_a_write_killed_half_way_is_cleaned_up_by_the_next(tmp_path: Path) -> None:
    target = tmp_path / "m.npz"
    target.write_bytes(b"good")
    script = (
        "import sys, time\n"
        "from tinycompress.files import atomic_write\n"
        "def slow(f):\n"
        "    f.write(b'partial'); f.flush(); print('writing', flush=True); time.sleep(60)\n"
        "atomic_write(sys.argv[1], slow)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"writing\n"
        (running,) = [p for p in tmp_path.iterdir() if p.name != "m.npz"]
        assert remove_stale(target) == []  # held by the running writer
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert target.read_bytes() == b"good" and running.read_bytes() == b"partial"
    atomic_write(target, write_bytes(b"new"))
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["m.npz"]
