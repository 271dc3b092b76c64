"""The campaign as it is really run (issue 16), end to end through the command line, on SQLite
and PostgreSQL: four townships — two file their 汇总表 on time, one late, one never — are each
chased for their own filing only; a contact leader registered as a person receives every notice
meant for the role, over a real SMTP server, and a case with nobody assigned says so; evidence
goes into the 档案 package and comes back byte for byte, and a replaced file is named by
`audit verify`."""

from __future__ import annotations

import csv
import email
import hashlib
import io
import zipfile
from email.policy import default as default_policy

import pytest

from tests.runner import Rectify, file_due

TOWNS = {1: "城关镇", 2: "河西乡", 3: "柳林镇", 4: "石桥镇"}
ORGS = "编码,名称,类型,上级编码,书记姓名,书记电话\nX,中共××县委,县,,,\n" + "".join(
    f"T{t},中共{name}委员会,乡镇,X,,\n" + "".join(f"T{t}-{v:02d},{name}第{v}村党支部,村,T{t},书记{t}{v},\n"
                                                 for v in range(1, 4))
    for t, name in TOWNS.items())
OFFICIAL = {t: f"干部{t}" for t in TOWNS}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def county(db_url, tmp_path, smtp_server, monkeypatch):
    """The county, its four townships' officials with e-mail addresses, the contact leader 周建国
    (a person, not an official), and the daemon's mail channel on a real SMTP server."""
    inbox, port = smtp_server
    monkeypatch.setenv("RECTIFY_EVIDENCE_DIR", str(tmp_path / "evidence"))
    config = tmp_path / "notifiers.yaml"
    config.write_text(f"channels:\n  mail: {{type: email, host: 127.0.0.1, port: {port}, security: none, "
                      "sender: zzb@example.org}\n", encoding="utf-8")
    run = Rectify(db_url)
    run("init")
    run("workflow", "deploy", now="2014-03-01")
    (tmp_path / "orgs.csv").write_text(ORGS, encoding="utf-8-sig")
    run("org", "import", str(tmp_path / "orgs.csv"))
    run("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X", "--email", "li@example.org")
    for t in TOWNS:
        run("official", "add", OFFICIAL[t], "--role", "township_committee", "--jurisdiction", f"T{t}",
            "--email", f"t{t}@example.org")
    run("person", "add", "周建国", "--unit", "县发展和改革局", "--title", "副局长", "--email", "zhou@example.org")
    return run, inbox, str(config), tmp_path


def _daemon(run: Rectify, config: str, now: str) -> None:
    run("--config", config, "daemon", "--once", now=now)


def _duty_notices(run: Rectify, template: str) -> list[tuple[str, list[str]]]:
    return sorted((n["title"], sorted(n["recipients"])) for n in run.json("notices", "list", "--limit", "1000")
                  if n["template"] == template)


def test_townships_file_are_chased_and_reach_their_contact_leader(county):
    run, inbox, config, folder = county
    for t in TOWNS:
        run("case", "open", f"T{t}-01", "--problem", "1", who=OFFICIAL[t], now="2014-03-03")
    plan = folder / "汇总表.pdf"
    plan.write_bytes(PDF)
    run("duty", "submit", "screening_report", "--unit", "T1", "--file", str(plan), who=OFFICIAL[1],
        now="2014-03-05T10:00")
    run("duty", "submit", "screening_report", "--unit", "T2", who=OFFICIAL[2], now="2014-03-12T10:00")
    for now in ("2014-03-14T09:00", "2014-03-16T09:00", "2014-03-18T09:00"):
        _daemon(run, config, now)
    for t in TOWNS:  # the county confirms late, on 03-19: no township becomes late for it
        run("fire", f"2014-1-000{t}", "confirm", who="李明", now="2014-03-19")
    run("duty", "submit", "screening_report", "--unit", "T3", who=OFFICIAL[3], now="2014-03-20T10:00")
    _daemon(run, config, "2014-03-24T09:00")

    # reminders 3 days and 1 day before, to the two townships that had not filed
    assert _duty_notices(run, "duty_reminder") == sorted(
        [(f"【报送提醒】中共{TOWNS[t]}委员会“排查情况汇总表”3月16日到期", [OFFICIAL[t]]) for t in (3, 4)] * 2)
    # escalations: 1 day after to both, 7 days after only to the one that still has not filed
    escalation = "关于督促中共{}委员会报送“排查情况汇总表”的督办通知"
    assert _duty_notices(run, "duty_escalation") == sorted(
        [(escalation.format(TOWNS[t]), sorted([OFFICIAL[t], "李明"])) for t in (3, 4, 4)])
    report = run.json("report", now="2014-03-25")
    standing = {u["unit"]: (u["done"], u["late"], u["missing"]) for u in report["duties"]["units"]}
    assert standing == {f"中共{TOWNS[1]}委员会": (1, 0, 0), f"中共{TOWNS[2]}委员会": (1, 0, 0),
                        f"中共{TOWNS[3]}委员会": (0, 1, 0), f"中共{TOWNS[4]}委员会": (0, 0, 1)}
    missing = {u["unit"]: u["missing_items"] for u in report["duties"]["units"] if u["missing"]}
    assert missing == {f"中共{TOWNS[4]}委员会": ["排查情况汇总表（3月16日）"]}
    assert report["overdue"]["count"] == 0  # no case is late in March: it is the townships' filing

    # the contact leader, a person assigned to two cases; the other two have nobody
    for t in (1, 3):
        run("fact", "set", f"2014-1-000{t}", "contact_leader", "周建国", who=OFFICIAL[t], now="2014-03-20")
    _fail_superior_check(run, "2014-1-0001")
    _daemon(run, config, "2014-12-02T09:00")  # every case still rectifying is overdue (11-30)
    notices = run.json("notices", "list", "--limit", "1000")
    meant = [n for n in notices if n["template"] == "re_rectify_notice"
             or (n["template"] == "overdue_escalation" and "“整顿转化”" in n["title"])]
    by_case = {}
    for n in meant:
        shown = run.json("notices", "show", str(n["id"]))
        by_case.setdefault(shown["body"].split("（")[1].split("）")[0], []).append((n, shown))
    # 0001: its 重新整顿 notice; 0002–0004, still rectifying on 12-02: their escalations
    assert set(by_case) == {f"2014-1-000{t}" for t in TOWNS}
    for ref, items in by_case.items():
        for n, _ in items:
            if ref in ("2014-1-0001", "2014-1-0003"):
                assert "周建国" in n["recipients"], n
            else:  # nobody assigned: shown, never dropped silently
                assert "周建国" not in n["recipients"]
                assert any(u["role"] == "contact_leader" for u in n["unreached"]), n
    zhou = [raw for rcpts, raw, _ in inbox.messages if rcpts == ["zhou@example.org"]]
    expected = sorted(n["title"] for ref in ("2014-1-0001", "2014-1-0003") for n, _ in by_case[ref])
    assert sorted(email.message_from_bytes(raw, policy=default_policy)["Subject"] for raw in zhou) == expected
    assert len(expected) >= 2  # a 重新整顿 notice and an escalation at least
    unreached = run.json("notices", "list", "--unreached", "--limit", "1000")
    assert {n["id"] for n in unreached} >= {n["id"] for ref in ("2014-1-0002", "2014-1-0004")
                                            for n, _ in by_case[ref]}


