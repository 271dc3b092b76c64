"""``rectify demo``: a generated county runs the source document's campaign end to end.

Everything goes through the same engine functions the CLI uses (open, set facts, fire,
daemon ticks on a simulated clock), so the demo database is an honest one to explore.
"""

from __future__ import annotations

import random
import secrets
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.base.clock import utcnow
from engine.daemon.delivery import deliver
from engine.daemon.ticker import tick
from engine.ops.accounts import accept as accept_invitation
from engine.ops.accounts import hash_password
from engine.ops.accounts import invite as invite_account
from engine.ops.cases import fire, get_case, open_case, set_fact
from engine.ops.deploy import compiled_version, deploy, resolve_campaign
from engine.ops.duties import ensure_all
from engine.ops.duties import submit as submit_duty
from engine.ops.evidence import attach, store_files
from engine.ops.officials import Actor, actor_for, add_official, get_official
from engine.ops.orgs import OrgRow, get_org, import_organizations
from engine.ops.people import Contacts, add_person
from engine.ops.problems import ProblemFields, add_problem, close_problem
from engine.ops.spotcheck import announce as spot_announce
from engine.ops.spotcheck import commitment_of, waiting_for_spot_check
from engine.ops.spotcheck import draw as spot_draw
from engine.reports.dashboard import dashboard
from engine.reports.report_html import write_dashboard
from engine.spec.loader import load_workflow_file
from engine.store.admin_queries import (
    case_counts_by_round,
    case_counts_by_state,
    event_count,
    events_in_round,
    first_notice_of,
    notice_counts_by_template,
)
from engine.store.db import Store, create_private_sqlite_file
from engine.store.migrate import upgrade
from engine.store.models import OrgKind
from engine.store.problem_queries import problems_of
from engine.store.sqlite_files import snapshot
from notifiers.config import NotifierConfig
from notifiers.files import FileChannel, FileSettings
from workflows import DEFAULT_WORKFLOW

MONTH_LABELS = {"reminder": "催办提醒", "escalation": "逾期督办", "recurring": "进度报送提醒",
                "auto": "自动转换", "bulletin": "定期通报", "problem_reminder": "问题整改提醒",
                "problem_escalation": "问题逾期督办", "look_back": "回头看", "duty_reminder": "报送提醒",
                "duty_escalation": "报送督办"}
# 一支一策: what each problem category's problem and measures read like in the demo's lists.
PROBLEM_TEXTS = {1: ("班子配备不齐，书记长期缺职", "选优配强书记，补齐班子成员"),
                 2: ("书记不胜任现职，工作不在状态", "调整不胜任的书记，开展履职培训"),
                 3: ("班子成员不团结，内耗严重", "召开专题组织生活会，明确班子分工"),
                 4: ("“三会一课”制度不落实，长期不开展活动", "制定“三会一课”年度计划，每月开展主题党日")}
LATE_PROBLEMS = 6  # the case whose problems are closed after their deadline: escalated once
TOWNSHIPS = ["城关镇", "河西乡", "柳林镇", "石桥镇", "青山乡", "白水镇", "龙泉乡", "东关街道",
             "西城街道", "马坊镇", "杨庄乡", "新集镇", "高桥镇", "三河乡", "平安镇"]
SURNAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐"
PLACES = ["庄", "家沟", "家湾", "营", "寨", "坪", "河", "屯", "堡", "岭", "店", "桥", "园", "集", "楼", "洼"]
COMMUNITIES = ["幸福", "和平", "建设", "光明", "东风", "解放", "朝阳", "文化", "新华", "育才", "振兴", "南苑"]
GIVEN = "建国明华军伟芳秀英强磊洋勇艳杰娟涛超静丽刚平辉鹏"


@dataclass
class Plan:
    """What happens to one case in the demo."""

    ref: str = ""
    township: int = 0
    satisfaction: float = 0.85
    fail_superior: bool = False
    fail_spot: bool = False
    late_self_check: bool = False
    outcome: list[str] = field(default_factory=list)


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))


