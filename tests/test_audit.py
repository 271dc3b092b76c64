"""The tamper-evident audit log, on SQLite and PostgreSQL: the database refuses UPDATE and
DELETE of events, anchors and refusals; an edit made behind the project's back (the triggers
dropped, plain SQL on the database, as anyone holding the file or the server's password can)
is named by ``rectify audit verify``: an event, a cut-off tail, a case row or fact its events
do not give, a refusal. A checkpoint catches a consistent rewrite, and refuses its own edit."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from engine.base.errors import Refused
from engine.ops.audit import GENESIS, checkpoint_digest, event_hash
from engine.services import Caller, cases
from engine.store.chain import anchor_hash
from engine.store.db import Store
from engine.store.migrate import alembic_config, upgrade
from tests.conftest import BACKENDS
from tests.runner import Rectify, build_county


def build_audited(cli: Rectify, folder: Path) -> None:
    """The CLI county with two cases and a few events each."""
    build_county(cli, folder)
    for org in ("T1-01", "T1-02"):
        cli("case", "open", org, "--problem", "1", who="王强", now="2014-03-05")
        cli("fire", org, "confirm", who="李明", now="2014-03-10")
        cli("fact", "set", org, "plan_made", "是", who="王强", now="2014-03-20")
        cli("fact", "set", org, "contact_leader", "周建国", who="王强", now="2014-03-21")


@pytest.fixture(params=BACKENDS)
def run(request, built_counties, tmp_path) -> Rectify:
    """``build_audited``'s county on each backend, built once per session and copied per test."""
    return built_counties.copy("audited", build_audited, request.param, tmp_path)


def sql(db_url: str, *statements: str) -> None:
    """Behind the project's back: plain SQL on the database file or server."""
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def drop_triggers(db_url: str, *tables: str) -> None:
    for table in tables or ("events",):
        if db_url.startswith("postgresql"):
            sql(db_url, f"DROP TRIGGER {table}_append_only ON {table}")
        else:
            sql(db_url, f"DROP TRIGGER {table}_no_update", f"DROP TRIGGER {table}_no_delete")


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
                                       "DELETE FROM events WHERE seq = 4",
                                       "UPDATE audit_anchors SET case_seq = 3 WHERE seq = 4",
                                       "DELETE FROM audit_anchors WHERE seq = 8",
                                       "UPDATE refusals SET reason = 'x'", "DELETE FROM refusals"])
def test_the_database_refuses_to_change_the_log(run, statement):
    refuse(run, 1)
    with pytest.raises(DBAPIError, match="append-only"):
        sql(run.db, statement)
    assert "verifies" in verify(run)


@pytest.mark.parametrize("table", ["events", "audit_anchors", "refusals"])
def test_postgres_refuses_truncate_too(run, table):
    if not run.db.startswith("postgresql"):
        pytest.skip("TRUNCATE is a PostgreSQL statement")
    with pytest.raises(DBAPIError, match="append-only"):
        sql(run.db, f"TRUNCATE {table} CASCADE")


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
    # The head moved on to it and the fact stored as well: no anchor holds the event.
    tz = "+00" if run.db.startswith("postgresql") else ""
    sql(run.db, f"UPDATE cases SET event_seq = 5, event_head = '{digest}' WHERE id = {case_id}",
        "INSERT INTO case_facts (case_id, name, value, set_at, set_by) VALUES "
        f"({case_id}, 'stationed_cadre', '{{\"v\": \"工作队\"}}', '2014-03-22 00:00:00{tz}', '王强')")
    out = verify(run, code=1)
    assert "2014-1-0001 第 5 条事件 event #5" in out
    assert "not anchored in the campaign's chain: it was added behind the project's back" in out
    assert "1 处问题 problem(s)" in out  # the row and its facts agree with the forged events


def _id(run: Rectify, ref: str = "2014-1-0001") -> int:
    return _scalar(run.db, f"SELECT id FROM cases WHERE ref = '{ref}'")


def _cut_tail(db_url: str, case_id: int, *, anchor: bool) -> None:
    """Delete a case's last event and move the case's head back to the one before, as someone
    who knows the chain's format would; with ``anchor``, delete the event's anchor too."""
    seq = _scalar(db_url, f"SELECT event_seq FROM cases WHERE id = {case_id}")
    prev = _scalar(db_url, f"SELECT prev_hash FROM events WHERE case_id = {case_id} AND seq = {seq}")
    statements = [f"DELETE FROM events WHERE case_id = {case_id} AND seq = {seq}",
                  f"UPDATE cases SET event_seq = {seq - 1}, event_head = '{prev}' WHERE id = {case_id}"]
    if anchor:
        statements.append(f"DELETE FROM audit_anchors WHERE case_id = {case_id} AND case_seq = {seq}")
    sql(db_url, *statements)


