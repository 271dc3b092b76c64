"""`rectify notices preview`: every shipped template, for every use the deployed workflow makes
of it, reads without a blank — for the sample case and for real cases — and a real case's
preview is the very notice the engine then writes (a fired transition, the daemon's timers)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest

from engine.spec.definition import Workflow
from engine.spec.loader import load_workflow_file
from engine.spec.validate import notice_uses
from tests.conftest import BACKENDS
from tests.county import ROOT
from tests.runner import build_timed_county, fingerprint


def duty_places(wf: Workflow) -> dict[str, set[str]]:
    """The places of ``wf``'s duties that send each template: a township's reminders, escalations
    and return notices (its own, not a case's)."""
    places: dict[str, set[str]] = {}
    for name, duty in wf.duties.items():
        for key, template, used in (("reminders", duty.reminder_notice, duty.reminders),
                                    ("escalations", duty.escalation_notice, duty.escalations),
                                    ("returned_notice", duty.returned_notice, True)):
            if template and used:
                places.setdefault(template, set()).add(f"duties.{name}.{key}")
    return places


# The workflow the CLI county deploys (not tests/county.py's timed variant): the uses it makes.
SHIPPED = load_workflow_file(ROOT / "workflows" / "backward_orgs.yaml")
DUTY_PLACES = duty_places(SHIPPED.definition)  # duty_reminder, duty_escalation, duty_returned
TEMPLATES = sorted({name for _, name, _ in notice_uses(SHIPPED.definition)} - set(DUTY_PLACES))  # a case's
# Shipped for a workflow that requests progress reports from each case (tests/timed_workflow.py);
# the shipped one has the townships file them (duties.progress_report).
UNUSED = {"progress_report_request"}
DOCUMENTS = SHIPPED.definition.documents.templates  # template → 通知, 通报, 督办通知; the rest are messages
A, B = "2014-1-0001", "2014-1-0002"  # T1-01 waits in screening, T1-02 is in rectification
# A preview takes no number from the register: where the written document has its 发文字号
# (the body's first line), the preview has this mark.
MARK = "〔发文字号〕"
NUMBER = re.compile(r"^×组(?:通|督)〔2014〕[1-9][0-9]*号$")

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
    """The kinds of blank in a notice (its body opens with the recipient: 'XX党委：', after the
    发文字号 line of a document — the mark in a preview)."""
    found = [name for name, pattern in BLANKS.items() if pattern.search(f"{title}\n{body}")]
    lines = body.splitlines()
    if lines and (lines[0] == MARK or NUMBER.match(lines[0])):
        lines = lines[1:]
    if not lines or not lines[0].endswith("：") or lines[0].startswith("："):
        found.append("no recipient line")
    return found


def dated(body: str) -> date:
    """The notice's date line (2014年3月18日): its last line, or the one before its 抄送 line."""
    lines = body.strip().splitlines()
    if lines[-1].startswith("抄送："):
        lines.pop()
    match = re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日", lines[-1])
    assert match is not None, body
    return date(*map(int, match.groups()))


def day(text: str, year: int) -> date:
    """A body's date: 3月16日 in the document's own year, or 2015年3月4日 in full."""
    match = re.fullmatch(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日", text)
    assert match is not None, text
    return date(int(match.group(1) or year), int(match.group(2)), int(match.group(3)))


def closing_day(at: str) -> date:
    """The calendar day a notice written at ``at`` ('2014-03-18 00:00') speaks as of: the last
    day that moment closes (midnight ends the day before; nothing of the new day has passed)."""
    moment = datetime.fromisoformat(at)
    return (moment - timedelta(microseconds=1)).date()


def found(pattern: str, text: str) -> str:
    """The first group of ``pattern`` in ``text``, which must be there."""
    match = re.search(pattern, text)
    assert match is not None, (pattern, text)
    return match.group(1)


def check_deadline_counts(kind: str, title: str, body: str, used_by: str, at: str) -> None:
    """A reminder's or an escalation's day count is positive and true by the calendar: the whole
    days from the day the notice speaks as of (the day its moment ``at`` closes) to the last day
    of the deadline, or from that day back to it; and it is the offset of the timer that
    fires it, when the offset is in calendar days."""
    written = dated(body)
    as_of = closing_day(at)
    assert as_of in (written, written - timedelta(days=1)), (at, body)
    offset = re.search(r"期限[前后](\d+)天", used_by)  # calendar days: the count is the offset
    if kind == "reminder":
        due_text = found(r"该阶段工作应于(\S+?日)前完成", body)
        due = day(due_text, written.year)
        days = int(found(r"距期限还有(\d+)天", body))
        label = found(r"目前处于“([^”]+)”阶段", body)
        assert title.endswith(f"“{label}”工作{due_text}到期"), (title, body)
        assert title.startswith("【催办提醒】"), title
        assert days > 0, title
        assert days == (due - as_of).days, (at, title, body)
    else:
        stated = re.search(r"阶段工作应于(\S+?日)前完成，截至(\S+?日)已逾期(\d+)天", body)
        assert stated is not None, body
        due_text, as_of_text, overdue = stated.groups()
        due, days = day(due_text, written.year), int(overdue)
        label = found(r"（\d{4}-\d-\d{4}）“([^”]+)”阶段工作", body)
        assert title.startswith("关于督促"), title
        assert title.endswith(f"加快“{label}”工作的督办通知"), title
        assert day(as_of_text, written.year) == as_of, (at, body)
        assert days > 0, title
        assert days == (as_of - due).days, (at, title, body)
    assert offset is None or int(offset.group(1)) == days, (used_by, title)


def check_duty_counts(kind: str, title: str, body: str, used_by: str, at: str) -> None:
    """A township's reminder or escalation (duty_reminder, duty_escalation): its date is the
    duty's, and its day count is positive, true by the calendar from the day the notice speaks
    as of, and the offset of the step that sends it."""
    written = dated(body)
    as_of = closing_day(at)
    assert as_of in (written, written - timedelta(days=1)), (at, body)
    offset = re.search(r"期限[前后](\d+)天", used_by)
    due_text = found(r"“[^”]+”应于(\S+?日)前报县委组织部", body)
    due = day(due_text, written.year)
    if kind == "duty_reminder":
        days = int(found(r"距期限还有(\d+)天", body))
        assert title.startswith("【报送提醒】"), title
        assert title.endswith(f"{due_text}到期"), title
        assert days == (due - as_of).days, (at, title, body)
    else:
        stated = re.search(r"截至(\S+?日)你单位仍未报送，已逾期(\d+)天", body)
        assert stated is not None, body
        as_of_text, overdue = stated.groups()
        days = int(overdue)
        assert title.startswith("关于督促"), title
        assert title.endswith("的督办通知"), title
        assert day(as_of_text, written.year) == as_of, (at, body)
        assert days == (as_of - due).days, (at, title, body)
    assert days > 0, title
    assert offset is None or int(offset.group(1)) == days, (used_by, title)


def expected_places(template: str) -> set[str]:
    """The places of the shipped workflow that use ``template``, as the workflow check lists them,
    and the duties' places (which send the township its own notices)."""
    return {"".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
            for path, name, _ in notice_uses(SHIPPED.definition) if name == template} | DUTY_PLACES.get(template, set())


def open_cases(run):
    run("case", "open", "T1-01", "--problem", "2", who="王强", now="2014-03-05")
    run("case", "open", "T1-02", "--problem", "1", "--key-target", who="王强", now="2014-03-05")
    run("fire", B, "confirm", who="李明", now="2014-03-08")
    return run


@pytest.fixture
def cases(rectify):
    return open_cases(rectify)


@pytest.fixture(params=BACKENDS)
def timed_cases(request, built_counties, tmp_path):
    """``cases`` in the county that runs tests/timed_workflow.py's variant: a deadline on each
    case in screening and progress-report requests every two months (the timers' mechanics)."""
    return open_cases(built_counties.copy("timed", build_timed_county, request.param, tmp_path))


def test_every_shipped_template_is_used_or_known_unused():
    assert set(SHIPPED.templates) == set(TEMPLATES) | set(DUTY_PLACES) | UNUSED
    assert set(DUTY_PLACES) == {"duty_reminder", "duty_escalation", "duty_returned"}


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
                # A document opens with its number's mark (no number is taken); a message has none.
                assert (use["body"].splitlines()[0] == MARK) == (template in DOCUMENTS), where
                assert MARK not in use["title"], where
                assert use["body"].count(MARK) <= 1, where
                assert use["used_by"], where
                assert use["used_by_en"], where
                if use["kind"] in ("reminder", "escalation"):
                    check_deadline_counts(use["kind"], use["title"], use["body"], use["used_by"], use["at"])
    assert fingerprint(cases.db) == before  # nothing was written


def test_every_use_of_the_townships_duty_notices_reads_true_and_without_a_blank(cases):
    """The duties' reminders, escalations and return notices (issue 16) go to a township, not a
    case: previewed for the sample and for a real case's township, each reads without a blank,
    is addressed to that township and counts its days truly."""
    before = fingerprint(cases.db)
    for template in sorted(DUTY_PLACES):
        for ref in (None, A):
            shown = cases.json("notices", "preview", template, *([ref] if ref else []), now="2014-03-10")
            assert (shown["template"], shown["case"], shown["sample"]) == (template, ref, ref is None)
            uses = shown["uses"]
            assert {re.sub(r"\[\d+\]$", "", u["where"]) for u in uses} == expected_places(template), template
            assert [u["use"] for u in uses] == list(range(1, len(uses) + 1))
            for use in uses:
                where = (template, ref, use["where"])
                for part in ("title", "body", "at", "used_by"):
                    assert use[part], (where, part)
                assert blanks(use["title"], use["body"]) == [], (where, use["title"], use["body"])
                assert (use["body"].splitlines()[0] == MARK) == (template in DOCUMENTS), where
                if ref is not None:  # T1-01's township, the unit that owes the duty
                    assert "中共城关镇委员会" in use["title"] + use["body"], where
                if use["kind"] in ("duty_reminder", "duty_escalation"):
                    check_duty_counts(use["kind"], use["title"], use["body"], use["used_by"], use["at"])
    assert fingerprint(cases.db) == before  # nothing was written


def test_the_sample_bulletin_adds_up(rectify):
    use = rectify.json("notices", "preview", "county_bulletin")["uses"][0]
    title, body = use["title"], use["body"]
    assert title == "关于全县整顿后进基层党组织工作进展情况的通报"
    assert body.startswith(f"{MARK}\n各乡镇（街道）党委：\n现将截至5月21日全县整顿后进基层党组织工作进展情况"
                           "（2014年5月，第3期）通报如下。\n")
    total, parts = re.search(r"全县共确定整顿对象(\d+)个，目前([^。]+)。", body).groups()
    counts = re.findall(r"处于“[^”]+”的(\d+)个", parts)
    assert len(counts) == len(parts.split("，")) == 2
    assert int(total) == sum(int(n) for n in counts) > 0
    # The third monthly bulletin, dated on its day; its overdue case missed 3月16日 by the
    # calendar days from then to the day the bulletin speaks as of.
    assert dated(body) == date(2014, 5, 21)
    assert closing_day(use["at"]) == date(2014, 5, 21)
    overdue = int(found(r"（2014-1-0007），“排查建账”阶段应于3月16日前完成，已逾期(\d+)天", body))
    assert overdue == (date(2014, 5, 21) - date(2014, 3, 16)).days == 66
    assert "目前没有逾期" not in body
    assert "重新整顿" not in body  # none yet in May
    assert "测评" not in body
    # What the townships filed adds up too (on time + late + missing = due), and each occurrence
    # missing is named under its township.
    filed = re.search(r"\n各乡镇（街道）党委应报送材料(\d+)件次，按时报送(\d+)件次，逾期报送(\d+)件次，逾期未报(\d+)件次。\n",
                      body)
    assert filed is not None, body
    due, done, late, missing = map(int, filed.groups())
    assert due == done + late + missing
    assert missing > 0
    named = re.findall(r"\n\S+逾期未报：([^\n]+)。\n", body)
    assert sum(len(items.split("、")) for items in named) == missing


def test_preview_names_each_use_and_shows_one_on_request(cases):
    out = cases("notices", "preview", "deadline_reminder", now="2014-03-10").stdout
    # screening has no deadline of its own (its 3月16日 filing is the townships' duty): the
    # reminders are rectifying's two, its later rounds' two, then the checks'
    assert "[1] 用于 used by: 状态 rectifying（整顿转化）的期限催办（期限前30天）" in out
    assert "[2] 用于 used by: 状态 rectifying（整顿转化）的期限催办（期限前7天）" in out
    assert "[5] 用于 used by: 状态 self_check（基层党组织自查）的期限催办（期限前3个工作日）" in out
    assert "screening" not in out
    assert "样例案件 sample case" in out
    one = cases("notices", "preview", "deadline_reminder", B, "--use", "2", now="2014-03-10").stdout
    assert one.startswith("[2] 用于 used by: 状态 rectifying")
    assert "[1] 用于" not in one
    assert "整顿对象 case 2014-1-0002，发出时间 written 2014-11-24 00:00" in one
    assert "【催办提醒】城关镇第2村党支部“整顿转化”工作11月30日到期" in one
    # Written at 00:00 on 11月24日: all of 11月24日 to 11月30日 is left, 7 days.
    assert "目前处于“整顿转化”阶段，该阶段工作应于11月30日前完成，距期限还有7天" in one
    assert "\n2014年11月24日\n" in one
    out = cases("notices", "preview", "deadline_reminder", B, "--use", "10", code=2).output
    assert "has 9 use(s): choose --use 1 to 9" in out


def test_a_transition_preview_is_the_notice_the_transition_writes(cases):
    shown = cases.json("notices", "preview", "case_listed", A, now="2014-03-10T15:00")["uses"]
    cases("fire", A, "confirm", who="李明", now="2014-03-10T15:00")
    written = [n for n in cases.json("notices", "list", "--case", A) if n["template"] == "case_listed"]
    notice = cases.json("notices", "show", str(written[0]["id"]))
    # The one difference: the written notice took the next number of the register (B's listing
    # took 1), where the preview shows the mark.
    assert notice["number"] == "×组通〔2014〕2号"
    assert shown[0]["body"].splitlines()[0] == MARK
    assert notice["body"].splitlines()[0] == notice["number"]
    assert (shown[0]["title"], shown[0]["body"].replace(MARK, notice["number"], 1)) == (notice["title"], notice["body"])
    assert notice["title"] == "关于将城关镇第1村党支部列为后进基层党组织整顿对象的通知"


def test_a_timer_preview_is_the_notice_the_daemon_writes(timed_cases):
    # The timers' mechanics (a late daemon, missed recurring requests), on the variant that has
    # per-case progress requests: the shipped workflow has the townships file them as duties.
    cases = timed_cases
    planned = cases.json("notices", "preview", "deadline_reminder", B, "--use", "3", now="2014-03-10")["uses"][0]
    late = "2014-11-01T08:00"  # the daemon was down since May: two progress requests were missed
    reminder = cases.json("notices", "preview", "deadline_reminder", B, "--use", "3", now=late)["uses"][0]
    # Previewed in March, the 30-days reminder is written when it falls due, at 00:00 on 11月1日:
    # all of 11月1日 to 11月30日 is left. Written by the late daemon at 08:00, 11月1日 has begun and
    # 29 whole days are left: the count is the calendar's at the moment of writing, nothing else.
    assert (planned["at"], reminder["at"]) == ("2014-11-01 00:00", "2014-11-01 08:00")
    assert "距期限还有30天" in planned["body"]
    assert "距期限还有29天" in reminder["body"]
    assert planned["body"].replace("距期限还有30天", "距期限还有29天") == reminder["body"]
    assert planned["title"] == reminder["title"] == "【催办提醒】城关镇第2村党支部“整顿转化”工作11月30日到期"
    request = cases.json("notices", "preview", "progress_report_request", B, now=late)["uses"][0]
    assert "本应于5月8日及7月8日、9月8日发出的3次报送提醒" in request["body"]
    assert request["title"] == "【报送提醒】请报送城关镇第2村党支部整顿建设情况"
    cases("daemon", "--once", now=late)
    written = {n["template"]: n["id"] for n in cases.json("notices", "list", "--case", B)}
    for shown, template in ((reminder, "deadline_reminder"), (request, "progress_report_request")):
        notice = cases.json("notices", "show", str(written[template]))
        # Messages, not documents: unnumbered, so the preview is the written notice to the letter.
        assert template not in DOCUMENTS
        assert notice["number"] == ""
        assert MARK not in shown["body"]
        assert (shown["title"], shown["body"]) == (notice["title"], notice["body"]), template


def test_a_transition_note_and_the_rounds_read_as_fired(surveyed_county):
    run = surveyed_county
    accepted = run.json("notices", "preview", "accepted_notice", "--note", "群众满意度80%", now="2014-12-10")
    # The note after the figures a preview shows: the satisfaction rule's sample verdict, 40 of 50.
    assert "整顿工作验收通过，群众满意度测评参评50人，满意40人，满意率80%。群众满意度80%。" in accepted["uses"][0]["body"]
    # 2014-1-0002 scored 60 %: its re-rectification notice names the round it starts.
    written = [n for n in run.json("notices", "list", "--case", "2014-1-0002") if n["template"] == "re_rectify_notice"]
    body = run.json("notices", "show", str(written[0]["id"]))["body"]
    # Its reasons as recorded (30 of 50 satisfied) and the round it opens.
    assert ("城关镇第2村党支部（2014-1-0002）第1轮整顿在“群众满意度测评”环节未通过：群众满意度测评参评50人，"
            "满意30人，满意率60%，低于70%。") in body
    assert "该整顿对象转入第2轮整顿。" in body
    run("daemon", "--once", now="2014-12-04T09:00")  # the automatic restart: round 2 of rectification
    uses = run.json("notices", "preview", "deadline_reminder", "2014-1-0002", now="2014-12-05")["uses"]
    later = [u for u in uses if "later_rounds" in u["where"] and "rectifying" in u["where"]]
    assert [u["remark"] for u in later] == ["", ""]  # its own pending timers, not a guess
    assert all(blanks(u["title"], u["body"]) == [] for u in uses)
    for use in later:
        check_deadline_counts("reminder", use["title"], use["body"], use["used_by"], use["at"])
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