def generate_county(rng: random.Random) -> list[OrgRow]:
    rows = [OrgRow(1, "X", "中共××县委", OrgKind.COUNTY, None, None, None)]

    def add(code: str, name: str, kind: OrgKind, parent: str, secretary: bool = True) -> None:
        phone = f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}" if secretary else None
        rows.append(OrgRow(len(rows) + 1, code, name, kind, parent, _person(rng) if secretary else None, phone))

    for t, town in enumerate(TOWNSHIPS, start=1):
        tcode = f"T{t:02d}"
        add(tcode, f"中共{town}委员会", OrgKind.TOWNSHIP, "X")
        is_street = town.endswith("街道")
        names: set[str] = set()
        for n in range(1, rng.randint(16, 20) + 1):
            if is_street:
                base = rng.choice(COMMUNITIES)
                name = f"{town}{base}社区党委" if base not in names else f"{town}{base}{n}社区党支部"
                kind = OrgKind.COMMUNITY
            else:
                base = rng.choice(SURNAMES) + rng.choice(PLACES)
                name = f"{town}{base}村党支部" if base not in names else f"{town}{base}{n}组党支部"
                kind = OrgKind.VILLAGE
            names.add(base)
            # A township also has a school and an enterprise among its grassroots organizations.
            if n == 1:
                name, kind = f"{town}中心学校党支部", OrgKind.SCHOOL
            elif n == 2:
                name, kind = f"{town[:2]}{rng.choice(['建材', '食品', '农机', '纺织'])}有限公司党支部", OrgKind.ENTERPRISE
            add(f"{tcode}-{n:02d}", name, kind, tcode, secretary=rng.random() > 0.05)
    return rows


