"""What officials type is data everywhere it is shown (issue 13, item 2).

Findings reproduced here: a contact leader recorded as ``abc[/]def`` crashed ``case show`` for
everyone (rich markup); ``\\x1b[2J\\x1b]0;pwned\\x07`` reached other officials' terminals raw;
a name with a line break forged notice titles and broke every .docx; a 5 000-character name
was kept in a 50-wide column; ``fact set … progress_reports ²`` gave a traceback.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from tests.runner import Rectify, fingerprint

ESCAPES = "\x1b[2J\x1b]0;pwned\x07"


def test_one_line_values_refuse_line_breaks_controls_and_invisible_characters(rectify: Rectify):
    before = fingerprint(rectify.db)
    for name, what in [("两行\n第二行", "line break"), ("王强\u202e", "U+202E"), ("王\u200b强", "U+200B"),
                       ("王\x1b强", "U+001B"), ("张" * 51, "at most 50"), ("  ", "is empty")]:
        out = rectify("official", "add", name, "--role", "township_committee", "--jurisdiction", "T1",
                      code=2).output
        assert what in out, out
    out = rectify("official", "update", "王强", "--login", "wang\x1b[2J", code=2).output
    assert "U+001B" in out
    assert fingerprint(rectify.db) == before


def test_an_import_names_each_bad_cell_and_writes_nothing(rectify: Rectify, tmp_path):
    before = fingerprint(rectify.db)
    rows = ("编码,名称,类型,上级编码,书记姓名,书记电话\n"
            f"T1-30,第30村党支部,村,T1,abc{ESCAPES},\n"
            "T1-31,\"第31\n村党支部\",村,T1,,\n"
            "T1-3\u202e2,第32村党支部,村,T1,,\n")
    (tmp_path / "hostile.csv").write_text(rows, encoding="utf-8")
    out = rectify("org", "import", str(tmp_path / "hostile.csv"), code=2).output
    assert "'书记姓名': 含有U+001B" in out
    assert "'名称': 含有换行 (line break)" in out
    assert "'编码': 含有U+202E" in out
    assert "\x1b" not in out
    assert fingerprint(rectify.db) == before


def test_text_facts_keep_lines_and_tabs_and_refuse_other_controls(rectify: Rectify):
    rectify("case", "open", "T1-01", who="王强", now="2014-03-05")
    before = fingerprint(rectify.db)
    for value in (f"x{ESCAPES}y", "周\u202e强", "a\rb", "第" * 4001):
        rectify("fact", "set", "T1-01", "measures", value, who="王强", now="2014-03-06", code=2)
    # the finding's fact, progress_reports, is gone from the shipped workflow (the progress reports
    # are the township's duty now); survey_respondents is its int fact
    for value in ("²", "١٢", "1" * 19, "+1"):
        out = rectify("fact", "set", "T1-01", "survey_respondents", value, who="王强", now="2014-03-06", code=2).output
        assert "不是非负整数" in out
    assert fingerprint(rectify.db) == before
    rectify("fact", "set", "T1-01", "measures", "一、选好书记\r\n二、\t建好制度", who="王强", now="2014-03-06")
    rectify("person", "add", "abc[/]def", "--unit", "县委")  # a person's name that looks like markup
    rectify("fact", "set", "T1-01", "contact_leader", "abc[/]def", who="王强", now="2014-03-06")
    shown = rectify.json("case", "show", "T1-01", now="2014-03-07")
    facts = {f["name"]: f["value"] for f in shown["facts"]}
    assert facts["measures"] == "一、选好书记\n二、\t建好制度"
    assert facts["contact_leader"] == "abc[/]def"
    table = rectify("case", "show", "T1-01", now="2014-03-07").stdout
    assert "abc[/]def" in table  # as typed: not markup, no crash


def test_what_older_rows_hold_reaches_the_terminal_as_escapes_and_json_as_data(rectify: Rectify):
    """Rows written before these checks (or by hand) may hold anything: output shows it, never obeys it."""
    rectify("case", "open", "T1-01", who="王强", now="2014-03-05")
    engine = create_engine(rectify.db)
    with engine.begin() as conn:
        conn.execute(text("UPDATE organizations SET name = :n, secretary_name = :s WHERE code = 'T1-01'"),
                     {"n": f"第1村{ESCAPES}\u202e", "s": "书记\x9b31m"})
    engine.dispose()
    for args in (("case", "show", "T1-01"), ("case", "list"), ("org", "list"), ("history", "T1-01"),
                 ("report",)):
        out = rectify(*args, now="2014-03-07").stdout
        for raw in ("\x1b", "\x07", "\u202e", "\x9b"):
            assert raw not in out, (args, out)
    table = rectify("case", "show", "T1-01", now="2014-03-07").stdout
    assert "\\x1b[2J" in table
    assert "\\u202e" in table
    listed = rectify("case", "list", "--json", now="2014-03-07").stdout
    assert "\x1b" not in listed
    assert "\u202e" not in listed
    assert json.loads(listed)[0]["organization"] == f"第1村{ESCAPES}\u202e"  # the same data, escaped


@pytest.mark.parametrize("name", ["abc[/]def", "[bold]粗[/bold]", "[link=http://x]点我[/link]"])
def test_markup_in_names_is_shown_as_typed(rectify: Rectify, name):
    rectify("official", "add", name, "--role", "township_committee", "--jurisdiction", "T1")
    assert name in rectify("official", "list").stdout


def test_an_overlong_database_path_is_bad_input(tmp_path):
    for path in ("a" * 10_000, str(tmp_path / ("a/" * 3000)) + "x.db"):
        out = Rectify(f"sqlite:///{path}")("case", "list", code=2).output
        assert "cannot use the database file" in out
        assert len(out) < 1000  # the path is cut in the message