@pytest.mark.parametrize(("anchor", "problem", "alone"), [
    # The case's own chain and head agree again: the anchor kept outside the row still holds event 4.
    (False, ("2014-1-0001: ", "anchor #4 of campaign #1 holds event 4, but the chain ends at event 3: events at "
             "the end were removed"), "events at the end were removed"),
    # The anchor deleted too: the campaign's chain has a hole where it was.
    (True, ("campaign #1 anchor chain 第 4 个锚点 anchor #4 (id 5)", "expected 4, found 5: one is missing"),
     "no anchor follows it, yet it is not the chain's head"),
])
def test_a_cut_off_tail_is_caught_by_the_campaign_anchors(run, anchor, problem, alone):
    drop_triggers(run.db, "events", "audit_anchors")
    _cut_tail(run.db, _id(run), anchor=anchor)
    out = verify(run, code=1)
    assert all(part in out for part in problem), out
    assert "the chain ends at event 3 but the case's head says" not in out  # the row alone would not tell
    assert alone in verify(run, "--case", "2014-1-0001", code=1)  # one case's check, from its own anchors
    assert "verifies" in verify(run, "--case", "2014-1-0002")


@pytest.mark.parametrize(("tamper", "differs"), [
    ("UPDATE cases SET state = 'accepted' WHERE id = {c}", 'state 状态 "accepted" (events: "rectifying")'),
    ("UPDATE cases SET round = 2 WHERE id = {c}", "round 轮次 2 (events: 1)"),
    ("UPDATE case_facts SET value = '{{\"v\": 40}}' WHERE case_id = {c} AND name = 'survey_satisfied'",
     "fact 事实 survey_satisfied = 40 (events: 30)"),
    ("DELETE FROM case_facts WHERE case_id = {c} AND name = 'plan_made'", "fact 事实 plan_made = 无 / absent (events: true)"),
    ("INSERT INTO case_facts (case_id, name, value, set_at, set_by) VALUES "
     "({c}, 'county_cadre', '{{\"v\": \"某某\"}}', '2014-03-23 00:00:00{tz}', '王强')",
     'fact 事实 county_cadre = "某某" (events: 无 / absent)'),
])
def test_a_row_the_rules_read_is_checked_against_the_events(run, tamper, differs):
    """No trigger guards the case row and its facts (the project changes them): their values are
    recomputed from the events and compared."""
    run("fact", "set", "T1-01", "survey_respondents", "40", who="王强", now="2014-03-22")
    run("fact", "set", "T1-01", "survey_satisfied", "30", who="王强", now="2014-03-22")
    assert "verifies" in verify(run)
    sql(run.db, tamper.format(c=_id(run), tz="+00" if run.db.startswith("postgresql") else ""))
    out = verify(run, code=1)
    assert "2014-1-0001: 记录与其事件不符" in out
    assert differs in out
    assert "1 处问题 problem(s)" in out
    assert differs in verify(run, "--case", "2014-1-0001", code=1)
    assert "verifies" in verify(run, "--case", "2014-1-0002")


def refuse(run: Rectify, times: int) -> None:
    for _ in range(times):  # already confirmed: refused, and recorded
        run("fire", "T1-01", "confirm", who="李明", now="2014-03-25", code=1)


@pytest.mark.parametrize(("tamper", "problem"), [
    ("DELETE FROM refusals WHERE seq = 2", ("第 2 条拒绝记录 refusal #2 (id 3)", "expected 2, found 3")),
    ("UPDATE refusals SET reason = '无' WHERE seq = 2", ("refusal #2 (id 2)", "content does not match its hash")),
    ("UPDATE refusals SET login = 'nobody' WHERE seq = 1", ("refusal #1 (id 1)", "content does not match its hash")),
])
def test_a_deleted_or_edited_refusal_is_named(run, tamper, problem):
    refuse(run, 3)
    assert "3 条拒绝记录 refusals" in verify(run)
    drop_triggers(run.db, "refusals")
    sql(run.db, tamper)
    out = verify(run, code=1)
    assert "拒绝记录 / the refusals log" in out
    assert all(part in out for part in problem), out
    refuse(run, 1)  # the log goes on from its head, whatever was done to it
    out = verify(run, code=1)
    assert all(part in out for part in problem), out


