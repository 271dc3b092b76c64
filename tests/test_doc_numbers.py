"""The register of document numbers (发文字号), on both backends: numbers of a (prefix, year) go
1, 2, 3 … with no gap and no duplicate, whatever rolls back and however many issue at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone

import pytest
from alembic import command
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.base.errors import DatabaseUnavailable, InvalidValue
from engine.store.db import Store
from engine.store.doc_numbers import (
    DocumentNumber,
    format_document_number,
    next_document_number,
    parse_document_number,
)
from engine.store.migrate import alembic_config, upgrade
from engine.store.models import DocumentCounter, Notice
from tests.polling import wait_until

PREFIX = "×组通"
NOW = datetime(2014, 3, 18, 9, tzinfo=timezone.utc)


def take(store: Store, prefix: str = PREFIX, year: int = 2014) -> int:
    return store.write(lambda session: next_document_number(session, prefix, year))


def notice(key: str, number: str | None) -> Notice:
    return Notice(idempotency_key=key, template="t.j2", template_hash="0" * 64, title="通知", body="",
                  created_at=NOW, recipients=[], document_number=number)


def issue(session: Session, key: str, prefix: str = PREFIX, year: int = 2014) -> int:
    """What issuing a notice does: its number and the notice carrying it, in one transaction."""
    number = next_document_number(session, prefix, year)
    session.add(notice(key, format_document_number(prefix, year, number)))
    session.flush()
    return number


# --- the text ------------------------------------------------------------------------------

def test_a_number_formats_as_in_gb_t_9704_and_parses_back():
    assert format_document_number("×组通", 2014, 12) == "×组通〔2014〕12号"
    assert format_document_number("某组督", 2027, 1) == "某组督〔2027〕1号"
    assert parse_document_number("×组通〔2014〕12号") == DocumentNumber("×组通", 2014, 12)
    for bad in ("×组通〔2014〕012号", "×组通[2014]12号", "×组通〔14〕12号", "〔2014〕12号", "×组通〔2014〕0号",
                "×组 通〔2014〕1号"):
        with pytest.raises(InvalidValue, match="document number"):
            parse_document_number(bad)


@pytest.mark.parametrize(("prefix", "year", "number"), [
    ("", 2014, 1), ("×组〔通", 2014, 1), ("组 通", 2014, 1), ("组" * 41, 2014, 1), (PREFIX, 14, 1), (PREFIX, 2014, 0)])
def test_a_number_that_would_not_read_back_is_refused(prefix: str, year: int, number: int) -> None:
    with pytest.raises(InvalidValue, match=" / "):
        format_document_number(prefix, year, number)


# --- the register --------------------------------------------------------------------------

def test_numbers_go_one_two_three_per_prefix_and_year(store: Store) -> None:
    assert [take(store) for _ in range(3)] == [1, 2, 3]
    assert take(store, "×组督") == 1
    assert take(store, PREFIX, 2015) == 1
    assert take(store) == 4
    # Several in one transaction, too (a bulletin and its 督办通知 issued together).
    assert store.write(lambda s: [next_document_number(s, "×组督", 2014) for _ in range(3)]) == [2, 3, 4]
    with store.reading() as session:
        rows = session.execute(select(DocumentCounter.prefix, DocumentCounter.year, DocumentCounter.last)
                               .order_by(DocumentCounter.prefix, DocumentCounter.year)).all()
    assert sorted(map(tuple, rows)) == sorted([(PREFIX, 2014, 4), (PREFIX, 2015, 1), ("×组督", 2014, 4)])


def test_a_rolled_back_transaction_gives_its_number_back(store: Store) -> None:
    assert take(store) == 1

    def fails(session: Session) -> None:
        assert issue(session, "rolled-back") == 2
        assert issue(session, "rolled-back-too", year=2016) == 1  # a counter created, then rolled back
        raise RuntimeError("the notice could not be rendered")

    with pytest.raises(RuntimeError):
        store.write(fails)
    assert store.write(lambda s: issue(s, "next")) == 2
    assert take(store, PREFIX, 2016) == 1
    with store.reading() as session:
        assert session.scalars(select(Notice.document_number)).all() == ["×组通〔2014〕2号"]


def test_nothing_is_committed_inside(store: Store) -> None:
    """The caller owns the transaction: a session that takes a number and closes without
    committing leaves the register as it was."""
    with store.sessions() as session, session.begin():
        assert next_document_number(session, PREFIX, 2014) == 1
        session.rollback()
    assert take(store) == 1


def test_the_unique_index_refuses_a_second_notice_with_the_same_number(store: Store) -> None:
    with store.sessions() as session, session.begin():
        session.add_all([notice("a", "×组通〔2014〕1号"), notice("b", None), notice("c", None)])  # NULLs: many
    with store.sessions() as session:
        session.begin()
        session.add(notice("d", "×组通〔2014〕1号"))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
    with store.reading() as session:
        assert session.scalars(select(Notice.idempotency_key).order_by(Notice.idempotency_key)).all() == ["a", "b", "c"]
    indexes = {ix["name"]: ix for ix in inspect(store.engine).get_indexes("notices")}
    assert indexes["ix_notices_document_number"]["unique"]


# --- at once -------------------------------------------------------------------------------

def run_together(count: int, work: Callable[[int], None]) -> None:
    """``work(i)`` in ``count`` threads released together; their exceptions fail the test."""
    problems: list[BaseException] = []
    together = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            together.wait(timeout=60)
            work(i)
        except BaseException as exc:  # reported by the test, not lost in the thread
            problems.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "an issuer is still running"
    assert problems == []


def test_issuers_at_once_get_every_number_once(db_url: str) -> None:
    """Four issuers, each with its own connection pool (as separate processes have), 15
    notices each, every third transaction failing after it took its number: the notices
    committed carry exactly 1 … 40, and the register says 40."""
    issuers, each = 4, 15
    committed: list[int] = []
    lock = threading.Lock()

    def issuer(i: int) -> None:
        store = Store(db_url)
        try:
            for n in range(each):
                def work(session: Session, n: int = n) -> int:
                    number = issue(session, f"issuer{i}-{n}")
                    if n % 3 == 2:
                        raise RuntimeError("rolled back after taking a number")
                    return number
                try:
                    number = store.write(work)
                except RuntimeError:
                    continue
                with lock:
                    committed.append(number)
        finally:
            store.dispose()

    run_together(issuers, issuer)
    total = issuers * each * 2 // 3
    assert sorted(committed) == list(range(1, total + 1))
    check = Store(db_url)
    try:
        with check.reading() as session:
            written = session.scalars(select(Notice.document_number)).all()
            last = session.scalar(select(DocumentCounter.last))
    finally:
        check.dispose()
    assert len(written) == total
    assert set(written) == {f"×组通〔2014〕{n}号" for n in range(1, total + 1)}
    assert last == total


@pytest.mark.parametrize("ending", ["rollback", "commit"])
@pytest.mark.parametrize("earlier", [0, 1], ids=["first-of-the-year", "counter-exists"])
def test_a_second_issuer_waits_for_the_first(db_url: str, earlier: int, ending: str) -> None:
    """The first issuer holds a number in an open transaction; the second cannot take one until
    the first ends (PostgreSQL: it waits for the counter row the first inserted or locked;
    SQLite: the write lock is refused it). It then gets the number the first gave back by
    rolling back, or the next one after it committed."""
    postgres = db_url.startswith("postgresql")
    first, second = Store(db_url), Store(db_url if postgres else f"{db_url}?busy_timeout=0")
    got: list[int] = []
    try:
        for _ in range(earlier):
            take(first)
        with first.sessions() as holder, holder.begin():
            assert next_document_number(holder, PREFIX, 2014) == earlier + 1
            if postgres:
                waiter = threading.Thread(target=lambda: got.append(take(second)), daemon=True)
                waiter.start()
                wait_until(lambda: waiting_on_a_lock(first) == 1, "the second issuer waits for the first")
                assert got == []
            else:
                with pytest.raises(DatabaseUnavailable):
                    second.write(lambda s: next_document_number(s, PREFIX, 2014), attempts=1)
            if ending == "rollback":
                holder.rollback()
        if postgres:
            waiter.join(timeout=60)
            assert not waiter.is_alive()
        else:
            got.append(take(second))
        assert got == [earlier + 1 if ending == "rollback" else earlier + 2]
    finally:
        first.dispose()
        second.dispose()


def waiting_on_a_lock(store: Store) -> int:
    """How many other sessions of this PostgreSQL database are waiting for a lock."""
    with store.engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'")).scalar_one())


# --- the migration -------------------------------------------------------------------------

def test_the_migration_goes_down_and_up_again(store: Store) -> None:
    """Down to 0011 the register and the column are gone (the notices stay); up again, they are
    back and numbering starts afresh."""
    store.write(lambda s: issue(s, "before"))
    config = alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0011")
    assert "document_counters" not in inspect(store.engine).get_table_names()
    assert "document_number" not in {c["name"] for c in inspect(store.engine).get_columns("notices")}
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT idempotency_key FROM notices")).scalars().all() == ["before"]
    upgrade(store)
    assert store.write(lambda s: issue(s, "after")) == 1
