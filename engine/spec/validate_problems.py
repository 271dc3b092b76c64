"""Checks of the workflow's ``problem_list`` section and of its states' ``look_back`` (回头看).

Kept apart from ``engine.spec.validate`` (which calls them) so that each file stays one subject.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from engine.spec.definition import Workflow


def check_problem_list(wf: Workflow, add: Callable[[tuple, str], None]) -> None:
    """The roles that keep a problem list exist; a 回头看 hangs on a final state (a case never
    leaves it, so its timer is never cancelled) and is answered by a declared yes/no fact."""
    for j, role in enumerate(wf.problem_list.roles):
        if role not in wf.roles:
            add(("problem_list", "roles", j), f"未定义的角色 / unknown role '{role}'; roles: {', '.join(wf.roles)}")
    for name, state in wf.states.items():
        look = state.look_back
        if look is None:
            continue
        path = ("states", name, "look_back")
        if not state.final:
            add(path, f"回头看只能设在终止状态 / 'look_back' belongs on a final state: '{name}' is not final "
                      "(the look-back asks, months after acceptance, whether the organization is still sound)")
        if look.after.amount == 0:
            add((*path, "after"), "回头看的间隔须大于0 / the look-back's 'after' must be more than 0")
        fact = wf.facts.get(look.fact)
        if fact is None or fact.type != "bool":
            add((*path, "fact"), f"回头看的答复须是已声明的 bool 事实 / '{look.fact}' must be a declared bool fact "
                                 "(the township answers 是/否 with 'rectify fact set')")


def problem_audiences(wf: Workflow) -> Iterator[tuple[tuple, tuple[str, ...]]]:
    """(place, roles) of every audience the problem list and the look-backs name."""
    yield ("problem_list", "remind"), wf.problem_list.remind
    yield ("problem_list", "escalate_to"), wf.problem_list.escalate_to
    for name, state in wf.states.items():
        if state.look_back is not None:
            yield ("states", name, "look_back", "notify"), state.look_back.notify


def problem_notice_uses(wf: Workflow) -> list[tuple[tuple, str, str]]:
    """(place, template, kind) of the notices the problem list and the look-backs render."""
    spec = wf.problem_list
    uses: list[tuple[tuple, str, str]] = []
    if spec.reminders:
        uses.append((("problem_list", "reminders"), spec.reminder_notice, "problem"))
    if spec.escalations:
        uses.append((("problem_list", "escalations"), spec.escalation_notice, "problem"))
    for name, state in wf.states.items():
        if state.look_back is not None:
            uses.append((("states", name, "look_back", "notice"), state.look_back.notice, "look_back"))
    return uses
