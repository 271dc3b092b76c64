"""Whole-graph checks of a parsed workflow; each problem carries its file place."""

from __future__ import annotations

import re
from collections import defaultdict, deque
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from engine.base.domain import GRASSROOTS_KINDS, LEADING_KINDS, ORG_KIND_LABELS
from engine.base.errors import Problem, UnknownPlugin
from engine.base.yamlsafe import Located
from engine.spec.definition import NAME, Deadline, Transition, Workflow
from engine.spec.problems import pydantic_problems
from engine.spec.rule_registry import rules_registry
from engine.spec.validate_documents import check_documents, unknown_facts_in_templates
from engine.spec.validate_problems import check_problem_list, problem_audiences, problem_notice_uses
from notifiers.render import NoticeRenderer, NoticeTemplateError, sample_context
from rules.base import Rule


def check_workflow(wf: Workflow, located: Located, templates: dict[str, str],
                   template_dir: str) -> tuple[list[Problem], dict[str, Rule]]:
    problems: list[Problem] = []
    add = lambda path, msg: problems.append(located.problem(path, msg))  # noqa: E731
    _check_timezone(wf, add)
    _check_dates(wf, add)
    _check_states(wf, add)
    _check_transitions(wf, add)
    _check_open_roles(wf, add)
    _check_case_kinds(wf, add)
    _check_vocabulary(wf, add)
    _check_reachability(wf, add)
    _check_ambiguity(wf, add)
    rules = _check_rules(wf, located, add, problems)
    _check_guards(wf, add)
    _check_fact_guards(wf, add)
    _check_applies_to(wf, rules, add)
    _check_spot_check(wf, add)
    _check_bulletin(wf, add)
    check_problem_list(wf, add)
    check_documents(wf, templates, add)
    problems.extend(Problem(f"{template_dir}/{name}.j2", line, 1, message)
                    for name, line, message in unknown_facts_in_templates(wf, templates))
    _check_notices(wf, templates, template_dir, located, add, problems)
    return problems, rules


