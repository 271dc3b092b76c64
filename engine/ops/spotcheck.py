"""The county's random spot check: a reproducible, verifiable draw (``rectify spot-check``).

Method ``sha256-rank-v1``: the population is every case of the campaign waiting in the
spot-check state and not yet drawn this round, sorted by reference. The sample size is
``ceil(rate × population)``. Key targets are always included when the workflow says so;
the remaining places go to the other cases ranked by SHA-256 of ``"<seed>:<ref>"``, lowest
first. The seed is published with the result, so anyone holding the record can recompute
the selection (``rectify spot-check verify``) without trusting the office that drew it.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from engine.base.errors import BadInput, NotFound, PermissionDenied, Refused
from engine.ops.cases import case_facts, fire, set_fact
from engine.ops.deploy import compiled_version
from engine.ops.notices import notice_context, queue_notice
from engine.ops.officials import Actor
from engine.store.campaign_queries import spot_check_draws
from engine.store.case_queries import cases_in_state
from engine.store.models import Campaign, Case, SpotCheckDraw

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

METHOD = "sha256-rank-v1"


def rank(seed: str, ref: str) -> str:
    return hashlib.sha256(f"{seed}:{ref}".encode()).hexdigest()


def select_sample(population: list[dict], seed: str, rate: float, include_key_targets: bool) -> list[str]:
    """The pure draw: which references are selected (sorted)."""
    size = math.ceil(rate * len(population) - 1e-9)
    forced = [p["ref"] for p in population if include_key_targets and p["key_target"]]
    others = sorted((rank(seed, p["ref"]), p["ref"]) for p in population if p["ref"] not in forced)
    return sorted(forced + [ref for _, ref in others[:max(size - len(forced), 0)]])


@dataclass(frozen=True)
class DrawResult:
    draw: SpotCheckDraw
    moved_on: list[str]  # not drawn: fired on to the next state


def _spot_of(case: Case):
    """The spot-check settings of the version the case runs on (trigger names may differ)."""
    return compiled_version(case.workflow_version).definition.spot_check


def eligible_cases(session: Session, campaign: Campaign, state: str) -> list[Case]:
    """The campaign's cases in the spot-check ``state`` of their version and not yet drawn this
    round, by reference: the draw's population."""
    eligible = []
    for case in cases_in_state(session, campaign.id, state):
        spot = _spot_of(case)
        if spot is not None and spot.state == case.state and spot.drawn_fact not in case_facts(session, case.id):
            eligible.append(case)
    return eligible


def _require_drawer(definition, spot, actor: Actor) -> None:
    """Whoever may pass a case on from the spot check (the workflow's ``pass_trigger`` out of
    its state: the county department) draws; nobody else chooses which cases are checked."""
    roles = {role for t in definition.transitions if t.trigger == spot.pass_trigger
             and spot.state in t.sources for role in t.roles}
    if not actor.is_system and roles and actor.role not in roles:
        allowed = "、".join(definition.roles.get(r, r) for r in sorted(roles))
        raise PermissionDenied(f"只有{allowed}可以抽查抽签 / only {', '.join(sorted(roles))} may draw the spot "
                               f"check ({actor.name} is {actor.role})")


def draw(session: Session, campaign: Campaign, actor: Actor, now: datetime, seed: str | None = None) -> DrawResult:
    """Draw the sample, record it, mark every case drawn or not, move the others on."""
    compiled = compiled_version(campaign.current_version)
    spot = compiled.definition.spot_check
    if spot is None:
        raise BadInput("工作流没有配置抽查（spot_check）/ the workflow has no spot_check section")
    _require_drawer(compiled.definition, spot, actor)
    if seed is not None and not seed.strip():
        raise BadInput("种子不能为空 / the seed cannot be empty")
    cases = eligible_cases(session, campaign, spot.state)
    if not cases:
        label = compiled.definition.states[spot.state].label
        raise Refused(f"没有等待抽查的整顿对象（状态“{label}”且本轮未抽签）/ no case is waiting for the spot "
                      f"check (state '{spot.state}', not yet drawn this round): nothing to draw")
    seed = seed.strip() if seed else secrets.token_hex(8)
    population = [{"ref": c.ref, "key_target": c.key_target} for c in cases]
    selected = select_sample(population, seed, spot.rate, spot.include_key_targets)
    record = SpotCheckDraw(campaign_id=campaign.id, at=now, actor=actor.name, seed=seed, method=METHOD,
                           rate=spot.rate, include_key_targets=spot.include_key_targets,
                           population=population, selected=selected)
    session.add(record)
    session.flush()
    moved_on = []
    for case in cases:
        own = _spot_of(case)
        assert own is not None
        chosen = case.ref in selected
        set_fact(session, case, own.drawn_fact, "是" if chosen else "否", actor, now, system=True)
        if not chosen:
            fire(session, case, own.pass_trigger, actor, now, note=f"未抽中（抽查抽签 #{record.id}，种子 {seed}）")
            moved_on.append(case.ref)
        elif own.notice:
            compiled_case = compiled_version(case.workflow_version)
            queue_notice(session, compiled_case, own.notice, notice_context(compiled_case, case, now, actor.name),
                         f"spot:{record.id}:{case.ref}", case, None, now, own.notify)
    return DrawResult(record, moved_on)


@dataclass(frozen=True)
class Verification:
    draw: SpotCheckDraw
    recomputed: list[str]

    @property
    def ok(self) -> bool:
        return self.recomputed == list(self.draw.selected)


def verify(session: Session, draw_id: int) -> Verification:
    record = session.get(SpotCheckDraw, draw_id)
    if record is None:
        raise NotFound("spot-check draw 抽查抽签", draw_id, "list draws with 'rectify spot-check list'")
    if record.method != METHOD:
        raise BadInput(f"未知的抽签方法 / unknown draw method '{record.method}'")
    recomputed = select_sample(list(record.population), record.seed, record.rate, record.include_key_targets)
    return Verification(record, recomputed)


def list_draws(session: Session) -> list[SpotCheckDraw]:
    return spot_check_draws(session)