def _fail_superior_check(run: Rectify, ref: str) -> None:
    """The township records what was done, files its reports, and the superior check fails."""
    t = int(ref[-1])
    team = f"驻村工作队{t}"
    run("person", "add", team, "--unit", "县直机关", now="2014-04-01")
    for name, value in [("plan_made", "是"), ("plan_published", "是"), ("secretary_trained", "2014-03-28"),
                        ("secretary_appointed", f"新书记{t}"), ("stationed_cadre", team)]:
        run("fact", "set", ref, name, value, who=OFFICIAL[t], now="2014-04-01")
    file_due(run, f"T{t}", OFFICIAL[t], "2014-10-10")
    run("fire", ref, "submit_self_check", who=OFFICIAL[t], now="2014-10-10")
    run("fact", "set", ref, "self_check_report", "已完成自查", who=OFFICIAL[t], now="2014-10-11")
    run("fire", ref, "request_superior_check", who=OFFICIAL[t], now="2014-10-12")
    run("fact", "set", ref, "superior_check_opinion", "班子仍不健全", who=OFFICIAL[t], now="2014-10-13")
    run("fire", ref, "fail_superior_check", who=OFFICIAL[t], now="2014-10-13")


def test_evidence_goes_into_the_archive_and_a_replaced_file_is_named(county):
    run, _, _, folder = county
    run("case", "open", "T1-01", "--problem", "1", who=OFFICIAL[1], now="2014-03-03")
    plan, photo = folder / "整改方案.pdf", folder / "公示照片.png"
    plan.write_bytes(PDF + b"% plan\n")
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    run("evidence", "add", "2014-1-0001", str(plan), str(photo), "--fact", "plan_published", who=OFFICIAL[1],
        now="2014-04-01")
    report = folder / "汇总表.pdf"
    report.write_bytes(PDF + b"% report\n")
    run("duty", "submit", "screening_report", "--unit", "T1", "--file", str(report), who=OFFICIAL[1],
        now="2014-03-05T10:00")
    archive = folder / "档案.zip"
    run("ledger", "export", "--with-evidence", str(archive), now="2014-04-02")
    with zipfile.ZipFile(archive) as package:
        manifest_name = next(n for n in package.namelist() if n.endswith("清单.csv"))
        rows = list(csv.DictReader(io.StringIO(package.read(manifest_name).decode("utf-8-sig"))))
        packed = {name: package.read(name) for name in package.namelist()}
    originals = {plan.name: plan.read_bytes(), photo.name: photo.read_bytes(), report.name: report.read_bytes()}
    assert len(rows) == 3
    for row in rows:
        path, digest = next(v for k, v in row.items() if "path" in k or "路径" in k), \
            next(v for k, v in row.items() if "sha256" in k.lower())
        data = packed[path]
        assert hashlib.sha256(data).hexdigest() == digest
        assert data == originals[path.rsplit("/", 1)[-1]]  # byte for byte, under its own name
    assert any(n.endswith(".xlsx") for n in packed)  # the 汇总表 itself
    stored = next(p for p in (folder / "evidence").rglob("*")
                  if p.is_file() and p.read_bytes() == photo.read_bytes())
    stored.chmod(0o644)
    stored.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x01" * 32)  # replaced behind the project's back
    out = run("audit", "verify", code=1).output
    assert "公示照片.png" in out
    assert "2014-1-0001" in out
