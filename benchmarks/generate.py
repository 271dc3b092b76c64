"""A realistic database at any size, written fast: organizations in a county → township →
grassroots hierarchy, and cases spread over every state of the shipped workflow, each with
its hash-chained opening event and the pending timers of its state.

Rows go in with SQLAlchemy Core ``executemany`` in chunks (the engine's own per-case code
would take hours at 250 000 cases); their shape is taken from what the engine writes, so
the benchmarks read and fire rows the engine could have written.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, select, text, update

from engine.base.natural import hierarchy_key, natural_key
from engine.ops.audit import GENESIS, event_hash
from engine.ops.deploy import compiled_version, deploy, resolve_campaign
from engine.spec.deadlines import plan_timers
from engine.spec.loader import load_workflow_file
from engine.store.chain import anchor_hash
from engine.store.db import Store
from engine.store.models import (
    AnchorHead,
    AuditAnchor,
    Case,
    Event,
    Official,
    Organization,
    OrgKind,
    Timer,
    TimerStatus,
)
from workflows import DEFAULT_WORKFLOW

PER_COUNTY = 1800  # grassroots organizations in a county (the country: ~5 million in ~2 800 counties)
PER_TOWNSHIP = 120
CHUNK = 20_000
GRASSROOTS = [OrgKind.VILLAGE.value] * 6 + [OrgKind.COMMUNITY.value, OrgKind.ENTERPRISE.value,
                                             OrgKind.SCHOOL.value, OrgKind.INSTITUTION.value]
Progress = Callable[[str, int, int], None]


def _quiet(_what: str, _done: int, _total: int) -> None:
    pass


def org_rows(total: int, first_id: int = 1) -> Iterator[dict]:
    """``total`` grassroots organizations with their counties and townships (ids from ``first_id``)."""
    next_id = first_id
    made = 0
    county = 0
    while made < total:
        county += 1
        cid = next_id
        next_id += 1
        ckey = hierarchy_key(None, f"C{county:04d}")
        yield {"id": cid, "code": f"C{county:04d}", "name": f"中共第{county}县委", "kind": OrgKind.COUNTY.value,
               "parent_id": None, "township_id": None, "path": f"/{cid}/", "secretary_name": None,
               "secretary_phone": None, "sort_key": ckey}
        in_county = min(PER_COUNTY, total - made)
        for t in range((in_county + PER_TOWNSHIP - 1) // PER_TOWNSHIP):
            tid = next_id
            next_id += 1
            tkey = hierarchy_key(ckey, f"C{county:04d}-T{t + 1:02d}")
            yield {"id": tid, "code": f"C{county:04d}-T{t + 1:02d}", "name": f"中共第{county}县第{t + 1}镇委员会",
                   "kind": OrgKind.TOWNSHIP.value, "parent_id": cid, "township_id": tid,
                   "path": f"/{cid}/{tid}/", "secretary_name": None, "secretary_phone": None, "sort_key": tkey}
            for v in range(min(PER_TOWNSHIP, in_county - t * PER_TOWNSHIP)):
                gid = next_id
                next_id += 1
                made += 1
                yield {"id": gid, "code": f"C{county:04d}-T{t + 1:02d}-{v + 1:03d}",
                       "name": f"第{county}县第{t + 1}镇第{v + 1}村党支部", "kind": GRASSROOTS[gid % len(GRASSROOTS)],
                       "parent_id": tid, "township_id": tid, "path": f"/{cid}/{tid}/{gid}/",
                       "secretary_name": f"书记{gid}", "secretary_phone": f"138{gid % 100_000_000:08d}",
                       "sort_key": hierarchy_key(tkey, f"C{county:04d}-T{t + 1:02d}-{v + 1:03d}")}


def chunks(rows: Iterator[dict], size: int = CHUNK) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def insert_orgs(store: Store, total: int, progress: Progress = _quiet) -> int:
    """Write the hierarchy; returns the number of rows (grassroots, townships and counties)."""
    written = 0
    with store.engine.begin() as conn:
        for batch in chunks(org_rows(total)):
            conn.execute(insert(Organization), batch)
            written += len(batch)
            progress("organizations", written, total)
    _advance_sequence(store, "organizations")
    return written


def _advance_sequence(store: Store, table: str) -> None:
    """Rows written with explicit ids leave PostgreSQL's sequence behind: move it on."""
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as conn:
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))


@dataclass(frozen=True)
class Population:
    cases: int
    states: dict[str, int]


def setup_campaign(store: Store, now: datetime, login: str | None = None) -> None:
    """Deploy the shipped workflow and register a county department official (an administrator,
    acting for ``login``) and a township one."""
    loaded = load_workflow_file(DEFAULT_WORKFLOW)
    with store.transaction() as s:
        deploy(s, loaded, "benchmark", now)
        county = s.scalar(select(Organization.id).where(Organization.kind == OrgKind.COUNTY.value).limit(1))
        town = s.scalar(select(Organization.id).where(Organization.kind == OrgKind.TOWNSHIP.value).limit(1))
        s.add_all([Official(name="县委组织部", role="county_department", jurisdiction_id=county, channels={},
                            active=True, admin=True, admin_since=now, login=login),
                   Official(name="乡镇党委", role="township_committee", jurisdiction_id=town, channels={},
                            active=True)])