def _check_timezone(wf: Workflow, add) -> None:
    try:
        ZoneInfo(wf.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a folder of zones: OSError
        add(("timezone",), f"未知时区 / unknown time zone '{wf.timezone}' (e.g. Asia/Shanghai)")


def _check_dates(wf: Workflow, add) -> None:
    previous: tuple[str, date] | None = None
    for name, spec in wf.dates.items():
        try:
            day = spec.resolve(wf.year)
        except ValueError:
            add(("dates", name, "date"), f"'{spec.date}' 不是有效日期 / is not a valid date (write MM-DD or YYYY-MM-DD)")
            continue
        if previous and day < previous[1]:
            add(("dates", name), f"工作日期顺序错误 / campaign dates out of order: '{name}' ({day}) "
                                 f"comes before '{previous[0]}' ({previous[1]}); list dates in time order")
        previous = (name, day)


def _deadlines(deadline: Deadline | None, path: tuple):
    while deadline is not None:
        yield deadline, path
        deadline, path = deadline.later_rounds, (*path, "later_rounds")


def _check_states(wf: Workflow, add) -> None:
    initial = [name for name, s in wf.states.items() if s.initial]
    if not initial:
        add(("states",), "没有初始状态 / no initial state: mark exactly one state 'initial: true'")
    for extra in initial[1:]:
        add(("states", extra, "initial"), f"多个初始状态 / more than one initial state ({', '.join(initial)}); keep one")
    by_source = _transitions_by_source(wf)
    for name, state in wf.states.items():
        if state.final and state.initial:
            add(("states", name), f"state '{name}' cannot be both initial and final")
        if state.final and (state.deadline or state.recurring or state.auto):
            add(("states", name), f"终止状态不能有期限或定时 / final state '{name}' cannot have a deadline, recurring notices or automatic transitions")
        if not state.final and not by_source.get(name):
            add(("states", name), f"非终止状态没有出口 / state '{name}' is not final but no transition leaves it; add one or mark it 'final: true'")
        for deadline, path in _deadlines(state.deadline, ("states", name, "deadline")):
            if deadline.date and deadline.date not in wf.dates:
                add((*path, "date"), f"未定义的工作日期 / unknown campaign date '{deadline.date}'; defined: {', '.join(wf.dates)}")
        for i, rec in enumerate(state.recurring):
            if rec.every.amount == 0:
                add(("states", name, "recurring", i, "every"), "recurring interval must be more than 0")
        triggers = {t.trigger for t in by_source.get(name, [])}
        for i, auto in enumerate(state.auto):
            if auto.trigger not in triggers:
                add(("states", name, "auto", i, "trigger"),
                    f"自动转换的触发器不存在 / automatic trigger '{auto.trigger}' has no transition from '{name}'")


def _transitions_by_source(wf: Workflow) -> dict[str, list[Transition]]:
    out: dict[str, list[Transition]] = defaultdict(list)
    for t in wf.transitions:
        for source in t.sources:
            out[source].append(t)
    return out


def _check_transitions(wf: Workflow, add) -> None:
    for i, t in enumerate(wf.transitions):
        path = ("transitions", i)
        for j, source in enumerate(t.sources):
            where = (*path, "source") if isinstance(t.source, str) else (*path, "source", j)
            if source not in wf.states:
                add(where, f"未定义的状态 / unknown state '{source}'; states: {', '.join(wf.states)}")
            elif wf.states[source].final:
                add(where, f"终止状态不能有出口 / final state '{source}' cannot have outgoing transition '{t.trigger}'")
        if t.dest not in wf.states:
            add((*path, "dest"), f"未定义的状态 / unknown state '{t.dest}'; states: {', '.join(wf.states)}")
        for j, role in enumerate(t.roles):
            if role not in wf.roles:
                add((*path, "roles", j), f"未定义的角色 / unknown role '{role}'; roles: {', '.join(wf.roles)}")


def _check_open_roles(wf: Workflow, add) -> None:
    for j, role in enumerate(wf.open_roles):
        if role not in wf.roles:
            add(("open_roles", j), f"未定义的角色 / unknown role '{role}'; roles: {', '.join(wf.roles)}")
    people = wf.person_facts
    for path, roles in _audiences(wf):
        for j, role in enumerate(roles):
            if role not in wf.roles and role not in people:
                add((*path, j), f"通知对象既不是角色也不是人员事实 / '{role}' to notify is neither a role nor a "
                                f"person fact; roles: {', '.join(wf.roles)}; person facts: {', '.join(people) or 'none'}")
            elif role in people and path[0] == "bulletin":  # people are assigned to cases; a bulletin has none
                add((*path, j), f"通报面向各单位，只能发给角色 / the bulletin concerns no case: '{role}' is a person "
                                f"fact; notify roles ({', '.join(wf.roles)})")
    _check_person_facts(wf, add)


def _check_person_facts(wf: Workflow, add) -> None:
    """A person fact (联系领导, 驻村干部) is an audience of its own: the people assigned to the case.
    Its name may not also be a role (a notice would not know whom to reach), nor be cleared by a
    new round (the assignments would outlive the fact); ``many`` and ``exclusive`` are a person
    fact's only."""
    for name, fact in wf.facts.items():
        if fact.type == "person":
            if name in wf.roles:
                add(("facts", name), f"“{name}”既是角色又是人员事实，通知无法确定对象 / '{name}' is both a role "
                                     "(roles) and a person fact: remove it from 'roles' (its notices go to the people "
                                     "assigned) or rename the fact")
            if fact.per_round:
                add(("facts", name, "per_round"), "人员事实不随新一轮清除 / a person fact cannot be 'per_round': "
                                                  "its assignments end with 'rectify person unassign'")
            continue
        for key in ("many", "exclusive"):
            if getattr(fact, key):
                add(("facts", name, key), f"'{key}' 只适用于人员事实 / '{key}' applies to person facts only "
                                          f"(type: person); '{name}' is {fact.type}")


def _check_case_kinds(wf: Workflow, add) -> None:
    """Every kind named is a grassroots kind of engine.base.domain: a county or a township leads
    grassroots organizations and is never rectified as one (nor counted in the quota)."""
    if wf.case_kinds is None:
        return
    if not wf.case_kinds:
        add(("case_kinds",), "没有可列为整顿对象的组织类型 / 'case_kinds' is empty: no organization could be opened "
                             f"as a case; list kinds ({', '.join(GRASSROOTS_KINDS)}) or leave the key out for all of them")
    for j, kind in enumerate(wf.case_kinds):
        if kind in LEADING_KINDS:
            add(("case_kinds", j), f"{ORG_KIND_LABELS[kind]}党组织不是基层党组织，不能列为整顿对象 / '{kind}' is not a "
                                   f"grassroots kind and cannot be a case; kinds: {', '.join(GRASSROOTS_KINDS)}")
        elif kind not in ORG_KIND_LABELS:
            add(("case_kinds", j), f"未知的组织类型 / unknown organization kind '{kind}'; kinds: "
                                   f"{', '.join(GRASSROOTS_KINDS)}")
        elif kind in wf.case_kinds[:j]:
            add(("case_kinds", j), f"组织类型重复 / kind '{kind}' is listed twice")


_LEDGER_SEPARATORS = ("；", ";")  # the ledger's 主要问题 column joins the labels with them


def _check_vocabulary(wf: Workflow, add) -> None:
    """Problem categories are numbered (``case open --problem N``; cases store the numbers) and
    circumstances named (``--flag NAME``). A label is one line without the ledger's separator,
    and no two labels are alike: the ledger's 主要问题 column reads each label back to its key."""
    for key in wf.problem_categories:
        if not re.fullmatch(r"[1-9][0-9]{0,5}", key):
            add(("problem_categories", key), f"问题类别的编号须为正整数 / problem category '{key}' must be a whole "
                                             "number from 1 (what 'rectify case open --problem N' takes)")
    for key in wf.key_target_circumstances:
        if not re.fullmatch(NAME, key):
            add(("key_target_circumstances", key), f"重点整顿情形的代号只能用小写字母、数字和下划线 / circumstance "
                                                   f"'{key}' must be lowercase letters, digits and underscores, "
                                                   "starting with a letter (what 'rectify case open --flag NAME' takes)")
    first: dict[str, tuple[str, str]] = {}
    for section in ("problem_categories", "key_target_circumstances"):
        for key, label in getattr(wf, section).items():
            path, text = (section, key), label.strip()
            if not text:
                add(path, "名称为空 / the label is empty: write what it means (as the source document words it)")
            elif "\n" in text or any(sep in text for sep in _LEDGER_SEPARATORS):
                add(path, "名称须为一行且不含分号 / a label is one line without '；' or ';': the ledger's 主要问题 "
                          "column separates the labels with them")
            elif text in first:
                add(path, f"名称与 {'.'.join(first[text])} 相同 / the label '{text}' is also {'.'.join(first[text])}'s: "
                          "the ledger's 主要问题 column could not tell them apart")
            else:
                first[text] = path


def _kind_words(kinds) -> tuple[str, str]:
    return "、".join(ORG_KIND_LABELS.get(k, k) for k in kinds), ", ".join(kinds)


def _check_applies_to(wf: Workflow, rules: dict[str, Rule], add) -> None:
    """``applies_to`` names grassroots kinds, each once (one ``case_kinds`` leaves out is allowed: a
    county narrowing ``case_kinds`` need not edit every list); a rule reading a fact limited to kinds
    is limited to those kinds too (elsewhere it could never pass); and the spot check's drawn fact,
    recorded on every case drawn among, is not limited."""
    limited = [(("rules", n), u) for n, u in wf.rules.items()] + [(("facts", n), f) for n, f in wf.facts.items()]
    for path, item in limited:
        kinds = item.applies_to
        if kinds is None:
            continue
        if not kinds:
            add((*path, "applies_to"), "'applies_to' 为空 / 'applies_to' is empty: it would apply to no organization; "
                                       "list kinds, or leave the key out for every kind")
        for j, kind in enumerate(kinds):
            where = (*path, "applies_to", j)
            if kind not in ORG_KIND_LABELS:
                add(where, f"未知的组织类型 / unknown organization kind '{kind}'; kinds: {', '.join(GRASSROOTS_KINDS)}")
            elif kind in LEADING_KINDS:
                add(where, f"{ORG_KIND_LABELS[kind]}党组织不是基层党组织，不会是整顿对象 / '{kind}' is not a grassroots "
                           f"kind and is never a case; kinds: {', '.join(GRASSROOTS_KINDS)}")
            elif kind in kinds[:j]:
                add(where, f"组织类型重复 / kind '{kind}' is listed twice")
    for name, rule in rules.items():
        use = wf.rules[name]
        for fact in rule.facts_used():
            spec = wf.facts.get(fact)
            if spec is None or spec.applies_to is None:
                continue
            wider = [k for k in (use.applies_to or wf.openable_kinds)  # a wrong kind is reported above
                     if k in wf.openable_kinds and k not in spec.applies_to]
            if wider:
                (fact_zh, fact_en), (wider_zh, wider_en) = _kind_words(spec.applies_to), _kind_words(wider)
                add(("rules", name) if use.applies_to is None else ("rules", name, "applies_to"),
                    f"规则“{name}”读取的事实“{fact}”只适用于{fact_zh}党组织，规则却也适用于{wider_zh}党组织 / rule "
                    f"'{name}' reads fact '{fact}', which applies to {fact_en} only, but the rule applies to "
                    f"{wider_en} too: give the rule 'applies_to' within {fact_en}")
    spot = wf.spot_check
    drawn = wf.facts.get(spot.drawn_fact) if spot is not None else None
    if spot is not None and drawn is not None and drawn.applies_to is not None:
        add(("facts", spot.drawn_fact, "applies_to"), "抽查抽签结果须适用于所有组织类型 / the spot check records its "
                                                      f"drawn fact '{spot.drawn_fact}' on every case drawn among: it "
                                                      "cannot be limited to kinds")


def _audiences(wf: Workflow):
    for i, t in enumerate(wf.transitions):
        yield ("transitions", i, "notify"), t.notify
    for name, state in wf.states.items():
        for deadline, path in _deadlines(state.deadline, ("states", name, "deadline")):
            yield (*path, "remind"), deadline.remind
            yield (*path, "escalate_to"), deadline.escalate_to
        for k, rec in enumerate(state.recurring):
            yield ("states", name, "recurring", k, "notify"), rec.notify
    if wf.spot_check is not None:
        yield ("spot_check", "notify"), wf.spot_check.notify
    if wf.bulletin is not None:
        yield ("bulletin", "notify"), wf.bulletin.notify
    yield from problem_audiences(wf)


def _check_reachability(wf: Workflow, add) -> None:
    initial = [name for name, s in wf.states.items() if s.initial]
    if not initial:
        return
    by_source = _transitions_by_source(wf)
    seen, todo = {initial[0]}, deque([initial[0]])
    while todo:
        for t in by_source.get(todo.popleft(), []):
            if t.dest in wf.states and t.dest not in seen:
                seen.add(t.dest)
                todo.append(t.dest)
    for name in wf.states:
        if name not in seen:
            add(("states", name), f"不可达的状态 / state '{name}' cannot be reached from '{initial[0]}'")


def _split(guard: str) -> tuple[str, bool]:
    parts = guard.split()
    return (parts[1], True) if len(parts) == 2 else (parts[0], False)


def _distinguished(a: Transition, b: Transition) -> bool:
    ga, gb = set(map(_split, a.guards)), set(map(_split, b.guards))
    return any((name, not negated) in gb for name, negated in ga)


def _check_ambiguity(wf: Workflow, add) -> None:
    for i, a in enumerate(wf.transitions):
        for j in range(i + 1, len(wf.transitions)):
            b = wf.transitions[j]
            common = set(a.sources) & set(b.sources)
            if a.trigger == b.trigger and common and not _distinguished(a, b):
                add(("transitions", j, "trigger"),
                    f"触发器冲突 / trigger '{b.trigger}' from '{sorted(common)[0]}' is also transition #{i + 1}, "
                    f"and no guard tells them apart: give one 'guard' and the other 'not guard'")


def _check_rules(wf: Workflow, located: Located, add, problems: list[Problem]) -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for name, use in wf.rules.items():
        path = ("rules", name)
        try:
            cls = rules_registry.get(use.rule)
        except UnknownPlugin as exc:  # its message is bilingual and lists the known rules
            add((*path, "rule"), str(exc))
            continue
        try:
            params = cls.Params.model_validate(use.params)
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc, located, cls.Params, (*path, "params")))
            continue
        rule = cls(params)
        for fact in rule.facts_used():
            if fact not in wf.facts:
                add((*path, "params"), f"规则 '{name}' 引用了未声明的事实 / uses undeclared fact '{fact}'; declare it under 'facts'")
        for state in rule.states_used():
            if state not in wf.states:
                add((*path, "params"), f"规则 '{name}' 引用了未定义的状态 / uses unknown state '{state}'; states: {', '.join(wf.states)}")
        for day in rule.dates_used():
            if day not in wf.dates:
                add((*path, "params"), f"规则 '{name}' 引用了未定义的工作日期 / uses unknown campaign date '{day}'")
        rules[name] = rule
    return rules


