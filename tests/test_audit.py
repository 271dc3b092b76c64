"""The tamper-evident audit log, on SQLite and PostgreSQL: the database refuses UPDATE and
DELETE of events; an edit made with the triggers dropped is named by ``rectify audit verify``."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from engine.ops.audit import GENESIS, event_hash
from tests.runner import Rectify


@pytest.fixture
def run(rectify) -> Rectify:
    """The CLI county on each backend, with two cases and a few events each."""
    cli = rectify
    for org in ("T1-01", "T1-02"):
        cli("case", "open", org, "--problem", "1", who="王强", now="2014-03-05")
        cli("fire", org, "confirm", who="李明", now="2014-03-10")
        cli("fact", "set", org, "plan_made", "是", who="王强", now="2014-03-20")
        cli("fact", "set", org, "contact_leader", "周建国", who="王强", now="2014-03-21")
    return cli


def sql(db_url: str, *statements: str) -> None:
    """Behind the project's back: plain SQL on the database file or server."""
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def drop_triggers(db_url: str) -> None:
    if db_url.startswith("postgresql"):
        sql(db_url, "DROP TRIGGER events_append_only ON events")
    else:
        sql(db_url, "DROP TRIGGER events_no_update", "DROP TRIGGER events_no_delete")


def verify(run: Rectify, *args: str, code: int = 0) -> str:
    return run("audit", "verify", *args, code=code).output


def test_an_untouched_log_verifies_and_exports(run):
    assert "the audit log verifies: 2 个整顿对象 cases, 8 条事件 events" in verify(run)
    trail = json.loads(run("audit", "export", "2014-1-0001").stdout)
    events = trail["events"]
    assert [e["kind"] for e in events] == ["opened", "transition", "fact", "fact"]
    assert events[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(events, events[1:], strict=False))
    assert trail["head"] == {"seq": 4, "hash": events[-1]["hash"]}
    assert events[1]["actor"] == "李明"
    assert events[1]["trigger"] == "confirm"
    assert events[1]["at"].startswith("2014-03-09T16")


@pytest.mark.parametrize("statement", ["UPDATE events SET note = 'x' WHERE seq = 2",
                                       "DELETE FROM events WHERE seq = 4"])
def test_the_database_refuses_to_change_events(run, statement):
    with pytest.raises(DBAPIError, match="append-only"):
        sql(run.db, statement)
    assert "verifies" in verify(run)


def test_postgres_refuses_truncate_too(run):
    if not run.db.startswith("postgresql"):
        pytest.skip("TRUNCATE is a PostgreSQL statement")
    with pytest.raises(DBAPIError, match="append-only"):
        sql(run.db, "TRUNCATE events CASCADE")


def _scalar(db_url: str, query: str):
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return conn.execute(text(query)).scalar()
    finally:
        engine.dispose()


@pytest.mark.parametrize(("tamper", "place", "problem"), [
    ("UPDATE events SET note = '补录' WHERE case_id = {c} AND seq = 3", "event #3", "the event was altered"),
    ("UPDATE events SET actor = '他人' WHERE case_id = {c} AND seq = 2", "event #2", "the event was altered"),
    ("DELETE FROM events WHERE case_id = {c} AND seq = 3", "event #3", "found 4"),
    ("UPDATE events SET seq = CASE seq WHEN 2 THEN 3 ELSE 2 END WHERE case_id = {c} AND seq IN (2, 3)",
     "event #2", "found 3"),
    ("DELETE FROM events WHERE case_id = {c} AND seq = 4", "2014-1-0001:", "events at the end were removed"),
])
def test_an_offline_edit_is_named(run, tamper, place, problem):
    case_id = _scalar(run.db, "SELECT id FROM cases WHERE ref = '2014-1-0001'")
    drop_triggers(run.db)
    if "seq = CASE" in tamper:  # swapping two numbers needs the unique (case, seq) pair free for a moment
        sql(run.db, f"UPDATE events SET seq = 100 WHERE case_id = {case_id} AND seq = 2",
            f"UPDATE events SET seq = 2 WHERE case_id = {case_id} AND seq = 3",
            f"UPDATE events SET seq = 3 WHERE case_id = {case_id} AND seq = 100")
    else:
        sql(run.db, tamper.format(c=case_id))
    out = verify(run, code=1)
    assert "does NOT verify" in out
    assert "2014-1-0001" in out
    assert place in out
    assert problem in out
    assert "verifies" in verify(run, "--case", "2014-1-0002")  # the other case's chain is intact
    assert run.json("audit", "refusals") == []  # a failed check is a finding, not a refused attempt


