"""Compile a checked workflow into one shared transitions ``Machine``.

SPEC §5: one ``Machine(model=None, auto_transitions=False)`` per deployed version, cached
by the version's content hash and shared by every case; triggers are fired with
``machine.events[trigger].trigger(token, …)`` on a throw-away token carrying the case's
state, so no case is ever bound to the machine. Guards were resolved to rule objects at
load time; the engine evaluates every guard first (to report every reason) and the
machine's conditions only read those verdicts, so they always return real booleans.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from notifiers.render import NoticeRenderer
from rules.base import Outcome, Verdict

if TYPE_CHECKING:  # the engine imports this module for its guard helpers: transitions only when compiling
    from transitions import EventData, Machine

    from engine.spec.definition import Transition
    from engine.spec.loader import LoadedWorkflow


def split_guard(guard: str) -> tuple[str, bool]:
    """``"not x"`` → ``("x", True)``; ``"x"`` → ``("x", False)``."""
    parts = guard.split()
    return (parts[1], True) if len(parts) == 2 else (parts[0], False)


def guard_passes(verdict: Verdict, negated: bool) -> bool:
    """``x`` passes when the rule allows; ``not x`` when it refuses. A broken rule blocks both."""
    if verdict.outcome is Outcome.ERROR:
        return False
    return (verdict.outcome is Outcome.FAIL) if negated else verdict.allows


@dataclass
class StateToken:
    """What the machine sees of a case: only its state."""

    state: str
    fired: Transition | None = None


@dataclass(frozen=True)
class CompiledWorkflow:
    loaded: LoadedWorkflow
    machine: Machine
    renderer: NoticeRenderer
    by_trigger: Mapping[str, tuple[Transition, ...]] = field(default_factory=dict)

    @property
    def definition(self):
        return self.loaded.definition

    def candidates(self, trigger: str, state: str) -> list[Transition]:
        return [t for t in self.by_trigger.get(trigger, ()) if state in t.sources]

    def triggers_from(self, state: str) -> list[str]:
        seen: dict[str, None] = {}
        for t in self.definition.transitions:
            if state in t.sources:
                seen.setdefault(t.trigger)
        return list(seen)

    def fire(self, state: str, trigger: str, verdicts: Mapping[str, Verdict],
             role: str | None = None) -> Transition | None:
        """Run the machine for ``trigger`` from ``state`` as ``role`` (None: the system).

        Returns the transition taken, or None. Nothing but the throw-away token changes.
        """
        token = StateToken(state)
        self.machine.events[trigger].trigger(token, verdicts=verdicts, role=role)
        return token.fired


def _condition(guards: tuple[tuple[str, bool], ...], roles: frozenset[str]):
    def check(event: EventData) -> bool:
        role = event.kwargs["role"]
        if role is not None and roles and role not in roles:
            return False
        verdicts: Mapping[str, Verdict] = event.kwargs["verdicts"]
        return all(guard_passes(verdicts[name], negated) for name, negated in guards)
    return check


def _recorder(transition: Transition):
    def record(event: EventData) -> None:
        cast(StateToken, event.model).fired = transition
    return record


def compile_workflow(loaded: LoadedWorkflow) -> CompiledWorkflow:
    from transitions import Machine

    wf = loaded.definition
    machine = Machine(model=None, states=list(wf.states), initial=wf.initial_state,
                      auto_transitions=False, send_event=True, ignore_invalid_triggers=False)
    by_trigger: dict[str, list[Transition]] = {}
    for t in wf.transitions:
        guards = tuple(split_guard(g) for g in t.guards)
        machine.add_transition(t.trigger, list(t.sources), t.dest,
                               conditions=[_condition(guards, frozenset(t.roles))], after=[_recorder(t)])
        by_trigger.setdefault(t.trigger, []).append(t)
    return CompiledWorkflow(loaded, machine, NoticeRenderer(loaded.templates),
                            {k: tuple(v) for k, v in by_trigger.items()})


_cache: dict[str, CompiledWorkflow] = {}
_lock = threading.Lock()


def compiled(loaded: LoadedWorkflow) -> CompiledWorkflow:
    """The shared compiled machine of a workflow version, built once per process."""
    with _lock:
        found = _cache.get(loaded.digest)
        if found is None:
            found = _cache[loaded.digest] = compile_workflow(loaded)
        return found