def _check_fact_guards(wf: Workflow, add) -> None:
    for fact, spec in wf.facts.items():
        for j, guard in enumerate(spec.guards):
            if guard not in wf.rules:
                add(("facts", fact, "guards", j), f"未定义的规则实例 / unknown guard '{guard}'; define it under 'rules'")


def _check_spot_check(wf: Workflow, add) -> None:
    spot = wf.spot_check
    if spot is None:
        return
    if spot.state not in wf.states:
        add(("spot_check", "state"), f"未定义的状态 / unknown state '{spot.state}'; states: {', '.join(wf.states)}")
    elif not any(t.trigger == spot.pass_trigger and spot.state in t.sources for t in wf.transitions):
        add(("spot_check", "pass_trigger"), f"触发器 '{spot.pass_trigger}' 不是从 '{spot.state}' 出发的转换 / "
                                            f"no transition '{spot.pass_trigger}' leaves '{spot.state}'")
    fact = wf.facts.get(spot.drawn_fact)
    if fact is None or fact.type != "bool":
        add(("spot_check", "drawn_fact"), f"抽中标记须是已声明的 bool 事实 / '{spot.drawn_fact}' must be a declared bool fact")


def _check_bulletin(wf: Workflow, add) -> None:
    if wf.bulletin is None:
        return
    for key in ("start", "end"):
        name = getattr(wf.bulletin, key)
        if name not in wf.dates:
            add(("bulletin", key), f"未定义的工作日期 / unknown campaign date '{name}'; defined: {', '.join(wf.dates)}")
    if wf.bulletin.every.amount == 0:
        add(("bulletin", "every"), "bulletin interval must be more than 0")


