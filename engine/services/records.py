"""Services on the record: the audit log, the refusals log and the spot-check draws.

Verifying every chain, the refusals log and a checkpoint are county-wide reads; one case's
trail is for whoever may read the case. A spot-check draw is fired by the workflow's
spot-check role; anyone registered may recompute one (that is the point of publishing it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.base.clock import fmt
from engine.base.natural import natural_sorted
from engine.ops import audit, spotcheck
from engine.ops.cases import get_case
from engine.ops.deploy import resolve_campaign
from engine.services import Access, Caller, Done, read, write
from engine.store.admin_queries import refusals_newest_first
from engine.store.db import Store
from engine.store.evidence_files import EvidenceFiles


def verify_audit(store: Store, caller: Caller, case_ref: str | None = None, checkpoint: Any = None,
                 source: str = "checkpoint", files: EvidenceFiles | None = None) -> Done[audit.Verification]:
    """Verify every chain (or one case's), and with ``checkpoint`` (a checkpoint file's parsed
    JSON, read from ``source``) first that the checkpoint still gives its own digest; with the
    evidence store ``files``, every evidence file (or the case's) against its hash too."""
    def work(access: Access) -> audit.Verification:
        if case_ref:
            ids = [access.require_case(get_case(access.session, case_ref)).id]
        else:
            access.require_everything("核验全部审计日志", "verifying every chain")
            ids = None
        kept = audit.read_checkpoint(checkpoint, source) if checkpoint is not None else None
        return audit.verify(access.session, ids, kept, files)
    return read(store, caller, work)


def audit_checkpoint(store: Store, caller: Caller) -> Done[dict[str, Any]]:
    def work(access: Access) -> dict[str, Any]:
        access.require_everything("审计检查点", "an audit checkpoint")
        zone = access.zone()
        return audit.checkpoint(access.session, fmt(access.now(zone), zone))
    return read(store, caller, work)


def audit_trail(store: Store, caller: Caller, ref: str) -> Done[dict[str, Any]]:
    def work(access: Access) -> dict[str, Any]:
        case = access.require_case(get_case(access.session, ref))
        return {"case": case.ref, "organization": case.organization.name, "method": audit.METHOD,
                "head": {"seq": case.event_seq, "hash": case.event_head}, "events": audit.trail(access.session, case)}
    return read(store, caller, work)


def refusals(store: Store, caller: Caller, limit: int = 50) -> Done[list[dict[str, Any]]]:
    """Refused attempts, newest first (an administrator's read: it names every login)."""
    def work(access: Access) -> list[dict[str, Any]]:
        access.require_admin("查看被拒绝的操作", "read the refusals log")
        zone = access.zone()
        return [{"id": r.id, "at": fmt(r.at, zone), "login": r.login, "actor": r.actor,
                 "command": r.command, "reason": r.reason}
                for r in refusals_newest_first(access.session, limit)]
    return read(store, caller, work)


@dataclass(frozen=True)
class Announcement:
    id: int
    at: str
    commitment: str
    chosen_here: bool


def announce_spot_check(store: Store, caller: Caller, seed_hash: str | None = None,
                        campaign_ref: str | None = None) -> Done[Announcement]:
    def work(access: Access) -> Announcement:
        campaign = resolve_campaign(access.session, campaign_ref)
        now = access.now(campaign)
        done = spotcheck.announce(access.session, campaign, access.actor(), now, seed_hash)
        return Announcement(done.announcement.id, fmt(now, access.zone()), done.announcement.commitment,
                            done.chosen_here)
    return write(store, caller, work)


@dataclass(frozen=True)
class Drawn:
    draw: int
    seed: str
    method: str
    rate: float
    include_key_targets: bool
    population: int
    selected: list[str]
    moved_on: list[str]


def draw_spot_check(store: Store, caller: Caller, seed: str | None = None,
                    campaign_ref: str | None = None) -> Done[Drawn]:
    def work(access: Access) -> Drawn:
        campaign = resolve_campaign(access.session, campaign_ref)
        result = spotcheck.draw(access.session, campaign, access.actor(), access.now(campaign), seed)
        record = result.draw
        return Drawn(record.id, record.seed, record.method, record.rate, record.include_key_targets,
                     len(record.population), natural_sorted(record.selected), result.moved_on)
    return write(store, caller, work)


@dataclass(frozen=True)
class DrawCheck:
    ok: bool
    seed: str
    population: int
    recorded: list[str]
    recomputed: list[str]
    committed: bool | None  # the seed matches what was announced before the draw; None: no announcement


def verify_spot_check(store: Store, caller: Caller, draw_id: int) -> Done[DrawCheck]:
    def work(access: Access) -> DrawCheck:
        access.scope()
        check = spotcheck.verify(access.session, draw_id)
        return DrawCheck(check.ok, check.draw.seed, len(check.draw.population), natural_sorted(check.draw.selected),
                         natural_sorted(check.recomputed), check.committed)
    return read(store, caller, work)


def spot_check_draws(store: Store, caller: Caller) -> Done[list[dict[str, Any]]]:
    def work(access: Access) -> list[dict[str, Any]]:
        access.scope()
        zone = access.zone()
        return [{"id": d.id, "at": fmt(d.at, zone), "actor": d.actor, "seed": d.seed,
                 "population": len(d.population), "selected": natural_sorted(d.selected)}
                for d in spotcheck.list_draws(access.session)]
    return read(store, caller, work)