def test_an_inserted_event_is_named(run):
    case_id = _scalar(run.db, "SELECT id FROM cases WHERE ref = '2014-1-0001'")
    drop_triggers(run.db)
    # A forger who knows the method links a fabricated fact to the real head: the case's
    # head row still says 4, so the chain no longer ends where the project left it.
    head = _scalar(run.db, f"SELECT hash FROM events WHERE case_id = {case_id} AND seq = 4")
    when = datetime(2014, 3, 22, tzinfo=timezone.utc)
    data = {"fact": "stationed_cadre", "old": None, "new": "工作队"}
    digest = event_hash(case_id, 5, when, "王强", "fact", None, None, None, 1, None, data, head)
    sql(run.db, "INSERT INTO events (case_id, seq, at, actor, kind, round, data, prev_hash, hash) VALUES "
                f"({case_id}, 5, '2014-03-22 00:00:00.000000{'+00' if run.db.startswith('postgresql') else ''}', "
                f"'王强', 'fact', 1, '{json.dumps(data, ensure_ascii=False)}', '{head}', '{digest}')")
    out = verify(run, code=1)
    assert "2014-1-0001" in out
    assert "the chain ends at event 5 but the case's head says 4" in out


def test_a_rewritten_chain_is_caught_by_a_checkpoint(run, tmp_path):
    saved = tmp_path / "checkpoint.json"
    assert "checkpoint written" in run("audit", "checkpoint", "-o", str(saved)).stdout
    assert "matches the checkpoint" in verify(run, "--checkpoint", str(saved))
    run("fact", "set", "T1-01", "secretary_appointed", "张三", who="王强", now="2014-03-25")  # history goes on
    assert "matches the checkpoint" in verify(run, "--checkpoint", str(saved))
    # A forger rewrites event 3 and recomputes every hash after it, and the head: the chain
    # alone verifies again, but it no longer holds the head the checkpoint kept.
    case_id = _scalar(run.db, "SELECT id FROM cases WHERE ref = '2014-1-0001'")
    drop_triggers(run.db)
    _rewrite(run.db, case_id, from_seq=3, note="改写")
    assert "verifies" in verify(run)
    out = verify(run, "--checkpoint", str(saved), code=1)
    assert "2014-1-0001" in out
    assert "differs from the checkpoint" in out


def _rewrite(db_url: str, case_id: int, from_seq: int, note: str) -> None:
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    from engine.store.models import UTCDateTime

    decode = UTCDateTime().process_result_value
    try:
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT id, seq, at, actor, kind, \"trigger\", from_state, to_state, round, note, "
                                     f"data, prev_hash FROM events WHERE case_id = {case_id} ORDER BY seq")).all()
            prev = GENESIS
            for row in rows:
                at = datetime.fromisoformat(row.at) if isinstance(row.at, str) else row.at
                data = row.data if isinstance(row.data, dict) else json.loads(row.data)
                new_note = note if row.seq == from_seq else row.note
                when = decode(at, None)
                assert when is not None  # an event always has its time
                digest = event_hash(case_id, row.seq, when, row.actor, row.kind, row.trigger,
                                    row.from_state, row.to_state, row.round, new_note, data, prev)
                conn.execute(text("UPDATE events SET note = :n, prev_hash = :p, hash = :h WHERE id = :i"),
                             {"n": new_note, "p": prev, "h": digest, "i": row.id})
                prev = digest
            conn.execute(text("UPDATE cases SET event_head = :h WHERE id = :i"), {"h": prev, "i": case_id})
    finally:
        engine.dispose()


def test_bad_checkpoint_and_unknown_case_are_bad_input(run, tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text("{\"heads\": 3}", encoding="utf-8")
    assert "not a checkpoint" in verify(run, "--checkpoint", str(junk), code=2)
    assert "case not found" in run("audit", "export", "2099-1-0001", code=2).output