class Demo:
    def __init__(self, folder: Path, seed: int, progress: Callable[[str], None], url: str | None = None):
        self.folder, self.rng, self.say = folder, random.Random(seed), progress
        self.loaded = load_workflow_file(DEFAULT_WORKFLOW)
        self.wf = self.loaded.definition
        self.tz = ZoneInfo(self.wf.timezone)
        own = url is None
        if url is None:  # the demo's own SQLite file; a test passes an empty database of either backend
            url = f"sqlite:///{folder / 'rectify.db'}"
            create_private_sqlite_file(url)  # 0660, as 'rectify init' creates a database
        # A database of the tests (either backend) keeps its evidence files in the demo's folder;
        # the demo's own SQLite file, beside it, where 'rectify' finds them (engine.store.evidence_files).
        self.store = Store(url) if own else Store(url, evidence_dir=str(folder / "evidence"))
        self.notices = folder / "notices"
        self.plans: list[Plan] = []
        self.agenda: dict[date, list[Callable[[datetime], None]]] = {}
        self.log: list[str] = []
        self.township_officials: dict[int, str] = {}
        self.used: set[str] = set()  # names given to officials and people, so none is ambiguous
        year = self.wf.year  # mid-acceptance (overdue steps, surveys, spot checks) and the end
        self.snapshots = {date(year, 11, 20): "看板-11月20日.html", date(year, 12, 3): "看板-12月3日.html",
                          date(year + 1, 3, 31): "看板.html"}
        # The county as it stood mid-acceptance, kept to be opened in a browser (``rectify serve``):
        # its cases wait for self-checks, superior checks and surveys, so 我的待办 has work in it.
        self.web_day = date(year, 11, 20) if own else None
        self.web_logins: list[tuple[str, str, str]] = []  # (name, what they are, password)

    def at(self, day: date, hour: int = 10) -> datetime:
        return datetime.combine(day, time(hour), tzinfo=self.tz)

    def on(self, month: int, day: int, action: Callable[[datetime], None], year: int | None = None) -> None:
        self.agenda.setdefault(date(year or self.wf.year, month, day), []).append(action)

    # --- set-up ---------------------------------------------------------------------------

    def setup(self) -> None:
        upgrade(self.store)
        rows = generate_county(self.rng)
        start = self.at(date(self.wf.year, 3, 1), 9)
        with self.store.transaction() as s:
            import_organizations(s, rows, "demo county")
            deploy(s, self.loaded, "admin", start)
            ensure_all(s, start)
            add_official(s, "刘明", "county_department", "X", self.wf.roles, "13900000001", "liuming@example.org")
            add_official(s, "陈静", "county_department", "X", self.wf.roles)
            # 联系领导、蹲点干部、驻村干部 are people assigned to cases (engine.ops.people), not officials
            add_person(s, "周建国", "县委", Contacts(title="县委副书记", phone="13900000002"), "admin", start)
            used = self.used
            used |= {"刘明", "陈静", "周建国"}
            for t, _town in enumerate(TOWNSHIPS, start=1):
                name = _person(self.rng)
                while name in used:
                    name = _person(self.rng)
                used.add(name)
                self.township_officials[t] = name
                add_official(s, name, "township_committee", f"T{t:02d}", self.wf.roles)
        grassroots = [r for r in rows if r.kind not in (OrgKind.COUNTY, OrgKind.TOWNSHIP)]
        self.say(f"生成示范县 / generated a county: {len(TOWNSHIPS)} 个乡镇（街道）, {len(grassroots)} 个基层党组织")
        self.screen(grassroots)

    def screen(self, grassroots: list[OrgRow]) -> None:
        """About 5 % become cases: one per township, two in one township (a quota warning)."""
        by_town: dict[str, list[OrgRow]] = {}
        for row in grassroots:
            by_town.setdefault(row.parent_code or "", []).append(row)
        chosen = [self.rng.choice(rows) for rows in by_town.values()]
        chosen.append(self.rng.choice([r for r in by_town["T01"] if r not in chosen]))
        for i, row in enumerate(chosen):
            plan = Plan(township=int(row.parent_code[1:]) if row.parent_code else 0)
            plan.satisfaction = self.rng.choice((0.76, 0.8, 0.84, 0.88, 0.92, 0.95))
            if i == 0:
                plan.satisfaction = 0.64  # below 70 %: re-rectify
            if i == 1:
                plan.fail_superior = True
            if i == 2:
                plan.fail_spot = True
            if i == 3:
                plan.satisfaction = 0.70  # exactly the threshold: passes
            if i == 4:
                plan.late_self_check = True
            self.plans.append(plan)
            self.on(3, 4 + i % 6, self._opener(row, plan, i))
            confirm_day = 19 if i in (6, 7) else 12 + i % 4  # two confirmed late: their townships are not late for it
            self.on(3, confirm_day, self._action(plan, "刘明", "confirm"))
            self.on(4, 2 + i, self._facts(plan, i))
            self.on(4, 3 + i, self._problem_list(plan))  # 一支一策: the case's problems, due 10-31
            self.on(11 if i == LATE_PROBLEMS else 10, 3 if i == LATE_PROBLEMS else 10 + i, self._close_problems(plan))
            self.on(11, 5 + i, self._action(plan, self._township_official(plan), "submit_self_check",
                                            skip=plan.late_self_check))
        day = date(self.wf.year, 11, 7)
        while day <= date(self.wf.year + 1, 3, 31):  # the county draws its spot check every Friday
            self.agenda.setdefault(day, []).append(self._draw)
            day += timedelta(days=7)
        late = self.plans[4]
        self.on(12, 5, self._action(late, self._township_official(late), "submit_self_check",
                                    note="因换届后班子调整，自查延期"))
        self.filings()

    def filings(self) -> None:
        """What the townships file (engine.ops.duties): the 汇总表 mostly on time, one township
        late (after its escalation), the last never; each township with cases files its progress
        reports a few days before their dates (one of them late) and its survey results."""
        last = len(TOWNSHIPS)
        for t in range(1, last + 1):
            if t == last:
                continue  # never files its 汇总表: chased, escalated, named in the bulletin
            self.on(3, 20 if t == 3 else 6 + t % 8, self._file(t, "screening_report"))
        with_cases = sorted({plan.township for plan in self.plans})
        for k, t in enumerate(with_cases):
            for month in (5, 7, 9, 11):  # before the 7-day reminder, but one of them late
                self.on(month, 25 if (k == 1 and month == 7) else 10, self._file(t, "progress_report"))
            self.on(12, 5, self._file(t, "survey_report"))

    def _file(self, t: int, duty: str):
        def action(now: datetime) -> None:
            with self.store.transaction() as s:
                campaign = resolve_campaign(s, None)
                compiled = compiled_version(campaign.current_version)
                unit = get_org(s, f"T{t:02d}")
                row, _ = submit_duty(s, campaign, compiled, actor_for(s, self.township_officials[t]), unit, duty,
                                     None, "", [], now)
                late = row.submitted_at is not None and row.submitted_at > row.due_at
            if late:  # the routine filings go unsaid
                self.log.append(f"{now:%Y-%m-%d} {TOWNSHIPS[t - 1]} 逾期报送{compiled.definition.duties[duty].label}")
        return action

    def _draw(self, now: datetime) -> None:
        with self.store.transaction() as s:
            campaign, actor = resolve_campaign(s, None), actor_for(s, "刘明")
            if not waiting_for_spot_check(s, campaign):
                return  # nobody waiting this week
            seed = f"demo-{now:%Y%m%d}"  # announced the day before with its hash, as a county would
            spot_announce(s, campaign, actor, now - timedelta(days=1), commitment_of(seed))
            result = spot_draw(s, campaign, actor, now, seed)
            selected = list(result.draw.selected)
        for plan in self.plans:
            if plan.ref in result.moved_on:
                plan.outcome.append("survey")
                self._after(plan, "survey", now)
            elif plan.ref in selected:
                fail = plan.fail_spot and plan.outcome.count("spot_check") == 1
                opinion = "抽查发现整改方案未向群众公布到位" if fail else "抽查合格"
                self._later(now.date() + timedelta(days=3), plan, "刘明", {"spot_check_opinion": opinion},
                            "fail_spot_check" if fail else "pass_spot_check")
        self.log.append(f"{now:%Y-%m-%d} 抽查抽签 #{result.draw.id}（种子 {result.draw.seed}）："
                        f"{len(result.draw.population)} 个中抽中 {'、'.join(selected)}")

    def _township_official(self, plan: Plan) -> str:
        return self.township_officials[plan.township]

    def _actor(self, session, name: str) -> Actor:
        return actor_for(session, name)

    def _opener(self, row: OrgRow, plan: Plan, i: int):
        def action(now: datetime) -> None:
            problems = tuple(sorted(self.rng.sample((1, 2, 3, 4), self.rng.choice((1, 1, 2)))))
            flags = ("canvassing",) if i % 5 == 0 or plan.fail_spot else ("disclosure", "petitions") if i % 7 == 3 else ()
            with self.store.transaction() as s:
                campaign = resolve_campaign(s, None)
                actor = self._actor(s, self._township_official(plan))
                case = open_case(s, campaign, row.code, actor, now, problems=problems, flags=flags,
                                 weak_and_lax=i % 6 == 2, measures="调整充实班子，健全“三会一课”制度，规范村务公开")
                plan.ref = case.ref
        return action

    def _facts(self, plan: Plan, i: int):
        def action(now: datetime) -> None:
            with self.store.transaction() as s:
                actor = self._actor(s, self._township_official(plan))
                case = get_case(s, plan.ref)
                trained = "2014-03-28" if i != 9 else "2014-04-10"  # one secretary missed the March training
                town = case.township.name if case.township else "县直"
                facts = {"plan_made": "是", "plan_published": "是",
                         "contact_leader": self._someone(s, town, "镇党委副书记", now),
                         "secretary_trained": trained.replace("2014", str(self.wf.year))}
                if self.wf.facts["stationed_cadre"].applies(case.organization.kind):
                    facts["stationed_cadre"] = self._someone(s, f"{town}机关", "驻村干部", now)
                if 1 in case.problems:
                    facts["first_secretary"] = self._someone(s, "县直机关", "第一书记", now)
                else:
                    facts["secretary_appointed"] = _person(self.rng)
                if case.key_target:  # a county cadre is stationed in one place at a time: one each
                    facts |= {"county_contact_leader": "周建国",
                              "county_cadre": self._someone(s, "县委组织部", "蹲点干部", now)}
                for name, value in facts.items():
                    if self.wf.facts[name].applies(case.organization.kind):  # 驻村干部: villages, communities
                        set_fact(s, case, name, value, actor, now)
        return action

    def _someone(self, s, unit: str, title: str, now: datetime) -> str:
        """A person of ``unit`` registered for a case's person fact, named as nobody else in the demo."""
        name = _person(self.rng)
        while name in self.used:
            name = _person(self.rng)
        self.used.add(name)
        add_person(s, name, unit, Contacts(title=title, phone=f"139{self.rng.randrange(10 ** 8):08d}"), "admin", now)
        return name

    def _problem_list(self, plan: Plan):
        """The township lists the case's problems (one per category it was opened with), each with
        its measures, the township official responsible and a deadline of October 31."""
        def action(now: datetime) -> None:
            with self.store.transaction() as s:
                who = self._township_official(plan)
                case = get_case(s, plan.ref)
                for category in case.problems:
                    text, measures = PROBLEM_TEXTS.get(category, (self.wf.problem_labels[category], "逐项整改"))
                    add_problem(s, case, ProblemFields(category, text, measures, who, f"{self.wf.year}-10-31"),
                                self._actor(s, who), now)
        return action

    def _close_problems(self, plan: Plan):
        """销号: each open problem closed with a file of evidence (a short PDF) attached."""
        def action(now: datetime) -> None:
            folder = self.folder / "材料"
            folder.mkdir(exist_ok=True)
            with self.store.transaction() as s:
                numbers = [p.number for p in problems_of(s, get_case(s, plan.ref).id) if p.status != "closed"]
            for number in numbers:
                path = folder / f"{plan.ref}-问题{number}-整改佐证.pdf"
                path.write_bytes(b"%PDF-1.4\n% " + f"{plan.ref} problem {number}: rectified".encode() + b"\n%%EOF\n")
                stored = store_files(self.store.evidence_files, [path])
                with self.store.transaction() as s:
                    case, actor = get_case(s, plan.ref), self._actor(s, self._township_official(plan))
                    attach(s, stored, case=case, problem=number, actor=actor, now=now, note="整改佐证材料")
                    close_problem(s, case, number, "已整改到位", actor, now)
        return action

    def _action(self, plan: Plan, who: str, trigger: str, note: str | None = None, skip: bool = False):
        def action(now: datetime) -> None:
            if skip:
                return
            with self.store.transaction() as s:
                case = get_case(s, plan.ref)
                # a workflow counting progress reports in a fact (the shipped one files them as duties)
                if trigger == "submit_self_check" and "progress_reports" in self.wf.facts:
                    sent = events_in_round(s, case.id, "recurring", case.round)
                    set_fact(s, case, "progress_reports", str(sent), self._actor(s, who), now)
                result = fire(s, case, trigger, self._actor(s, who), now, note)
                for w in result.warnings:
                    self.log.append(f"{now:%Y-%m-%d} {case.ref} {trigger}: 提醒 {w.reason_zh}")
                notable = result.dest == "re_rectify" or trigger == "submit_self_check" and note or (
                    result.dest == "accepted" and (case.round > 1 or "70.0%" in str(result.event.data)))
                if notable:
                    label = self.wf.states[result.dest].label
                    why = "；".join(v["reason_zh"] for v in result.event.data["guards"].values()
                                   if "满意度" in v["reason_zh"]) or (note or "")
                    self.log.append(f"{now:%Y-%m-%d} {case.ref} {case.organization.name}：{trigger} → {label}"
                                    + (f"（{why}）" if why else ""))
                plan.outcome.append(result.dest)
                self._after(plan, result.dest, now)
        return action

    # --- the acceptance steps, scheduled as each case arrives in a state -----------------------

    def _after(self, plan: Plan, state: str, now: datetime) -> None:
        day = now.date()
        town = self._township_official(plan)
        later = lambda n: day + timedelta(days=n)  # noqa: E731
        if state == "self_check":
            self._later(later(3), plan, town, {"self_check_report": "已按要求完成自查，形成自查报告"}, "request_superior_check")
        elif state == "superior_check":
            fail = plan.fail_superior and plan.outcome.count("superior_check") == 1
            opinion = "班子仍不健全，整改措施落实不到位" if fail else "整改措施落实到位，同意报县委组织部"
            self._later(later(4), plan, town, {"superior_check_opinion": opinion},
                        "fail_superior_check" if fail else "pass_superior_check")
        elif state == "spot_check":
            pass  # waits for the county's weekly spot-check draw (see _draw)
        elif state == "survey":
            first = plan.outcome.count("survey") == 1
            ratio = plan.satisfaction if first else max(plan.satisfaction, 0.82)
            respondents = self.rng.randint(30, 60) if ratio != 0.70 else 50
            satisfied = round(respondents * ratio)
            when = max(later(2), date(self.wf.year, 12, 2))  # the survey is held in early December
            self._later(when, plan, town, {"survey_respondents": str(respondents),
                                           "survey_satisfied": str(satisfied)}, "conclude_survey")
        elif state == "rectifying" and plan.outcome.count("rectifying") > 1:
            self._later(later(75), plan, town, {"measures": "第二轮整顿：重新选配班子，公开整改方案"},
                        "submit_self_check")

    def _later(self, day: date, plan: Plan, who: str, facts: dict[str, str], trigger: str,
               note: str | None = None) -> None:
        def action(now: datetime) -> None:
            with self.store.transaction() as s:
                case = get_case(s, plan.ref)
                actor = self._actor(s, who)
                for name, value in facts.items():
                    set_fact(s, case, name, value, actor, now)
            self._action(plan, who, trigger, note)(now)
        self.agenda.setdefault(day, []).append(action)

    # --- the simulated year ------------------------------------------------------------------

    def run(self, end: date) -> None:
        day = date(self.wf.year, 3, 1)
        month: Counter = Counter()
        printed = NotifierConfig({"printed": FileChannel("printed", FileSettings(folder=str(self.notices)))})
        while day <= end:
            for action in self.agenda.pop(day, []):
                action(self.at(day))
            report = tick(self.store, self.at(day, 18))
            month.update(report.fired)
            deliver(self.store, printed, self.at(day, 18))
            if day in self.snapshots:
                self.write_dashboard(self.snapshots[day], self.at(day, 18))
            if day == self.web_day:
                self.keep_for_the_browser()
            for message in report.messages:
                self.log.append(f"{day:%Y-%m-%d} 自动 {message}")
            for plan in self.plans:  # the daemon restarted a re-rectified case: schedule its round 2
                restarted = any(m.startswith(plan.ref) for m in report.messages)
                if plan.outcome and plan.outcome[-1] == "re_rectify" and restarted:
                    plan.outcome.append("rectifying")
                    self._after(plan, "rectifying", self.at(day))
            day += timedelta(days=1)
            if day.day == 1 or day > end:
                shown = "，".join(f"{MONTH_LABELS[k]} {v}" for k, v in sorted(month.items()) if k in MONTH_LABELS)
                self.say(f"  {day - timedelta(days=1):%Y-%m}  {shown or '—'}")
                month.clear()

    @property
    def web_db(self) -> Path:
        return self.folder / f"{self.web_day:%m月%d日}.db".lstrip("0") if self.web_day else self.folder

    def keep_for_the_browser(self) -> None:
        """A copy of the county as it stands tonight, with web logins for the township official
        with the most open cases and the county department's 刘明 (an administrator there), their
        passwords made now and printed once in the summary."""
        assert self.web_day is not None
        target = self.web_db
        snapshot(self.folder / "rectify.db", target)
        shutil.copytree(self.folder / "rectify.db.evidence", target.with_name(target.name + ".evidence"),
                        dirs_exist_ok=True)
        store = Store(f"sqlite:///{target}")
        try:
            with store.transaction() as s:
                busiest = Counter(self._township_official(p) for p in self.plans if get_case(s, p.ref).state != "accepted")
                township = busiest.most_common(1)[0][0] if busiest else self.township_officials[1]
                for name, what, admin in ((township, "乡镇党委 / a township committee", False),
                                          ("刘明", "县委组织部，管理员 / the county department, administrator", True)):
                    official = get_official(s, name)
                    official.admin = official.admin or admin
                    password = secrets.token_urlsafe(9)
                    token, _ = invite_account(s, official, "demo", utcnow(), 7)
                    accept_invitation(s, token, hash_password(password), utcnow())
                    self.web_logins.append((name, what, password))
        finally:
            store.dispose()

    def write_dashboard(self, name: str, now: datetime) -> None:
        """The county dashboard as it stood at ``now`` (``rectify report --html``)."""
        with self.store.transaction() as s:
            figures = dashboard(s, resolve_campaign(s, None), now)
        write_dashboard(figures, self.folder / name)
        self.say(f"  已生成工作看板 / dashboard: {self.folder / name}")

    def browser_lines(self) -> list[str]:
        return _browser_lines(self)

    def summary(self) -> str:
        with self.store.transaction() as s:
            states = Counter(case_counts_by_state(s))
            rounds = Counter(case_counts_by_round(s))
            notices = Counter(notice_counts_by_template(s))
            events = event_count(s)
            samples = [(heading, first_notice_of(s, template, last)) for heading, template, last in SAMPLES]
            shown = [(heading, f"{n.title}\n{n.body}") for heading, n in samples if n is not None]
        labels = {n: st.label for n, st in self.wf.states.items()}
        db = self.folder / "rectify.db"
        lines = [
            "",
            "== 示范县整顿工作结果 / demo campaign summary ==",
            "案件状态 / cases by state: " + "，".join(f"{labels[k]} {v}" for k, v in states.items()),
            "整顿轮次 / rounds: " + "，".join(f"第{k}轮 {v}" for k, v in sorted(rounds.items())),
            f"事件 / events logged: {events}",
            "通知 / notices queued: " + "，".join(f"{k} {v}" for k, v in sorted(notices.items())),
            f"通知文件 / notice files: {len(list(self.notices.glob('*.txt')))} 份，写入 {self.notices}",
            "工作看板 / dashboards: " + "，".join(str(self.folder / n) for n in self.snapshots.values()),
            "",
            "过程摘要 / highlights:",
            *[f"  {line}" for line in sorted(self.log)],
            "",
            *[line for heading, text in shown
              for line in (heading, *[f"  | {row}" for row in text.strip().splitlines()], "")],
            "继续查看 / explore the demo database:",
            f"  export RECTIFY_DB={db}",
            "  rectify case list",
            f"  rectify case show {self.plans[0].ref}",
            f"  rectify history {self.plans[0].ref}",
            "  rectify workflow show",
            "  rectify report",
            *self.browser_lines(),
        ]
        return "\n".join(lines)