def _check_guards(wf: Workflow, add) -> None:
    for i, t in enumerate(wf.transitions):
        for j, guard in enumerate(t.guards):
            name, _ = _split(guard)
            if name not in wf.rules:
                add(("transitions", i, "guards", j),
                    f"未定义的规则实例 / unknown guard '{name}'; define it under 'rules' (defined: {', '.join(wf.rules) or 'none'})")


def notice_uses(wf: Workflow) -> list[tuple[tuple, str, str]]:
    """Every (place, template name, kind of notice) the workflow may render."""
    uses: list[tuple[tuple, str, str]] = []
    for i, t in enumerate(wf.transitions):
        if t.notice:
            uses.append((("transitions", i, "notice"), t.notice, "transition"))
    for name, state in wf.states.items():
        for deadline, path in _deadlines(state.deadline, ("states", name, "deadline")):
            if deadline.reminders:
                uses.append(((*path, "reminders"), deadline.reminder_notice, "deadline"))
            if deadline.escalations:
                uses.append(((*path, "escalations"), deadline.escalation_notice, "deadline"))
        for k, rec in enumerate(state.recurring):
            uses.append((("states", name, "recurring", k, "notice"), rec.notice, "recurring"))
    if wf.spot_check is not None and wf.spot_check.notice:
        uses.append((("spot_check", "notice"), wf.spot_check.notice, "recurring"))
    if wf.bulletin is not None:
        uses.append((("bulletin", "notice"), wf.bulletin.notice, "bulletin"))
    uses += problem_notice_uses(wf)
    for name, duty in wf.duties.items():  # a unit's duty (engine.ops.duties): no case
        if duty.reminders:
            uses.append((("duties", name, "reminders"), duty.reminder_notice, "duty"))
        if duty.escalations:
            uses.append((("duties", name, "escalations"), duty.escalation_notice, "duty"))
        if duty.returned_notice:
            uses.append((("duties", name, "returned_notice"), duty.returned_notice, "duty"))
    return uses


