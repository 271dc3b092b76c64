"""`rectify notices preview`: every shipped template, for every use the deployed workflow makes
of it, reads without a blank — for the sample case and for real cases — and a real case's
preview is the very notice the engine then writes (a fired transition, the daemon's timers)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from engine.spec.loader import load_workflow_file
from engine.spec.validate import notice_uses
from tests.county import WORKFLOW
from tests.runner import fingerprint

SHIPPED = load_workflow_file(WORKFLOW)
TEMPLATES = sorted(SHIPPED.templates)
A, B = "2014-1-0001", "2014-1-0002"  # T1-01 waits in screening, T1-02 is in rectification

# What a blank looks like in a rendered notice: a value that was None, a count of zero days, a
# label whose value is empty, a date or number left out, or Jinja's own word for a missing value.
BLANKS = {
    "None": re.compile(r"\bNone\b"),
    "a count of 0 days": re.compile(r"(?<![0-9])0天"),
    # …followed by punctuation, or ending a line that nothing follows (a list may follow one).
    "an empty value after a colon": re.compile(r"：(?=[。；，、）]|[ \t]*(?:\n[ \t]*(?:\n|\Z)|\Z))"),
    "an empty label before a colon": re.compile(r"^\s*：", re.M),
    "a date left out": re.compile(r"于(?:前|到期)"),
    "a number left out": re.compile(r"第(?:轮|期)|共[^0-9]{0,8}个"),
    "empty brackets or quotes": re.compile(r"（）|“”"),
    "Jinja's undefined": re.compile(r"undefined", re.I),
}


def blanks(title: str, body: str) -> list[str]:
    """The kinds of blank in a notice (its body opens with the recipient: 'XX党委：')."""
    found = [name for name, pattern in BLANKS.items() if pattern.search(f"{title}\n{body}")]
    if not body.splitlines()[0].endswith("：") or body.startswith("："):
        found.append("no recipient line")
    return found


def day(text: str) -> date:
    return date.fromisoformat(text)


def found(pattern: str, text: str) -> str:
    """The first group of ``pattern`` in ``text``, which must be there."""
    match = re.search(pattern, text)
    assert match is not None, (pattern, text)
    return match.group(1)


def check_deadline_counts(kind: str, title: str, body: str, used_by: str) -> None:
    """A reminder's or an escalation's day count is positive and agrees with its dates and its
    offset. The count is of whole days to the deadline's moment: the end of its last day for a
    dated deadline (the notice's date then counts), or a time of that day for 'after: 3 months'."""
    due = day(found(r"应于(\d{4}-\d{2}-\d{2})前完成", body))
    written = day(body.strip().splitlines()[-1])
    offset = re.search(r"期限[前后](\d+)天", used_by)  # calendar days: the count is the offset
    if kind == "reminder":
        days = int(found(r"距期限还有(\d+)天", body))
        assert f"将于{due}到期" in title
        assert days > 0, title
        assert (due - written).days in (days - 1, days), (title, body)
    else:
        days = int(found(r"已逾期(\d+)天", title))
        assert f"截至{written}已逾期{days}天" in body
        assert days > 0, title
        assert (written - due).days in (days, days + 1), (title, body)
    assert offset is None or int(offset.group(1)) == days, (used_by, title)


def expected_places(template: str) -> set[str]:
    """The places of the shipped workflow that use ``template``, as the workflow check lists them."""
    return {"".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
            for path, name, _ in notice_uses(SHIPPED.definition) if name == template}


@pytest.fixture
def cases(rectify):
    rectify("case", "open", "T1-01", "--problem", "2", who="王强", now="2014-03-05")
    rectify("case", "open", "T1-02", "--problem", "1", "--key-target", who="王强", now="2014-03-05")
    rectify("fire", B, "confirm", who="李明", now="2014-03-08")
    return rectify


def test_every_use_of_every_shipped_template_reads_without_a_blank(cases):
    before = fingerprint(cases.db)
    for template in TEMPLATES:
        for ref in (None, A, B):
            shown = cases.json("notices", "preview", template, *([ref] if ref else []), now="2014-03-10")
            assert (shown["template"], shown["case"], shown["sample"]) == (template, ref, ref is None)
            uses = shown["uses"]
            assert {re.sub(r"\[\d+\]$", "", u["where"]) for u in uses} == expected_places(template), template
            assert [u["use"] for u in uses] == list(range(1, len(uses) + 1))
            for use in uses:
                where = (template, ref, use["where"])
                assert use["title"], where
                assert use["body"], where
                assert use["at"], where
                assert blanks(use["title"], use["body"]) == [], (where, use["title"], use["body"])
                assert use["used_by"], where
                assert use["used_by_en"], where
                if use["kind"] in ("reminder", "escalation"):
                    check_deadline_counts(use["kind"], use["title"], use["body"], use["used_by"])
    assert fingerprint(cases.db) == before  # nothing was written


def test_the_sample_bulletin_adds_up(rectify):
    body = rectify.json("notices", "preview", "county_bulletin")["uses"][0]["body"]
    total, parts = re.search(r"全县共确定整顿对象(\d+)个，其中：([^。]+)。", body).groups()
    assert int(total) == sum(int(n) for n in re.findall(r"(\d+)个", parts)) > 0
    assert "（2014-1-0007），“排查建账”阶段应于2014-03-16前完成" in body
    assert body.rstrip().endswith("2014-05-21")  # the third monthly bulletin, dated on its day


def test_preview_names_each_use_and_shows_one_on_request(cases):
    out = cases("notices", "preview", "deadline_reminder", now="2014-03-10").stdout
    assert "[4] 用于 used by: 状态 rectifying（整顿转化）的期限催办（期限前7天）" in out
    assert "[7] 用于 used by: 状态 self_check（基层党组织自查）的期限催办（期限前3个工作日）" in out
    assert "样例案件 sample case" in out
    one = cases("notices", "preview", "deadline_reminder", B, "--use", "4", now="2014-03-10").stdout
    assert one.startswith("[4] 用于 used by: 状态 rectifying")
    assert "[3]" not in one
    assert "整顿对象 case 2014-1-0002，发出时间 written 2014-11-24 00:00" in one
    assert "城关镇第2村党支部整顿转化工作将于2014-11-30到期" in one
    assert "目前处于“整顿转化”阶段，该阶段工作应于2014-11-30前完成，距期限还有7天" in one
    out = cases("notices", "preview", "deadline_reminder", B, "--use", "12", code=2).output
    assert "has 11 use(s): choose --use 1 to 11" in out


def test_a_transition_preview_is_the_notice_the_transition_writes(cases):
    shown = cases.json("notices", "preview", "case_listed", A, now="2014-03-10T15:00")["uses"]
    cases("fire", A, "confirm", who="李明", now="2014-03-10T15:00")
    written = [n for n in cases.json("notices", "list", "--case", A) if n["template"] == "case_listed"]
    notice = cases.json("notices", "show", str(written[0]["id"]))
    assert (shown[0]["title"], shown[0]["body"]) == (notice["title"], notice["body"])
    assert "列为后进基层党组织整顿对象" in notice["title"]


def test_a_timer_preview_is_the_notice_the_daemon_writes(cases):
    reminder = cases.json("notices", "preview", "deadline_reminder", B, "--use", "3", now="2014-03-10")["uses"][0]
    late = "2014-11-01T08:00"  # the daemon was down since May: two progress requests were missed
    request = cases.json("notices", "preview", "progress_report_request", B, now=late)["uses"][0]
    assert "本应于2014-05-08及2014-07-08、2014-09-08发出的3次报送提醒" in request["body"]
    cases("daemon", "--once", now=late)
    written = {n["template"]: n["id"] for n in cases.json("notices", "list", "--case", B)}
    for shown, template in ((reminder, "deadline_reminder"), (request, "progress_report_request")):
        notice = cases.json("notices", "show", str(written[template]))
        assert (shown["title"], shown["body"]) == (notice["title"], notice["body"]), template


def test_a_transition_note_and_the_rounds_read_as_fired(surveyed_county):
    run = surveyed_county
    accepted = run.json("notices", "preview", "accepted_notice", "--note", "群众满意度80%", now="2014-12-10")
    assert "整顿工作验收通过。群众满意度80%。" in accepted["uses"][0]["body"]
    # 2014-1-0002 scored 60 %: its re-rectification notice names the round it starts.
    written = [n for n in run.json("notices", "list", "--case", "2014-1-0002") if n["template"] == "re_rectify_notice"]
    assert "本轮为第2轮整顿" in run.json("notices", "show", str(written[0]["id"]))["body"]
    run("daemon", "--once", now="2014-12-04T09:00")  # the automatic restart: round 2 of rectification
    uses = run.json("notices", "preview", "deadline_reminder", "2014-1-0002", now="2014-12-05")["uses"]
    later = [u for u in uses if "later_rounds" in u["where"] and "rectifying" in u["where"]]
    assert [u["remark"] for u in later] == ["", ""]  # its own pending timers, not a guess
    assert all(blanks(u["title"], u["body"]) == [] for u in uses)
    for use in later:
        check_deadline_counts("reminder", use["title"], use["body"], use["used_by"])
    first = [u for u in uses if u["where"].startswith("states.rectifying.deadline.reminders")]
    assert all("样例时间线" in u["remark"] for u in first)  # round 1's November is past for this case


def test_a_preview_stays_inside_the_jurisdiction(cases):
    before = fingerprint(cases.db)
    out = cases("notices", "preview", "case_listed", A, who="赵刚", code=1).output
    assert "outside 赵刚's jurisdiction" in out
    out = cases("notices", "preview", "county_bulletin", A, who="王强", code=1).output
    assert "the periodic bulletin covers the whole county" in out
    assert "2014年5月，第3期" in cases("notices", "preview", "county_bulletin", who="王强").stdout  # the sample
    assert "no template 'nope'" in cases("notices", "preview", "nope", code=2).output
    assert fingerprint(cases.db) == before
