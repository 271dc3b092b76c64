"""Codes and references in natural order (digit runs compared as numbers) wherever a list is shown
or exported: ``org list``, ``case list``, the ledger, the quota and the report's townships."""

from __future__ import annotations

import csv
import re

import pytest
from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from engine.base.natural import SEPARATOR, hierarchy_key, natural_key, natural_sorted
from engine.store.db import Store
from engine.store.migrate import alembic_config, upgrade
from tests.runner import Rectify

# In file order on purpose: text order, id order and natural order all differ.
ORGS = """编码,名称,类型,上级编码,书记姓名,书记电话
X,中共××县委,县,,,
T10,第十镇党委,乡镇,X,,
T1-10,第一镇第十村党支部,村,T1,,
T02,第二镇党委,乡镇,X,,
T1,第一镇党委,乡镇,X,,
T1-2,第一镇第二村党支部,村,T1,,
T10-1,第十镇第一村党支部,村,T10,,
T02-1,第二镇第一社区党支部,社区,T02,,
"""
NATURAL = ["X", "T1", "T1-2", "T1-10", "T02", "T02-1", "T10", "T10-1"]
OPENED = ["T10-1", "T1-10", "T02-1", "T1-2"]  # the order the cases are opened in
IN_LEDGER = ["第一镇第二村党支部", "第一镇第十村党支部", "第二镇第一社区党支部", "第十镇第一村党支部"]


# --- the key itself -------------------------------------------------------------------------

def test_digit_runs_compare_as_numbers():
    codes = ["T10", "T1-10", "T02", "T1", "T1-2", "X", "2014-1-10000", "2014-1-9999", "T01", "A", "T-1"]
    assert natural_sorted(codes) == ["2014-1-9999", "2014-1-10000", "A", "T-1", "T01", "T1", "T1-2", "T1-10",
                                     "T02", "T10", "X"]
    assert natural_key("T1-2") < natural_key("T1-10") < natural_key("T02") < natural_key("T10")


def _reference(text_: str) -> tuple:
    """The natural order written the slow, obvious way: a digit run is one item compared by
    value, placed where the digit '0' would sort; then the text breaks ties."""
    items = [(ord("0"), int(run), "") if run[0].isdigit() else (ord(run), 0, "")
             for run in re.findall(r"[0-9]+|[^0-9]", text_)]
    return items, text_


CODES = st.text(alphabet="0123T-a中 ", min_size=1, max_size=12)


@given(st.lists(CODES, min_size=2, max_size=12, unique=True))
def test_the_key_orders_like_the_obvious_definition(codes):
    assert sorted(codes, key=natural_key) == sorted(codes, key=_reference)


@given(st.lists(st.lists(CODES, min_size=1, max_size=4), min_size=2, max_size=10))
def test_a_hierarchy_key_keeps_each_subtree_together_under_its_superior(chains: list[list[str]]) -> None:
    """Organizations as chains of codes from the top: ordered by their keys, each superior
    comes first, then the whole of its subtree, siblings in natural order."""
    keys: dict[tuple[str, ...], str] = {}
    for chain in chains:
        for depth in range(1, len(chain) + 1):
            node = tuple(chain[:depth])
            keys[node] = hierarchy_key(keys.get(node[:-1]), node[-1])
    ordered = sorted(keys, key=keys.__getitem__)
    expected = sorted(keys, key=lambda node: [_reference(code) for code in node])
    assert ordered == expected


def test_the_separator_is_below_every_character_a_code_may_hold():
    assert SEPARATOR < " "
    assert natural_key("T1") < natural_key("T1 ") < natural_key("T1-1")


# --- the lists ------------------------------------------------------------------------------

@pytest.fixture
def county(db_url, tmp_path) -> Rectify:
    """A county whose organizations were imported out of order, four cases opened out of order."""
    run = Rectify(db_url)
    run("init")
    run("workflow", "deploy", now="2014-03-01")
    orgs = tmp_path / "orgs.csv"
    orgs.write_text(ORGS, encoding="utf-8")
    run("org", "import", str(orgs))
    run("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X")
    for code in OPENED:
        run("case", "open", code, who="李明", now="2014-03-05")
    return run


def test_org_list_is_in_hierarchy_order_with_natural_codes(county):
    assert [o["code"] for o in county.json("org", "list")] == NATURAL
    assert [o["code"] for o in county.json("org", "list", "--township", "T1")] == ["T1", "T1-2", "T1-10"]


def test_the_ledger_lists_cases_by_township_and_code_in_natural_order(county, tmp_path):
    path = tmp_path / "ledger.csv"
    county("ledger", "export", "--format", "csv", "-o", str(path), now="2014-03-16")
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))[3:]
    assert [r[1] for r in rows] == IN_LEDGER
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]


def test_townships_of_the_quota_and_the_report_are_in_natural_order(county):
    assert [r["code"] for r in county.json("quota", now="2014-03-16")["rows"]] == ["T1", "T02", "T10", ""]
    report = county.json("report", now="2014-03-16")
    assert [t["code"] for t in report["townships"]] == ["T1", "T02", "T10"]


def test_case_list_is_in_natural_reference_order_past_9999(county, tmp_path):
    """References are numbered 2014-1-0001 …: the 10 000th is one digit longer and, as text,
    sorts before the 9 999th."""
    engine = create_engine(county.db)
    with engine.begin() as conn:  # as if 9 994 more cases had been opened meanwhile
        conn.execute(text("UPDATE campaigns SET case_seq = 9998"))
    engine.dispose()
    more = tmp_path / "more.csv"
    more.write_text("编码,名称,类型,上级编码\n" + "".join(f"T1-{n},第一镇第{n}村党支部,村,T1\n" for n in (3, 4, 5)),
                    encoding="utf-8")
    county("org", "import", str(more))
    for n in (3, 4, 5):
        county("case", "open", f"T1-{n}", who="李明", now="2014-03-06")
    refs = [c["ref"] for c in county.json("case", "list")]
    assert refs == ["2014-1-0001", "2014-1-0002", "2014-1-0003", "2014-1-0004",
                    "2014-1-9999", "2014-1-10000", "2014-1-10001"]
    assert refs != sorted(refs)
    first = county.json("case", "list", "--state", "screening", "--limit", "5")
    assert [c["ref"] for c in first] == refs[:5]
    assert [c["ref"] for c in county.json("case", "list", "--township", "T1")] == [
        "2014-1-0002", "2014-1-0004", "2014-1-9999", "2014-1-10000", "2014-1-10001"]


# --- the migration --------------------------------------------------------------------------

def test_the_migration_gives_existing_rows_the_keys_new_ones_get(county):
    """Downgraded below 0011 and upgraded again, every organization and case has the key the
    engine gives it, so an older database lists in natural order as soon as it is upgraded."""
    def keys() -> list[tuple]:
        engine = create_engine(county.db)
        with engine.connect() as conn:
            found = list(conn.execute(text("SELECT 'o', code, sort_key FROM organizations UNION ALL "
                                           "SELECT 'c', ref, sort_key FROM cases ORDER BY 1, 2")))
        engine.dispose()
        return [tuple(r) for r in found]

    before = keys()
    store = Store(county.db)
    try:
        config = alembic_config()
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0010")
        upgrade(store)
    finally:
        store.dispose()
    assert keys() == before
    assert [o["code"] for o in county.json("org", "list")] == NATURAL