def _check_notices(wf: Workflow, templates: dict[str, str], template_dir: str, located: Located,
                   add, problems: list[Problem]) -> None:
    renderer = NoticeRenderer(templates)
    broken: dict[str, bool] = {}
    fits: dict[tuple[str, str], NoticeTemplateError | None] = {}  # a template used alike is checked once
    for path, name, kind in notice_uses(wf):
        where = f"{template_dir}/{name}.j2"
        if name not in templates:
            if not templates and not Path(template_dir).is_dir():
                continue  # the loader reported the missing folder once, with what to do
            add(path, f"找不到通知模板 / unknown notice template '{name}': expected {where} "
                      f"(available: {', '.join(sorted(templates)) or 'none'})")
            continue
        if name not in broken:  # broken whatever the use: report it in the template itself
            error = renderer.check(name)
            broken[name] = error is not None
            if error:
                problems.append(Problem(where, error.line, 1, error.message))
        if broken[name]:
            continue
        if (name, kind) not in fits:
            fits[name, kind] = renderer.check(name, sample_context(kind))
        error = fits[name, kind]
        if error and error.over_budget:  # over its budget with this use's data: the template's own fault
            broken[name] = True
            problems.append(Problem(where, error.line, 1, error.message))
        elif error:  # fine in general, wrong for this use (e.g. a transition's notice has no deadline)
            add(path, f"通知模板 {where}:{error.line} 不适用于此处 / template does not fit this use "
                      f"(a {kind} notice): {error.message}")


def _uses_calendar(wf: Workflow) -> list[tuple]:
    """Places where the working-day calendar decides a time."""
    places: list[tuple] = []
    for name, state in wf.states.items():
        for deadline, path in _deadlines(state.deadline, ("states", name, "deadline")):
            durations = [deadline.after, *deadline.reminders, *deadline.escalations]
            if deadline.if_holiday == "next_workday" or any(d is not None and d.unit == "working_days"
                                                            for d in durations):
                places.append(path)
        for k, rec in enumerate(state.recurring):
            if rec.every.unit == "working_days":
                places.append(("states", name, "recurring", k))
    return places


def coverage_warnings(wf: Workflow, located: Located, calendar) -> list[Problem]:
    """A warning where working days are used in a year no holiday data covers."""
    places = _uses_calendar(wf)
    years = [y for y in (wf.year, wf.year + 1) if not calendar.covers(y)]
    if not places or not years:
        return []
    listed = "、".join(map(str, years))
    return [located.problem(places[0], f"警告 warning: {listed} 年的节假日安排不在日历数据中，工作日将按周末推算；"
                                       f"请在 calendar.yaml 中补充 / no holiday data for {listed}: working days "
                                       "will assume weekends only until calendar.yaml lists that year")]
