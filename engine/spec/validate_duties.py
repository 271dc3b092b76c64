"""Checks of the workflow's ``duties`` (what units owe): their dates, the level that owes them,
the roles that file, return and are told, and the rules that read them."""

from __future__ import annotations

from contextlib import suppress
from datetime import date

from engine.base.domain import ORG_KIND_LABELS
from engine.spec.definition import Workflow


def check_duties(wf: Workflow, add) -> None:
    dates = {}
    for name, spec in wf.dates.items():
        with suppress(ValueError):  # reported by the dates' own check
            dates[name] = spec.resolve(wf.year)
    kinds = list(ORG_KIND_LABELS)
    for name, duty in wf.duties.items():
        path = ("duties", name)
        if duty.owed_by not in kinds:
            add((*path, "owed_by"), f"未知的组织类型 / unknown kind of organization '{duty.owed_by}'; kinds: "
                                    f"{', '.join(kinds)}")
        previous: date | None = None
        for j, item in enumerate(duty.due):
            if item in wf.dates:
                day = dates.get(item)
            elif "-" in item:
                try:
                    day = date.fromisoformat(f"{wf.year}-{item}")
                except ValueError:
                    add((*path, "due", j), f"'{item}' 不是有效日期 / is not a valid date (MM-DD)")
                    continue
            else:
                add((*path, "due", j), f"未定义的工作日期 / unknown campaign date '{item}'; defined: "
                                       f"{', '.join(wf.dates) or 'none'}")
                continue
            if day is not None and previous is not None and day <= previous:
                add((*path, "due", j), f"报送日期须按时间先后排列 / the dates must be in time order: '{item}' ({day}) "
                                       f"is not after {previous}")
            previous = day or previous
        for key in ("remind", "escalate_to", "filed_by", "returned_by"):
            for j, role in enumerate(getattr(duty, key)):
                if role not in wf.roles:
                    add((*path, key, j), f"未定义的角色 / unknown role '{role}' (a unit's duty reaches officials by "
                                         f"role); roles: {', '.join(wf.roles)}")
    for name, use in wf.rules.items():
        if use.rule == "duty_filed" and use.params.get("duty") not in wf.duties:
            add(("rules", name, "params", "duty"), f"未定义的报送事项 / unknown duty '{use.params.get('duty')}'; "
                                                   f"duties: {', '.join(wf.duties) or 'none'}")
