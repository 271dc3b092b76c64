"""Database connections: SQLite configured as SPEC §5 says, or PostgreSQL by URL.

SQLite: WAL, ``busy_timeout`` 10 s (``?busy_timeout=MS`` in the URL sets another),
``synchronous=FULL``, ``foreign_keys=ON`` on every connection, and ``BEGIN IMMEDIATE`` for
every write transaction (a deferred transaction that later upgrades to a write fails at
once with SQLITE_BUSY whatever the timeout). A write transaction that still meets a lock is
run again whole (``Store.write``).
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.base import failpoints
from engine.base.errors import Conflict, DatabaseError, DatabaseUnavailable, ReadOnlyDatabase
from engine.store.sqlite_files import read_only_connection, read_only_reason

if TYPE_CHECKING:
    from engine.store.evidence_files import EvidenceFiles

log = logging.getLogger("rectify.db")
T = TypeVar("T")
DEFAULT_URL = "sqlite:///rectify.db"
READ_ONLY = "rectify_read_only"  # an execution option: this connection only reads
ENV_VAR = "RECTIFY_DB"
# A write transaction that met a lock past the busy timeout (or a PostgreSQL serialization
# failure or deadlock) is run again whole, this many times in all, after a jittered pause.
BUSY_TIMEOUT_MS = 10_000
WRITE_ATTEMPTS = 4
RETRY_PAUSE = 0.2  # seconds, doubled at each attempt, times a random factor in [0.5, 1.5)
# SQLSTATEs of PostgreSQL errors after which the transaction was rolled back and can be run again.
RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available
# The base of every error the database library raises. ``Store.transaction`` turns driver
# errors into project errors, but the ORM's own (a misuse, a detached object) pass through:
# a caller that must carry on whatever went wrong (recording a refusal) catches this too.
DatabaseLibraryError = SQLAlchemyError


def database_url(given: str | None = None) -> str:
    """``--db`` wins, then ``RECTIFY_DB``, then ``./rectify.db``; a bare path means SQLite."""
    url = given or os.environ.get(ENV_VAR) or DEFAULT_URL
    if "://" not in url:
        url = f"sqlite:///{url}"
    return url


def safe_url(url: str) -> str:
    """The URL to show people and logs: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"://[^/@\s]*@", "://***@", url)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def make_engine(url: str, read_only: bool = False) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"数据库地址无效 / invalid database URL '{safe_url(url)}'") from exc
    if parsed.drivername.startswith("sqlite"):
        return _sqlite_engine(parsed, _busy_timeout(url, parsed), read_only)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except (ImportError, SQLAlchemyError) as exc:
        raise DatabaseError(f"无法使用数据库 / cannot use database '{safe_url(url)}': {exc} "
                            "(for PostgreSQL: pip install 'rectify[postgres]')") from exc


def _busy_timeout(url: str, parsed) -> int:
    """Milliseconds a SQLite connection waits for a lock: ``?busy_timeout=MS``, else 10 s."""
    given = parsed.query.get("busy_timeout", str(BUSY_TIMEOUT_MS))
    if isinstance(given, tuple) or not given.isascii() or not given.isdigit() or not 0 <= int(given) <= 3_600_000:
        raise DatabaseError(f"数据库地址中的 busy_timeout 无效 / invalid busy_timeout in '{safe_url(url)}': "
                            "give milliseconds, 0 to 3600000")
    return int(given)


def _sqlite_engine(parsed, busy_timeout: int, read_only: bool = False) -> Engine:
    database = parsed.database
    if database and database != ":memory:":
        folder = Path(database).expanduser().resolve().parent
        if not folder.is_dir():
            raise DatabaseError(f"数据库目录不存在 / cannot open database: folder {folder} does not exist")
    if read_only:  # Store.transaction refuses before any write is tried (see engine.store.sqlite_files)
        path = Path(database).expanduser()
        engine = create_engine("sqlite://", creator=lambda: read_only_connection(path))
        pragmas: tuple[str, ...] = (f"busy_timeout={busy_timeout}", "foreign_keys=ON")
    else:
        engine = create_engine(parsed.difference_update_query(["busy_timeout"]))
        pragmas = ("journal_mode=WAL", f"busy_timeout={busy_timeout}", "synchronous=FULL", "foreign_keys=ON")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # A reader (Store.reading) takes a WAL snapshot and holds no lock writers wait for.
        if read_only or conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            failpoints.point("sqlite.begin_write")
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_private_sqlite_file(url: str) -> None:
    """Create a new SQLite database file readable and writable by its owner and group only.

    SQLite gives its -wal and -shm files the same permissions, so the whole database stays
    private whatever the umask. An existing file is left as it is.
    """
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database).expanduser()
    if path.exists() or not path.parent.is_dir():
        return  # the engine reports a missing folder with its own message
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o660))
        os.chmod(path, 0o660)  # the umask may have taken group bits away
    except FileExistsError:
        return
    except OSError as exc:
        raise DatabaseError(f"无法创建数据库文件 / cannot create the database file {path}: {exc.strerror}") from exc