def _browser_lines(demo: Demo) -> list[str]:
    if not demo.web_logins or demo.web_day is None:
        return []
    clock = (demo.web_day + timedelta(days=1)).isoformat()
    return ["", f"在浏览器中查看{demo.web_day.month}月{demo.web_day.day}日的示范县 / open the county as it stood on "
                f"{demo.web_day:%Y-%m-%d} in a browser:",
            f"  rectify --db {demo.web_db} --now {clock} serve",
            "  然后打开 / then open http://127.0.0.1:8000/ 登录 / and log in as:",
            *[f"    {name}（{what}）密码 / password: {password}" for name, what, password in demo.web_logins]]


# The notices the summary quotes: the first 督办通知, the last re-rectification (the survey's
# failure) and the last acceptance (a case accepted the next year, in its second round).
SAMPLES = (("督办通知样例 / a sample overdue notice:", "overdue_escalation", False),
           ("重新整顿通知样例 / a sample re-rectification notice:", "re_rectify_notice", True),
           ("验收通过通知样例 / a sample acceptance notice:", "accepted_notice", True))


def run_demo(folder: Path, seed: int = 2014, progress: Callable[[str], None] = print, url: str | None = None) -> str:
    """Build ``folder/rectify.db`` (or the empty database at ``url``) from scratch and run the
    campaign; returns a summary."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    demo = Demo(folder, seed, progress, url)
    try:
        demo.setup()
        progress("模拟整顿全过程 / simulating the campaign, March to the next spring …")
        demo.run(date(demo.wf.year + 1, 3, 31))
        return demo.summary()
    finally:
        demo.store.dispose()
