"""The evidence store: files outside the database, named by their SHA-256.

A file lives at ``<root>/sha256/ab/<hex>`` (``ab``: the hash's first two digits, so no folder
grows past a few hundred names). Adding one is all or nothing: it is copied to a temporary
file in that same folder, flushed to disk, checked against the hash it was read with, made
read-only and renamed onto its name (``os.replace``: atomic on one file system), so a crash
leaves no half file under a hash; the same content added twice is stored once. Reading hashes
the content again and raises ``EvidenceFileError`` (exit 1) naming the file when it is missing
or is no longer what was stored: the database only keeps the hash, and ``rectify audit verify``
checks every file the same way.

Where the root is: ``--evidence-dir`` or ``RECTIFY_EVIDENCE_DIR`` when given; otherwise, for a
SQLite database, the folder beside its file (``rectify.db`` → ``rectify.db.evidence/``). A
PostgreSQL database has no file to stand beside, so it needs one configured, and says so the
first time evidence is used. The folders rectify creates are shared with the group like the
SQLite file (``rwxrws---``: officials' logins share the database through one OS group, and the
setgid bit gives new folders the same group); files are read-only (``r--r-----``).

The limits: ``DEFAULT_MAX_BYTES`` (20 MiB) per file unless ``RECTIFY_EVIDENCE_MAX_MB`` says
otherwise, an empty file refused, and the kinds ``engine.store.evidence_types`` accepts.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.base import failpoints
from engine.base.atomic import atomic_path, flush_folder
from engine.base.errors import BadInput, CheckFailed, InvalidValue
from engine.store.evidence_types import media_type

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DIR_ENV = "RECTIFY_EVIDENCE_DIR"
MAX_MB_ENV = "RECTIFY_EVIDENCE_MAX_MB"
SUFFIX = ".evidence"  # beside a SQLite file: rectify.db → rectify.db.evidence/
FOLDER_MODE = 0o2770  # the group shares the store as it shares the SQLite file; setgid keeps the group
FILE_MODE = 0o440  # stored content never changes: read-only for its owner and the group
CHUNK = 1 << 20
_HEX = re.compile(r"[0-9a-f]{64}")


class EvidenceFileError(CheckFailed):
    """A stored file is missing, or its content no longer hashes to its name: exit 1."""

    def __init__(self, sha256: str, name: str, problem_zh: str, problem_en: str):
        self.sha256, self.name = sha256, name
        super().__init__(f"证据文件“{name}”（sha256 {sha256}）{problem_zh} / evidence file '{name}' (sha256 "
                         f"{sha256}) {problem_en}")


@dataclass(frozen=True)
class Blob:
    """A file in the store: its hash, its size in bytes and its media type."""

    sha256: str
    size: int
    media_type: str


class EvidenceFiles:
    """The store at ``root`` (None: not configured; ``unconfigured`` says why, when used)."""

    def __init__(self, root: Path | None, max_bytes: int = DEFAULT_MAX_BYTES, unconfigured: str = ""):
        self._root, self.max_bytes, self.unconfigured = root, max_bytes, unconfigured

    @property
    def configured(self) -> bool:
        return self._root is not None

    @property
    def root(self) -> Path:
        if self._root is None:
            raise BadInput(self.unconfigured or "未配置证据文件夹 / no evidence folder is configured: give "
                           f"--evidence-dir DIR or set {DIR_ENV}")
        return self._root

    def path_of(self, sha256: str) -> Path:
        if not _HEX.fullmatch(sha256):
            raise InvalidValue(f"不是 SHA-256 值 / not a SHA-256 hash: {sha256!r}")
        return self.root / "sha256" / sha256[:2] / sha256

    # --- adding ---------------------------------------------------------------------------

    def check(self, source: str | os.PathLike[str], name: str) -> str:
        """The media type of the file at ``source`` if it may be stored (``BadInput``, exit 2,
        saying why if not: missing, not a regular file, empty, too large, a refused kind)."""
        with self._open(source, name) as file:
            return media_type(file, name)

    def add(self, source: str | os.PathLike[str], name: str) -> Blob:
        """Store the file at ``source`` (checked as ``check`` does) and return what was stored."""
        with self._open(source, name) as file:
            media = media_type(file, name)
            sha256, size = self._hash(file, name)
            target = self.path_of(sha256)
            if self.problem(sha256) is None:
                return Blob(sha256, size, media)  # the same content is stored once
            self._folder(target.parent)
            self._copy_in(file, target, sha256, name)
        return Blob(sha256, size, media)

    def _open(self, source: str | os.PathLike[str], name: str) -> BinaryIO:
        # imported here: PyYAML comes with it, needed only when a file is added
        from engine.base.yamlsafe import open_regular

        try:
            file = open_regular(Path(source))
        except FileNotFoundError:
            raise BadInput(f"找不到文件 / file not found: {source}") from None
        except OSError as exc:
            raise BadInput(f"{source}: 无法读取文件 / cannot read the file: {exc.strerror}") from None
        size = os.fstat(file.fileno()).st_size
        if size == 0 or size > self.max_bytes:
            file.close()
            raise self._bad_size(name, size)
        return file

    def _bad_size(self, name: str, size: int) -> InvalidValue:
        if size == 0:
            return InvalidValue(f"“{name}”是空文件，未保存 / '{name}' is empty; nothing was stored")
        return InvalidValue(f"“{name}”过大（{size:,} 字节），证据文件上限 {_mib(self.max_bytes)}，未保存 / '{name}' is "
                            f"too large ({size:,} bytes): evidence files are at most {_mib(self.max_bytes)} "
                            f"({MAX_MB_ENV} sets the limit); nothing was stored")

    def _hash(self, file: BinaryIO, name: str) -> tuple[str, int]:
        digest, size = hashlib.sha256(), 0
        file.seek(0)
        while chunk := file.read(CHUNK):
            size += len(chunk)
            if size > self.max_bytes:  # it grew since it was measured
                raise self._bad_size(name, size)
            digest.update(chunk)
        return digest.hexdigest(), size

    def _folder(self, folder: Path) -> None:
        """``folder`` and the ones above it up to the root, created shared with the group."""
        missing = []
        for parent in (folder, *folder.parents):
            if parent.is_dir():
                break
            missing.append(parent)
        try:
            for created in reversed(missing):
                with suppress(FileExistsError):  # another official's process made it meanwhile
                    os.mkdir(created)
                    os.chmod(created, FOLDER_MODE)  # whatever the umask: the group must write here too
        except OSError as exc:
            raise BadInput(f"无法创建证据文件夹 / cannot create the evidence folder {folder}: "
                           f"{exc.strerror or exc}") from exc

    def _copy_in(self, file: BinaryIO, target: Path, sha256: str, name: str) -> None:
        """Copy ``file`` to a temporary file beside ``target``, check it is the content that was
        hashed (the source may change meanwhile), flush it and rename it onto ``target``."""
        try:
            fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".tmp")
        except OSError as exc:
            raise BadInput(f"无法写入证据文件夹 / cannot write to the evidence folder {target.parent}: "
                           f"{exc.strerror or exc}") from exc
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb", closefd=False) as out:
                file.seek(0)
                while chunk := file.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(fd)
            if digest.hexdigest() != sha256:
                raise BadInput(f"“{name}”在保存过程中被改动，未保存 / '{name}' changed while it was being stored; "
                               "nothing was stored: add it again")
            os.fchmod(fd, FILE_MODE)
            failpoints.point("evidence.before_rename")
            os.replace(temporary, target)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        finally:
            os.close(fd)
        flush_folder(target.parent)

    # --- reading --------------------------------------------------------------------------

    def problem(self, sha256: str) -> tuple[str, str] | None:
        """What is wrong with the stored file of ``sha256`` (中文, English), or None if it is
        there and hashes to its name."""
        path = self.path_of(sha256)
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as stored:
                while chunk := stored.read(CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            return "在证据文件夹中缺失", f"is missing from the evidence store ({path})"
        except OSError as exc:
            return f"无法读取（{exc.strerror}）", f"cannot be read ({path}: {exc.strerror})"
        if digest.hexdigest() != sha256:
            return ("的内容与其哈希不符：已被替换或损坏",
                    f"does not hash to its recorded sha256: it was replaced or damaged ({path})")
        return None

    def stream(self, sha256: str, name: str) -> Iterator[bytes]:
        """The stored content of ``sha256`` in chunks; after the last, ``EvidenceFileError``
        (named ``name``) if it did not hash to ``sha256``: a consumer must not keep what it got
        until the iteration has ended."""
        path = self.path_of(sha256)
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as stored:
                while chunk := stored.read(CHUNK):
                    digest.update(chunk)
                    yield chunk
        except FileNotFoundError:
            raise EvidenceFileError(sha256, name, "在证据文件夹中缺失", f"is missing from the evidence store "
                                                                  f"({path})") from None
        except OSError as exc:
            raise EvidenceFileError(sha256, name, f"无法读取（{exc.strerror}）", f"cannot be read ({path}: "
                                                                              f"{exc.strerror})") from None
        if digest.hexdigest() != sha256:
            raise EvidenceFileError(sha256, name, "的内容与其哈希不符：已被替换或损坏", "does not hash to its recorded "
                                    f"sha256: it was replaced or damaged ({path})")

    def read(self, sha256: str, name: str) -> bytes:
        """The whole stored content of ``sha256``, verified (``EvidenceFileError`` if not)."""
        return b"".join(self.stream(sha256, name))

    def copy_to(self, sha256: str, name: str, target: Path) -> int:
        """Write the stored content of ``sha256`` to ``target`` atomically, verified while it is
        written: a missing or altered file raises ``EvidenceFileError`` and ``target`` is left as
        it was. Returns the bytes written."""
        written = 0
        try:
            with atomic_path(target) as temporary, open(temporary, "wb") as out:
                for chunk in self.stream(sha256, name):
                    out.write(chunk)
                    written += len(chunk)
        except OSError as exc:
            raise BadInput(f"无法写入 / cannot write {target}: {exc.strerror or exc}") from exc
        return written


def evidence_files(database_url: str, configured: str | os.PathLike[str] | None = None) -> EvidenceFiles:
    """The evidence store of the database at ``database_url``: ``configured`` (the
    ``--evidence-dir`` option), else ``RECTIFY_EVIDENCE_DIR``, else beside a SQLite file; a
    PostgreSQL database with neither is an unconfigured store that says what to do when used."""
    # imported here: db brings SQLAlchemy, which reading a file of the store does not need
    from engine.store.db import safe_url, sqlite_path

    given = configured or os.environ.get(DIR_ENV) or None
    limit = _max_bytes()
    if given:
        return EvidenceFiles(Path(given).expanduser(), limit)
    path = sqlite_path(database_url)
    if path is not None:
        return EvidenceFiles(path.with_name(path.name + SUFFIX), limit)
    return EvidenceFiles(None, limit, f"数据库 {safe_url(database_url)} 不是 SQLite 文件，证据文件须存放在指定的文件夹：请用 "
                                      f"--evidence-dir DIR 或环境变量 {DIR_ENV} 指定 / the database "
                                      f"{safe_url(database_url)} is not a SQLite file, so its evidence files need a "
                                      f"folder of their own: give --evidence-dir DIR or set {DIR_ENV}")


def safe_file_name(name: str, limit: int = 120) -> str:
    """``name`` as one file name that is safe on any system it is unpacked on: no folder
    separator (so no ``..`` climbing out), no control or invisible character, none of the
    characters or device names Windows reserves, no trailing dot or space; at most ``limit``
    characters, its extension kept."""
    cleaned = _UNSAFE.sub("_", name).strip().rstrip(". ")
    if not cleaned.strip("."):
        cleaned = "_"
    if cleaned.split(".")[0].upper() in _WINDOWS_DEVICES:
        cleaned = "_" + cleaned
    if len(cleaned) > limit:
        stem, dot, extension = cleaned.rpartition(".")
        keep = dot and stem and len(extension) <= 10
        cleaned = f"{stem[:limit - len(extension) - 1]}.{extension}" if keep else cleaned[:limit]
    return cleaned


_UNSAFE = re.compile('[\x00-\x1f\x7f-\x9f/\\\\:*?"<>|\u061c\u200b-\u200f\u202a-\u202e\u2028-\u2029\u2060-\u2069\ufeff]')
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def _max_bytes() -> int:
    given = os.environ.get(MAX_MB_ENV, "").strip()
    if not given:
        return DEFAULT_MAX_BYTES
    if not (given.isascii() and given.isdigit()) or not 1 <= int(given) <= 4096:
        raise InvalidValue(f"{MAX_MB_ENV} 应为 1 到 4096 之间的整数（MiB）/ {MAX_MB_ENV} must be a whole number of "
                           f"MiB from 1 to 4096, not {given!r}")
    return int(given) * 1024 * 1024


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"
