"""回头看: some months after a case reached a state with ``look_back`` (the shipped workflow:
``accepted``), the township is asked to confirm that the organization is still sound.

The timer is scheduled with the state's others (engine.ops.timers.plan_look_back) and fired by
the daemon one by one. The township answers with the yes/no fact the look-back names
(``look_back_sound``, recorded with ``rectify fact set`` like any fact, on the final state
too); an answer recorded before the timer falls due makes the request moot, and it is not
sent. A "否" is the county's cue to act: reopen a problem (``rectify problem reopen``) or add one.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.base.clock import local
from engine.base.cndate import cn_date
from engine.ops.cases import record_event
from engine.ops.deploy import compiled_version
from engine.ops.notices import notice_context, queue_notice
from engine.ops.officials import SYSTEM
from engine.spec.definition import Duration
from engine.store.facts import case_facts

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.orm import Session

    from engine.ops.notices import CaseCard
    from engine.spec.machine import CompiledWorkflow
    from engine.store.models import Case, Timer


def look_back_context(compiled: CompiledWorkflow, case: Case | CaseCard, entered_at: datetime,
                      payload: Mapping[str, Any], now: datetime, facts: Mapping[str, Any] | None) -> dict[str, Any]:
    """The context of a look-back request: the case's, with when it reached the state and how
    long ago the look-back was set for (used alike by the daemon and the preview)."""
    wf = compiled.definition
    context = notice_context(compiled, case, now, SYSTEM.name, facts=facts)
    fact = str(payload.get("fact", ""))
    spec = wf.facts.get(fact)
    context["look_back"] = {"after": Duration.model_validate(payload.get("after", "0 days")).zh,
                            "accepted": cn_date(local(entered_at, wf.timezone).date()), "fact": fact,
                            "fact_label": spec.label if spec is not None else fact}
    return context


def fire_look_back(session: Session, case: Case, timer: Timer, now: datetime) -> bool:
    """Write the look-back request of a due timer (its event and outbox row); False, writing
    nothing, when the township has already answered."""
    facts = case_facts(session, case.id)
    if facts.get(str(timer.payload.get("fact", ""))) is not None:
        return False
    compiled = compiled_version(case.workflow_version)
    context = look_back_context(compiled, case, case.entered_at, timer.payload, now, facts)
    template = str(timer.payload["notice"])
    event = record_event(session, case, SYSTEM, now, "timer", trigger="look_back",
                         data={"timer": timer.id, "notice": template})
    queue_notice(session, compiled, template, context, f"timer:{timer.id}", case, event, now,
                 tuple(timer.payload.get("notify", ())))
    return True
