"""The county's random spot check: a reproducible, verifiable draw (``rectify spot-check``).

Method ``sha256-rank-v1``: the population is every case of the campaign waiting in the
spot-check state and not yet drawn this round, sorted by reference. The sample size is
``ceil(rate × population)``. Key targets are always included when the workflow says so;
the remaining places go to the other cases ranked by SHA-256 of ``"<seed>:<ref>"``, lowest
first. The seed is published with the result, so anyone holding the record can recompute
the selection (``rectify spot-check verify``) without trusting the office that drew it.

The seed is fixed before the population is known, so nobody can try seeds until a case he
wants spared is not drawn: the draw is announced first (``rectify spot-check announce``), with
the SHA-256 of its seed, which is published with the announcement (抽查公告). Either rectify
chooses the seed then and keeps it, or the county keeps a seed of its own and gives only its
hash (``--seed-hash``), then the seed itself at the draw. One announcement is open at a time and
a draw needs one; ``verify`` checks the seed against the commitment too.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from engine.base.errors import BadInput, NotFound, PermissionDenied, Refused
from engine.ops.cases import case_facts, fire, set_fact
from engine.ops.deploy import compiled_version
from engine.ops.notices import notice_context, queue_notice
from engine.ops.officials import Actor
from engine.store.campaign_queries import open_announcement, spot_check_draws
from engine.store.case_queries import cases_in_state
from engine.store.models import Campaign, Case, SpotCheckAnnouncement, SpotCheckDraw

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
class Announced:
    announcement: SpotCheckAnnouncement
    chosen_here: bool  # rectify chose the seed (else the county keeps it until the draw)


def commitment_of(seed: str) -> str:
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def announce(session: Session, campaign: Campaign, actor: Actor, now: datetime,
             seed_hash: str | None = None) -> Announced:
    """Fix the seed of the campaign's next draw now: record its commitment (see the module)."""
    spot = compiled_version(campaign.current_version).definition.spot_check
    if spot is None:
        raise BadInput("工作流没有配置抽查（spot_check）/ the workflow has no spot_check section")
    _require_drawer(compiled_version(campaign.current_version).definition, spot, actor)
    pending = open_announcement(session, campaign.id)
    if pending is not None:
        raise Refused(f"抽查抽签已于 {pending.at:%Y-%m-%d %H:%M} 公告（#{pending.id}），尚未抽签，不能再次公告 / draw "
                      f"#{pending.id} was announced on {pending.at:%Y-%m-%d} and not made yet: make it first")
    seed = None
    if seed_hash is None:
        seed = secrets.token_hex(8)
        seed_hash = commitment_of(seed)
    elif not re.fullmatch(r"[0-9a-f]{64}", seed_hash.strip().lower()):
        raise BadInput("--seed-hash 应为 64 位十六进制的 SHA-256 值 / --seed-hash must be a SHA-256 digest "
                       "(64 hexadecimal digits), e.g. printf %s SEED | sha256sum")
    record = SpotCheckAnnouncement(campaign_id=campaign.id, at=now, actor=actor.name,
                                   commitment=seed_hash.strip().lower(), seed=seed)
    session.add(record)
    session.flush()
    return Announced(record, seed is not None)


def _announced_seed(session: Session, campaign: Campaign, now: datetime,
                    seed: str | None) -> tuple[SpotCheckAnnouncement, str]:
    announced = open_announcement(session, campaign.id)
    if announced is None or announced.at > now:
        raise Refused("抽签前须先发布抽查公告（rectify spot-check announce），公布种子的 SHA-256 值 / announce the "
                      "draw first ('rectify spot-check announce'): its seed is fixed and its hash published before "
                      "anyone sees whom it would draw")
    if seed is not None and not seed.strip():
        raise BadInput("种子不能为空 / the seed cannot be empty")
    given = seed.strip() if seed else None
    if announced.seed is not None:
        if given is not None and given != announced.seed:
            raise Refused(f"种子与公告 #{announced.id} 的不符 / this is not the seed announced in #{announced.id}: "
                          "leave --seed out, rectify uses the announced one")
        return announced, announced.seed
    if given is None:
        raise BadInput(f"公告 #{announced.id} 的种子由县委组织部保管，抽签时请用 --seed 给出 / announcement "
                       f"#{announced.id} left the seed with the county: give it with --seed")
    if commitment_of(given) != announced.commitment:
        raise Refused(f"种子与公告 #{announced.id} 公布的 SHA-256 值不符 / the seed does not match the SHA-256 "
                      f"published in announcement #{announced.id}: nothing was drawn")
    return announced, given


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


def waiting_for_spot_check(session: Session, campaign: Campaign) -> bool:
    """Whether any case of the campaign waits for a draw."""
    spot = compiled_version(campaign.current_version).definition.spot_check
    return spot is not None and bool(eligible_cases(session, campaign, spot.state))


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
    cases = eligible_cases(session, campaign, spot.state)
    if not cases:
        label = compiled.definition.states[spot.state].label
        raise Refused(f"没有等待抽查的整顿对象（状态“{label}”且本轮未抽签）/ no case is waiting for the spot "
                      f"check (state '{spot.state}', not yet drawn this round): nothing to draw")
    announced, seed = _announced_seed(session, campaign, now, seed)
    population = [{"ref": c.ref, "key_target": c.key_target} for c in cases]
    selected = select_sample(population, seed, spot.rate, spot.include_key_targets)
    record = SpotCheckDraw(campaign_id=campaign.id, at=now, actor=actor.name, seed=seed, method=METHOD,
                           rate=spot.rate, include_key_targets=spot.include_key_targets,
                           population=population, selected=selected, announcement_id=announced.id)
    session.add(record)
    session.flush()
    announced.draw_id = record.id
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
            context = notice_context(compiled_case, case, now, actor.name, facts=case_facts(session, case.id))
            queue_notice(session, compiled_case, own.notice, context, f"spot:{record.id}:{case.ref}", case, None, now,
                         own.notify)
    return DrawResult(record, moved_on)


@dataclass(frozen=True)
class Verification:
    draw: SpotCheckDraw
    recomputed: list[str]
    committed: bool | None  # the seed matches its announcement made before the draw; None: none (older draws)

    @property
    def ok(self) -> bool:
        return self.recomputed == list(self.draw.selected) and self.committed is not False


def verify(session: Session, draw_id: int) -> Verification:
    record = session.get(SpotCheckDraw, draw_id)
    if record is None:
        raise NotFound("spot-check draw 抽查抽签", draw_id, "list draws with 'rectify spot-check list'")
    if record.method != METHOD:
        raise BadInput(f"未知的抽签方法 / unknown draw method '{record.method}'")
    recomputed = select_sample(list(record.population), record.seed, record.rate, record.include_key_targets)
    committed = None
    if record.announcement_id is not None:
        announced = session.get(SpotCheckAnnouncement, record.announcement_id)
        committed = (announced is not None and announced.draw_id == record.id and announced.at <= record.at
                     and announced.commitment == commitment_of(record.seed))
    return Verification(record, recomputed, committed)


def list_draws(session: Session) -> list[SpotCheckDraw]:
    return spot_check_draws(session)
