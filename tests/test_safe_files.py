"""Files rectify writes cannot be turned against the database (issue 13, item 1).

The finding: the file channel wrote ``<folder>/.<key>.txt.tmp``, a name anyone could guess, and
followed links; an official who could write to a group-writable notices folder planted
``.KEY.txt.tmp -> rectify.db`` and the daemon's next delivery replaced the database with a
notice's text. Here the same attacks run against real files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.base.atomic import atomic_path, atomic_write
from notifiers.base import DeliveryError
from notifiers.files import FileChannel, FileSettings, file_name
from tests.servers import MESSAGE

DATABASE = b"SQLite format 3\x00 the county's whole campaign"


def planted(folder: Path) -> Path:
    """A database beside the folder, and links to it under every name a writer might guess."""
    database = folder.parent / "rectify.db"
    database.write_bytes(DATABASE)
    stem = file_name(MESSAGE, ".txt")
    for name in (f".{stem}.tmp", f"{stem}.tmp", f".{stem}", f".{stem}.swp"):
        (folder / name).symlink_to(database)
    return database


def test_links_planted_under_guessable_names_write_nothing_through(tmp_path):
    folder = tmp_path / "notices"
    folder.mkdir()
    database = planted(folder)
    FileChannel("printed", FileSettings(folder=str(folder))).send(MESSAGE, "")
    assert database.read_bytes() == DATABASE
    written = folder / file_name(MESSAGE, ".txt")
    assert written.is_file()
    assert not written.is_symlink()
    assert "城关镇党委" in written.read_text(encoding="utf-8")


def test_a_temporary_file_swapped_for_a_link_mid_write_writes_nothing_through(tmp_path):
    """The race a planted name cannot win: the temporary name is swapped for a link to the
    database after its creation, before the writer opens it."""
    database = tmp_path / "rectify.db"
    database.write_bytes(DATABASE)
    target = tmp_path / "ledger.csv"

    def swap_then_write(temporary: Path) -> None:
        name = next(p for p in tmp_path.iterdir() if p.name.startswith(".ledger.csv."))
        name.unlink()
        name.symlink_to(database)  # what another user of a group-writable folder could do
        temporary.write_text("编码,名称\n", encoding="utf-8")

    with pytest.raises(PermissionError, match="was replaced while it was being written"):
        atomic_write(target, swap_then_write)
    assert database.read_bytes() == DATABASE
    assert not target.exists()  # nothing put in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rectify.db"]  # and no temporary file left


def test_a_folder_every_user_may_write_to_is_refused(tmp_path):
    open_folder = tmp_path / "open"
    open_folder.mkdir()
    open_folder.chmod(0o777)
    with pytest.raises(PermissionError, match="every user may write to it"):
        atomic_write(open_folder / "ledger.csv", lambda t: t.write_text("x", encoding="utf-8"))
    assert list(open_folder.iterdir()) == []
    with pytest.raises(DeliveryError, match="every user may write to it"):
        FileChannel("printed", FileSettings(folder=str(open_folder))).send(MESSAGE, "")
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)  # as /tmp: others cannot rename or remove what rectify wrote
    atomic_write(sticky / "ledger.csv", lambda t: t.write_text("x", encoding="utf-8"))
    assert (sticky / "ledger.csv").read_text(encoding="utf-8") == "x"


def test_the_temporary_file_is_private_until_it_is_renamed(tmp_path):
    target = tmp_path / "report.html"
    with atomic_path(target) as temporary:
        temporary.write_text("<p>", encoding="utf-8")
        name = next(p for p in tmp_path.iterdir() if p.name.startswith(".report.html."))
        assert oct(name.stat().st_mode & 0o777) == "0o600"  # nobody else can open it meanwhile
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
