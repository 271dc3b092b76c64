"""A small county for tests: 1 county, 2 townships, 12 villages, officials, the shipped workflow."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.ops.deploy import deploy
from engine.ops.officials import add_official
from engine.ops.orgs import OrgRow, import_organizations
from engine.ops.people import Contacts, add_person
from engine.spec.loader import load_workflow_file
from engine.store.db import Store
from engine.store.models import OrgKind
from tests.timed_workflow import write_timed_workflow

ROOT = Path(__file__).resolve().parent.parent
# The shipped workflow with per-case timers in screening and rectification (tests/timed_workflow.py):
# the engine-level tests are about the timers.
WORKFLOW = write_timed_workflow()
TZ = ZoneInfo("Asia/Shanghai")


def at(text_: str) -> datetime:
    """A campaign-local time from 'YYYY-MM-DD[THH:MM]'."""
    return datetime.fromisoformat(text_).replace(tzinfo=TZ)


def county_rows() -> list[OrgRow]:
    rows = [OrgRow(1, "X", "××县", OrgKind.COUNTY, None, None, None)]
    for t, town in enumerate(("城关镇", "河西乡"), start=1):
        rows.append(OrgRow(len(rows) + 1, f"T{t}", f"{town}党委", OrgKind.TOWNSHIP, "X", None, None))
        for v in range(1, 7):
            rows.append(OrgRow(len(rows) + 1, f"T{t}-{v:02d}", f"{town}第{v}村党支部", OrgKind.VILLAGE,
                               f"T{t}", f"书记{t}{v}", f"1380000{t}{v:03d}"))
    return rows


OFFICIALS = [
    ("县委组织部李", "county_department", "X"),
    ("城关镇王", "township_committee", "T1"),
    ("河西乡赵", "township_committee", "T2"),
    ("书记孙", "org_secretary", "T1-01"),  # a role that may not open cases
]
# People the tests assign to cases (person facts: contact_leader, county_cadre, stationed_cadre…),
# each with their sending unit; a stationed cadre is stationed in one place at a time.
PEOPLE = [
    ("联系领导周", "县委"), ("周建国", "县委"), ("陈静", "县委组织部"),
    ("驻村工作队", "县直机关"), ("新的工作队", "县直机关"),
]


def seed_county(store: Store, workflow_file=WORKFLOW, now: datetime | None = None):
    now = now or at("2014-03-01")
    loaded = load_workflow_file(workflow_file)
    with store.transaction() as session:
        import_organizations(session, county_rows(), "county")
        deploy(session, loaded, "admin", now)
        for name, role, where in OFFICIALS:
            add_official(session, name, role, where, loaded.definition.roles)
        for name, unit in PEOPLE:
            add_person(session, name, unit, Contacts(), "admin", now)
    return loaded