def is_retryable(exc: BaseException) -> bool:
    """True for the failures after which nothing was written and the same transaction may
    simply run again: SQLite's "database is locked/busy" (a lock held past the busy timeout)
    and PostgreSQL's serialization failures, deadlocks and lock time-outs. A lost connection
    is not: a commit it interrupted may have happened."""
    orig = getattr(exc, "orig", exc)
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in RETRYABLE_SQLSTATES:
        return True
    text_ = str(orig).lower()
    return type(orig).__name__ == "OperationalError" and state is None and (
        "database is locked" in text_ or "database is busy" in text_ or "database table is locked" in text_)


def is_operational(exc: BaseException) -> bool:
    """True when the database is in trouble rather than the work: ``DatabaseUnavailable`` (what
    the store raises for SQLAlchemy's ``OperationalError``: locked past the busy timeout,
    server gone, serialization failure, deadlock), a raw ``OperationalError``, or any DBAPI
    error after which the connection was invalidated (lost). Explicit causes are followed."""
    seen: BaseException | None = exc
    for _ in range(8):  # a cause chain is short; a cycle must not loop forever
        if seen is None:
            return False
        if isinstance(seen, (DatabaseUnavailable, OperationalError)):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__
    return False


def describe_operational(exc: BaseException) -> str:
    """The driver's own words for an operational error (``OperationalError: database is locked``)."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, DBAPIError):
        seen = seen.__cause__
    root = exc if seen is None else seen.orig if seen.orig is not None else seen
    return f"{type(root).__name__}: {str(root).strip()}"


def unavailable(shown: str, exc: DBAPIError) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"数据库暂时不可用，本次操作未写入任何内容，请稍后重试 / the database {shown} is busy or unavailable and "
        f"nothing was written; run the command again in a moment ({exc.orig})")


class Store:
    """An engine and its session factory; the caller owns each transaction."""

    def __init__(self, url: str, evidence_dir: str | None = None):
        self.url = url
        self.shown = safe_url(url)  # for messages and logs
        self.evidence_dir = evidence_dir  # --evidence-dir; None: RECTIFY_EVIDENCE_DIR or beside the SQLite file
        path = sqlite_path(url)
        # Why writing is impossible for this user (a read-only file or folder), or None.
        try:
            self.read_only = read_only_reason(path) if path is not None else None
        except OSError as exc:  # a name too long for the file system, a loop of links, …
            raise DatabaseError(f"无法使用数据库文件 / cannot use the database file {self.shown[:200]}: "
                                f"{exc.strerror or exc}") from None
        self.engine = make_engine(url, read_only=self.read_only is not None)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        readonly: dict[str, object] = {READ_ONLY: True}
        if self.engine.dialect.name == "postgresql":
            # One snapshot for the whole read (a report's figures must add up), which a read-only
            # transaction gets at REPEATABLE READ without ever failing to serialise.
            readonly.update(postgresql_readonly=True, isolation_level="REPEATABLE READ")
        self.readers = sessionmaker(self.engine.execution_options(**readonly), expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: committed if the block succeeds, rolled back if anything raises."""
        if self.read_only:
            raise ReadOnlyDatabase(f"{self.read_only}：只能查询，不能写入 / it can be read but not written; "
                                   "nothing was written")
        session = self.sessions()
        try:
            with session.begin():
                yield session
                failpoints.point("commit.before")
        except (StaleDataError, IntegrityError) as exc:
            # Another transaction committed the same case first: its version (or event number)
            # moved on under us. Nothing of this one is written; the official looks again.
            raise Conflict("整顿对象已被他人修改，本次操作未写入任何内容，请查看最新情况（rectify case show）后重试 / "
                           "the case changed while you were acting: someone else committed first and nothing of "
                           "yours was written; look again ('rectify case show') and retry") from exc
        except OperationalError as exc:
            raise unavailable(self.shown, exc) from exc
        except DBAPIError as exc:
            raise DatabaseError(f"数据库操作失败 / database error on {self.shown}: {exc.orig}") from exc
        finally:
            session.close()

    def write(self, work: Callable[[Session], T], attempts: int = WRITE_ATTEMPTS) -> T:
        """Run ``work(session)`` in one transaction and return its result once committed.

        A transaction that met a lock past the busy timeout (SQLite) or could not be serialised
        (PostgreSQL) was rolled back whole, so it is run again, up to ``attempts`` times in
        all, after a jittered pause that doubles; after the last it is ``DatabaseUnavailable``
        (exit 3). ``work`` must therefore do nothing outside the session (no printing, no
        sending) and return plain data: what it returns is only reported after the commit.
        """
        for attempt in range(1, attempts + 1):
            try:
                with self.transaction() as session:
                    return work(session)
            except DatabaseUnavailable as exc:
                if attempt == attempts or not is_retryable(exc.__cause__ or exc):
                    raise
                pause = RETRY_PAUSE * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
                # A wait the retry absorbs is routine (the daemon beside busy officials): one worded
                # line, the driver's own text only at DEBUG.
                log.info("数据库正忙，%.2f 秒后重试（第 %d/%d 次）/ database busy: attempt %d of %d in %.2fs",
                         pause, attempt + 1, attempts, attempt + 1, attempts, pause)
                log.debug("busy: %s", exc.__cause__)
                time.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    def read(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in a read-only snapshot (see ``reading``) and return its result."""
        with self.reading() as session:
            return work(session)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A consistent snapshot for a command that only reads (a report, an export, a listing):
        on SQLite a deferred transaction, which in WAL mode never holds up the daemon or an
        official's write however long it lasts; on PostgreSQL a READ ONLY transaction. Nothing
        is committed."""
        session = self.readers()
        try:
            yield session
        except OperationalError as exc:
            raise unavailable(self.shown, exc) from exc
        except DBAPIError as exc:
            raise DatabaseError(f"数据库操作失败 / database error on {self.shown}: {exc.orig}") from exc
        finally:
            session.close()

    def is_initialised(self) -> bool:
        try:
            # Through a reader: a look at the schema must not wait for (or take) the write lock.
            return inspect(self.engine.execution_options(**{READ_ONLY: True})).has_table("alembic_version")
        except OperationalError as exc:
            raise DatabaseUnavailable(f"无法打开数据库 / cannot open database {self.shown}: {exc.orig}") from exc
        except DBAPIError as exc:
            raise DatabaseError(f"无法打开数据库 / cannot open database {self.shown}: {exc.orig}") from exc

    @property
    def evidence_files(self) -> EvidenceFiles:
        """The evidence store of this database (engine.store.evidence_files): files live beside
        the database, not in it, and every caller (a command, the daemon) finds them here."""
        from engine.store.evidence_files import evidence_files  # it imports this module

        return evidence_files(self.url, self.evidence_dir)

    def dispose(self) -> None:
        self.engine.dispose()


def reserve_ids(session: Session, table: str, count: int) -> list[int]:
    """Ids for ``count`` new rows of ``table``, known before they are inserted (so rows that
    point at them can go in with one ``executemany`` too): from PostgreSQL's sequence, or
    after SQLite's largest (a SQLite write transaction holds the database: nobody takes them
    meanwhile)."""
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                                         "FROM generate_series(1, :n)"), {"n": count}))
    start = (session.scalar(text(f"SELECT max(id) FROM {table}")) or 0) + 1
    return list(range(start, start + count))


def database_now(session: Session) -> datetime:
    """The database server's clock (real time, whatever ``--now`` says): PostgreSQL's
    ``now()``; for SQLite, which runs inside every process on the one host, the host's."""
    if session.get_bind().dialect.name == "postgresql":
        moment = session.scalar(text("SELECT now()"))
        assert isinstance(moment, datetime)
        return moment
    return datetime.now(timezone.utc)