def test_officials_writing_at_once_extend_the_chains_without_a_fork(run):
    """Four officials at once, each on a case of their own and each refused now and then: the
    campaign's anchors and the refusals queue for their heads (locked on PostgreSQL), so nobody
    meets a conflict, no refusal is lost, and every chain verifies."""
    for org in ("T1-03", "T1-04"):
        run("case", "open", org, "--problem", "1", who="王强", now="2014-03-05")
    refs = [f"2014-1-000{i}" for i in range(1, 5)]
    problems: list[BaseException] = []
    together = threading.Barrier(len(refs))

    def official(ref: str) -> None:
        store = Store(run.db)
        caller = Caller("tester", as_name="王强", now_text="2014-03-26")
        try:
            together.wait(timeout=60)
            for i in range(5):
                cases.set_fact(store, caller, ref, "plan_published", "是" if i % 2 else "否")
                try:
                    cases.fire(store, caller, ref, "confirm")  # not 王强's to fire, or not from this state
                except Refused:
                    continue
                problems.append(AssertionError(f"{ref}: confirm was not refused"))
        except BaseException as exc:  # anything at all: reported by the test, not lost in the thread
            problems.append(exc)
        finally:
            store.dispose()

    threads = [threading.Thread(target=official, args=(ref,)) for ref in refs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert problems == []
    assert "4 个整顿对象 cases, 30 条事件 events, 30 个锚点 anchors, 20 条拒绝记录 refusals" in verify(run)


def test_a_checkpoint_prints_its_digest_and_an_edited_one_is_refused(run, tmp_path):
    saved = tmp_path / "checkpoint.json"
    written = run("audit", "checkpoint", "-o", str(saved)).output
    data = json.loads(saved.read_text(encoding="utf-8"))
    published = data["digest"]
    assert f"checkpoint digest: {published}" in written
    assert set(data["chains"]) == {"campaign-1", "refusals"}
    assert f"digest {published}" in verify(run, "--checkpoint", str(saved))
    to_stdout = run("audit", "checkpoint")
    assert f"checkpoint digest: {json.loads(to_stdout.stdout)['digest']}" in to_stdout.stderr
    # An edit the digest does not follow: refused before anything is compared.
    edited = tmp_path / "edited.json"
    data["heads"]["2014-1-0001"][0] = 3
    edited.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = verify(run, "--checkpoint", str(edited), code=1)
    assert "does not match its own digest" in out
    assert f"it says {published}" in out
    # Edited with its digest recomputed, it checks, but its digest is no longer the one published.
    data["heads"]["2014-1-0001"][0] = 4
    data["at"] = "2014-01-01 00:00"
    data["digest"] = checkpoint_digest(data)
    edited.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = verify(run, "--checkpoint", str(edited))
    assert f"digest {data['digest']}" in out
    assert published not in out


def test_a_checkpoint_written_before_the_anchors_still_checks(run, tmp_path):
    heads = json.loads(run("audit", "checkpoint").stdout)["heads"]
    old = tmp_path / "old.json"
    digest = hashlib.sha256(json.dumps(heads, sort_keys=True).encode()).hexdigest()
    old.write_text(json.dumps({"method": "sha256-chain-v1", "cases": 2, "digest": digest, "heads": heads}),
                   encoding="utf-8")
    assert f"digest {digest}" in verify(run, "--checkpoint", str(old))
    heads["2014-1-0002"][0] = 1
    old.write_text(json.dumps({"method": "sha256-chain-v1", "cases": 2, "digest": digest, "heads": heads}),
                   encoding="utf-8")
    assert "does not match its own digest" in verify(run, "--checkpoint", str(old), code=1)


def test_a_rewritten_chain_is_caught_by_its_anchors_and_a_checkpoint(run, tmp_path):
    saved = tmp_path / "checkpoint.json"
    assert "checkpoint written" in run("audit", "checkpoint", "-o", str(saved)).stdout
    assert "matches the checkpoint" in verify(run, "--checkpoint", str(saved))
    run("fact", "set", "T1-01", "secretary_appointed", "张三", who="王强", now="2014-03-25")  # history goes on
    assert "matches the checkpoint" in verify(run, "--checkpoint", str(saved))
    # A forger rewrites event 3 and recomputes every hash after it, and the head: the case's
    # chain alone is whole again, but its anchor still holds the hash event 5 had.
    case_id = _id(run)
    drop_triggers(run.db, "events", "audit_anchors")
    _rewrite(run.db, case_id, from_seq=3, note="改写")
    out = verify(run, code=1)
    assert "2014-1-0001 第 5 条事件 event #5" in out
    assert "differs from the hash anchor #9 of campaign #1 holds" in out
    # Recomputing the campaign's whole anchor chain too, and its head, leaves nothing in the
    # database to tell: only the checkpoint kept outside it does.
    _reanchor(run.db)
    assert "verifies" in verify(run)
    out = verify(run, "--checkpoint", str(saved), code=1)
    assert "2014-1-0001 第 4 条事件 event #4" in out
    assert "campaign #1 anchor chain 第 8 个锚点 anchor #8" in out
    assert "differs from the checkpoint" in out


def test_cutting_off_the_campaigns_last_event_needs_a_checkpoint(run, tmp_path):
    """The limit docs/trust.md states: the newest event of the whole campaign, its anchor and
    the heads can be taken away consistently; a checkpoint written before still catches it."""
    saved = tmp_path / "checkpoint.json"
    run("audit", "checkpoint", "-o", str(saved))
    case_id = _id(run, "2014-1-0002")
    drop_triggers(run.db, "events", "audit_anchors")
    _cut_tail(run.db, case_id, anchor=True)
    sql(run.db, "UPDATE anchor_heads SET seq = 7, hash = (SELECT hash FROM audit_anchors WHERE seq = 7)",
        f"DELETE FROM case_facts WHERE case_id = {case_id} AND name = 'contact_leader'")  # what event 4 set
    assert "verifies" in verify(run)
    out = verify(run, "--checkpoint", str(saved), code=1)
    assert "2014-1-0002" in out
    assert "differs from the checkpoint: it holds record 8, the chain ends at 7" in out


def test_the_migration_anchors_and_chains_what_was_there(run):
    """Downgraded to 0007 (no anchors, refusals unchained) and upgraded again: each case's head is
    anchored as it stands and the refusals are chained in their order; appending goes on."""
    refuse(run, 2)
    store = Store(run.db)
    try:
        config = alembic_config()
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0007")
        assert _scalar(run.db, "SELECT count(*) FROM refusals") == 2
        upgrade(store)
    finally:
        store.dispose()
    assert "2 个整顿对象 cases, 8 条事件 events, 2 个锚点 anchors, 2 条拒绝记录 refusals" in verify(run)
    run("fact", "set", "T1-01", "secretary_appointed", "张三", who="王强", now="2014-03-25")
    refuse(run, 1)
    assert "2 个整顿对象 cases, 9 条事件 events, 3 个锚点 anchors, 3 条拒绝记录 refusals" in verify(run)
    with pytest.raises(DBAPIError, match="append-only"):  # the refusals' triggers are back
        sql(run.db, "UPDATE refusals SET reason = 'x'")
    drop_triggers(run.db, "audit_anchors")  # the anchors' are there (dropping them fails otherwise)
    sql(run.db, "DELETE FROM audit_anchors WHERE seq = 1")
    out = verify(run, code=1)
    assert "anchor #1 (id 2)" in out
    assert "expected 1, found 2" in out


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


def _reanchor(db_url: str) -> None:
    """Recompute campaign 1's whole anchor chain from the events as they now are, and its head."""
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            prev = GENESIS
            for row in conn.execute(text("SELECT a.id, a.seq, a.case_id, a.case_seq, e.hash AS event FROM audit_anchors a "
                                         "JOIN events e ON e.case_id = a.case_id AND e.seq = a.case_seq "
                                         "WHERE a.campaign_id = 1 ORDER BY a.seq")).all():
                digest = anchor_hash(1, row.seq, row.case_id, row.case_seq, row.event, prev)
                conn.execute(text("UPDATE audit_anchors SET event_hash = :e, prev_hash = :p, hash = :h WHERE id = :i"),
                             {"e": row.event, "p": prev, "h": digest, "i": row.id})
                prev = digest
            conn.execute(text("UPDATE anchor_heads SET hash = :h WHERE campaign_id = 1"), {"h": prev})
    finally:
        engine.dispose()


def test_bad_checkpoint_and_unknown_case_are_bad_input(run, tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text("{\"heads\": 3}", encoding="utf-8")
    assert "not a checkpoint" in verify(run, "--checkpoint", str(junk), code=2)
    assert "case not found" in run("audit", "export", "2099-1-0001", code=2).output
