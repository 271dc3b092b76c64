"""Files written whole or not at all.

Every file rectify writes for a reader (ledger exports, the dashboard, .docx documents,
notice files) goes through ``atomic_path`` or ``atomic_write``: the content goes to a
temporary file created exclusively (``O_EXCL``, so never someone else's file) in the
target's own folder, is flushed to disk, and is then renamed onto the target with
``os.replace``, which is atomic because both names are on the same file system. A reader
(an office opening the ledger, a scanner watching the notices folder) sees the old file or
the new one, never half of one; a write that fails or is interrupted leaves the old file as
it was and no temporary file behind.

The temporary file is written through the descriptor that created it (``/proc/self/fd/N``
on Linux), never reopened by its name: in a folder others may write to, someone who swaps
the name for a link to the database between the creation and the write gets nothing written
through it, and a name found swapped at the end is refused rather than renamed onto the
target. A folder every user may write to without the sticky bit (``chmod o+w``, unlike
``/tmp``) is refused outright: anyone could replace what rectify wrote there.

Two cases are deliberate:

- A target that is a symbolic link is replaced by the new file; the link is not followed.
  Writing through links is how a shared folder gets a file written somewhere else (a link
  to a system file planted in a notices folder); replacing the link cannot do that.
- A target that exists and is neither a regular file nor a folder (``/dev/stdout``, a named
  pipe) is written in place: there is no file to replace, and replacing the device would
  destroy it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a new, empty temporary file next to ``path``; when the block ends without an
    exception, it becomes ``path`` (see the module's docstring); when it raises, it is removed
    and ``path`` is left as it was. Raises ``OSError`` when the folder cannot be written."""
    target = Path(path)
    existing = _stat(target)
    if existing is not None and not (stat.S_ISREG(existing.st_mode) or stat.S_ISDIR(existing.st_mode)):
        yield target  # a device or a pipe: written in place (see the module's docstring)
        return
    # the mode a plain open() would give: mkstemp's 0600 would hide an export from the office's group
    mode = stat.S_IMODE(existing.st_mode) if existing is not None and stat.S_ISREG(existing.st_mode) \
        else 0o666 & ~_umask()
    _refuse_open_folder(target.parent)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:40]}.", suffix=".tmp")
    temporary = Path(name)
    try:
        try:
            yield _through(fd, temporary)  # the writers (openpyxl, python-docx, csv) open a path
            os.fsync(fd)  # on disk before the rename: else a power cut can leave an empty file
            os.fchmod(fd, mode)
            _still_ours(fd, temporary)
            os.replace(temporary, target)
        except BaseException:  # an interruption (Ctrl-C) too must not leave the temporary file
            with suppress(FileNotFoundError):
                temporary.unlink()
            raise
    finally:
        os.close(fd)
    flush_folder(target.parent)


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], T]) -> T:
    """Call ``write(temporary_path)`` and put what it wrote at ``path`` atomically (see
    ``atomic_path``); returns what ``write`` returns. For example::

        atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    """
    with atomic_path(path) as temporary:
        return write(temporary)


def _stat(target: Path) -> os.stat_result | None:
    """The target's status, following links (a link to /dev/stdout is a device); None if absent."""
    try:
        return os.stat(target)
    except FileNotFoundError:
        return None


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (setting it to read it
    back would briefly affect files other threads create)."""
    with suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _refuse_open_folder(folder: Path) -> None:
    """Refuse a folder anyone may write to and rename in (o+w without the sticky bit)."""
    with suppress(FileNotFoundError):  # a missing folder fails at the file's creation, as before
        mode = os.stat(folder).st_mode
        if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
            raise PermissionError(f"文件夹 {folder} 任何用户都可写入，拒绝在其中写文件 / "
                                  f"refusing to write in {folder}: every user may write to it "
                                  f"(chmod o-w {folder}, or o+t as /tmp has)")


def _through(fd: int, name: Path) -> Path:
    """A path that opens the file behind ``fd`` whatever its name has become meanwhile."""
    by_descriptor = Path(f"/proc/self/fd/{fd}")
    return by_descriptor if by_descriptor.exists() else name


def _still_ours(fd: int, name: Path) -> None:
    """The name still leads to the file we wrote (not to a link or a file put in its place)."""
    written, named = os.fstat(fd), os.lstat(name)
    if (written.st_dev, written.st_ino) != (named.st_dev, named.st_ino):
        raise PermissionError(f"临时文件 {name} 在写入期间被替换 / the temporary file {name} was "
                              "replaced while it was being written: nothing was put in place")


def flush_folder(folder: Path) -> None:
    """The rename itself on disk. Best effort: some file systems (and Windows) cannot sync a
    folder, and the rename has happened: only its durability across a power cut is at stake."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
