"""A SQLite database as files on a shared machine: read-only copies and group sharing.

Officials share one database file through a group (0660). SQLite creates the ``-wal`` and
``-shm`` files beside it when the first process opens it, with the database's permissions but
with the *creating user's* group, unless the folder is setgid: then the next official, in the
group but not that user, cannot open the database at all. ``sharing_problems`` names what is
wrong and the commands that fix it; ``share_with_group`` does them for ``rectify init --group``.

A database the user may not write (an archived copy, a read-only mount, an auditor's access)
is opened read-only: reading commands work, ``Store.transaction`` refuses at once with the
reason instead of SQLite's "attempt to write a readonly database".
"""

from __future__ import annotations

import grp
import os
import pwd
import sqlite3
import stat
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

SIDE_FILES = ("-wal", "-shm")


def read_only_reason(path: Path) -> str | None:
    """Why this user cannot write the database at ``path`` (None: they can, or it does not exist)."""
    if not path.exists():
        return None
    if not os.access(path, os.W_OK):
        return (f"数据库文件 {path} 对当前用户只读 / the database file {path} is read-only for you "
                f"({_owner_and_mode(path)})")
    folder = path.parent
    missing = [f"{path}{suffix}" for suffix in SIDE_FILES if not Path(f"{path}{suffix}").exists()]
    if missing and not os.access(folder, os.W_OK):
        return (f"数据库所在文件夹 {folder} 对当前用户只读，无法创建 {missing[0]} / the folder {folder} is read-only "
                f"for you, so SQLite cannot create {missing[0]} ({_owner_and_mode(folder)})")
    return None


def read_only_connection(path: Path) -> sqlite3.Connection:
    """A connection that never writes: ``mode=ro``; ``immutable`` too when SQLite could not even
    create the shared-memory file it needs to read a WAL database (an archived copy)."""
    shm = Path(f"{path}-shm")
    immutable = not os.access(path.parent, os.W_OK) and not (shm.exists() and os.access(shm, os.R_OK))
    uri = f"file:{quote(str(path.resolve()))}?mode=ro" + ("&immutable=1" if immutable else "")
    return sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)


def sharing_problems(path: Path) -> list[str]:
    """What keeps the officials of the database's group from sharing it; [] if nothing."""
    if not path.exists():
        return []
    db, folder = path.stat(), path.parent.stat()
    group = _group_name(db.st_gid)
    problems = []
    if not db.st_mode & stat.S_IWGRP:
        problems.append(f"数据库文件组内不可写 / the database file is not writable by its group {group}: "
                        f"chmod g+rw {path}")
    if folder.st_gid != db.st_gid or not folder.st_mode & stat.S_ISGID or not folder.st_mode & stat.S_IWGRP:
        problems.append(f"文件夹 {path.parent} 须属于组 {group} 且设置 setgid，SQLite 新建的 -wal/-shm 文件才属于该组 / "
                        f"the folder {path.parent} must belong to the group {group}, be writable by it and setgid, "
                        f"or the -wal/-shm files SQLite creates get their creator's group and lock the others out: "
                        f"chgrp {group} {path.parent} && chmod g+rwxs {path.parent}")
    for suffix in SIDE_FILES:
        side = Path(f"{path}{suffix}")
        if side.exists() and (side.stat().st_gid != db.st_gid or not side.stat().st_mode & stat.S_IWGRP):
            problems.append(f"{side} 不属于组 {group} 或组内不可写 / {side} does not belong to the group {group} or "
                            f"is not writable by it: chgrp {group} {side} && chmod g+rw {side}")
    return problems


def is_shared(path: Path) -> bool:
    """Whether the database is meant for a group: given to a group other than its owner's own,
    or a group with members besides its owner."""
    status = path.stat()
    try:
        if pwd.getpwuid(status.st_uid).pw_gid != status.st_gid:
            return True
        entry = grp.getgrgid(status.st_gid)
    except KeyError:
        return False
    owner = _user_name(status.st_uid)
    return any(member != owner for member in entry.gr_mem)


def share_with_group(path: Path, group: str) -> None:
    """Give the database, its side files and its folder to ``group``: files 0660, folder g+rwxs."""
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise LookupError(f"没有名为 {group} 的用户组 / there is no group named {group}") from None
    folder = path.parent
    os.chown(folder, -1, gid)
    os.chmod(folder, stat.S_IMODE(folder.stat().st_mode) | stat.S_IRWXG | stat.S_ISGID)
    for file in (path, *(Path(f"{path}{suffix}") for suffix in SIDE_FILES)):
        if file.exists():
            os.chown(file, -1, gid)
            os.chmod(file, 0o660)


def _owner_and_mode(path: Path) -> str:
    status = path.stat()
    return (f"owner {_user_name(status.st_uid)}, group {_group_name(status.st_gid)}, "
            f"mode {stat.filemode(status.st_mode)}")


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def snapshot(source: Path, target: Path) -> None:
    """A consistent copy of the SQLite database at ``source`` as it stands now (the backup API:
    whatever its WAL holds), created private (0660) like every database rectify makes."""
    target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o660)
    os.close(fd)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