def insert_cases(store: Store, total: int, now: datetime, seed: int = 1, progress: Progress = _quiet,
                 states: list[str] | None = None) -> Population:
    """``total`` cases on evenly spaced grassroots organizations, spread over ``states``
    (default: every state), each with its opening event and its state's pending timers."""
    with store.transaction() as s:
        campaign = resolve_campaign(s, None)
        compiled = compiled_version(campaign.current_version)
        version_id, campaign_id, year = campaign.current_version_id, campaign.id, campaign.year
        taken = set(s.scalars(select(Case.organization_id).where(Case.campaign_id == campaign.id)))
        orgs = [row for row in s.execute(select(Organization.id, Organization.township_id)
                                         .where(Organization.kind.not_in((OrgKind.COUNTY.value,
                                                                          OrgKind.TOWNSHIP.value)))
                                         .order_by(Organization.id)) if row.id not in taken]
        first_case = (s.scalar(select(Case.id).order_by(Case.id.desc()).limit(1)) or 0) + 1
        first_event = (s.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0) + 1
    if total > len(orgs):
        raise ValueError(f"{total} cases need at least as many grassroots organizations ({len(orgs)})")
    wf = compiled.definition
    names = states or [n for n in wf.states]
    rng = random.Random(seed)
    step = len(orgs) / total
    opened = now - timedelta(days=30)
    plans = {n: plan_timers(wf.states[n], 1, opened, wf.resolved_dates(), wf.timezone, compiled.loaded.calendar,
                            {k: d.label for k, d in wf.dates.items()}) for n in names}
    counts = {n: 0 for n in names}
    done = 0
    with store.engine.begin() as conn:  # the campaign's anchor chain (engine.ops.audit), continued
        known = conn.execute(select(AnchorHead.seq, AnchorHead.hash).where(AnchorHead.campaign_id == campaign_id)).first()
    anchor_seq, anchor_prev = (known.seq, known.hash) if known else (0, GENESIS)
    while done < total:
        cases, events, timers, anchors = [], [], [], []
        for i in range(done, min(done + CHUNK, total)):
            org_id, township_id = orgs[int(i * step)]
            state = names[i % len(names)]
            counts[state] += 1
            case_id, event_id = first_case + i, first_event + i
            data = {"workflow_version": 1, "problems": [1 + i % 4], "flags": [], "key_target": i % 17 == 0,
                    "weak_and_lax": False}
            digest = event_hash(case_id, 1, opened, "benchmark", "opened", None, None, state, 1, None, data, GENESIS)
            planned = [p for p in plans[state] if p.due_at > now]  # nothing due: the past is done
            due = next((p.due_at for p in planned if p.kind == "deadline"), None)
            ref = f"{year}-{campaign_id}-{case_id:07d}"
            cases.append({"id": case_id, "ref": ref, "sort_key": natural_key(ref), "campaign_id": campaign_id,
                          "organization_id": org_id, "township_id": township_id, "workflow_version_id": version_id,
                          "state": state, "round": 1, "key_target": i % 17 == 0, "weak_and_lax": False,
                          "problems": [1 + i % 4], "flags": [], "measures": "选优配强班子，健全制度",
                          "opened_at": opened, "entered_at": opened, "due_at": due, "updated_at": opened,
                          "version": 1, "event_seq": 1, "event_head": digest})
            events.append({"id": event_id, "case_id": case_id, "seq": 1, "at": opened, "actor": "benchmark",
                           "kind": "opened", "trigger": None, "from_state": None, "to_state": state, "round": 1,
                           "note": None, "data": data, "prev_hash": GENESIS, "hash": digest})
            anchor_seq += 1
            anchored = anchor_hash(campaign_id, anchor_seq, case_id, 1, digest, anchor_prev)
            anchors.append({"campaign_id": campaign_id, "seq": anchor_seq, "case_id": case_id, "case_seq": 1,
                            "event_hash": digest, "prev_hash": anchor_prev, "hash": anchored})
            anchor_prev = anchored
            timers += [{"case_id": case_id, "state": state, "round": 1, "kind": p.kind, "due_at": p.due_at,
                        "payload": p.payload, "status": TimerStatus.PENDING.value, "fired_at": None}
                       for p in planned]
            rng.random()
        with store.engine.begin() as conn:
            conn.execute(insert(Case), cases)
            conn.execute(insert(Event), events)
            conn.execute(insert(AuditAnchor), anchors)
            if timers:
                conn.execute(insert(Timer), timers)
        done += len(cases)
        progress("cases", done, total)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE campaigns SET case_seq = :n"), {"n": first_case + total - 1})
        if known:
            conn.execute(update(AnchorHead).where(AnchorHead.campaign_id == campaign_id)
                         .values(seq=anchor_seq, hash=anchor_prev))
        elif anchor_seq:
            conn.execute(insert(AnchorHead), [{"campaign_id": campaign_id, "seq": anchor_seq, "hash": anchor_prev}])
    for table in ("cases", "events"):
        _advance_sequence(store, table)
    return Population(total, counts)


def insert_due_timers(store: Store, count: int, now: datetime) -> int:
    """``count`` reminders due at ``now`` on cases in the screening state (the daemon's work)."""
    with store.transaction() as s:
        cases = list(s.scalars(select(Case.id).where(Case.state == "screening").order_by(Case.id).limit(count)))
        template = s.scalar(select(Timer.payload).where(Timer.kind == "reminder", Timer.state == "screening")
                            .limit(1))
    payload = template or {"notice": "deadline_reminder", "offset": "1 days", "days": 1,
                           "notify": ["township_committee"], "explain": []}
    rows = [{"case_id": cases[i % len(cases)], "state": "screening", "round": 1, "kind": "reminder",
             "due_at": now - timedelta(minutes=1), "payload": payload, "status": TimerStatus.PENDING.value,
             "fired_at": None} for i in range(count)]
    with store.engine.begin() as conn:
        conn.execute(insert(Timer), rows)
    return len(rows)


UTC = timezone.utc
