"""Services on what units owe: list how each unit stands, file an occurrence (报送), return a
filing (退回). One transaction each, the policy inside (``Access`` and the duty's roles)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine.base.clock import local
from engine.base.errors import NotFound
from engine.ops import duties as duty_ops
from engine.ops.deploy import compiled_version, resolve_campaign
from engine.ops.orgs import get_org
from engine.services import Access, Caller, Done, read, write
from engine.services.evidence import Content
from engine.store import duty_queries
from engine.store.db import Store

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.spec.machine import CompiledWorkflow
    from engine.store.evidence_files import EvidenceFiles
    from engine.store.models import Campaign


def duty_table(store: Store, caller: Caller, campaign_ref: str | None = None, unit_code: str | None = None,
               standing: str | None = None) -> Done[dict[str, Any]]:
    """Every occurrence of every duty of the units the caller may read (or of one unit), with how
    it stands (done, late, missing, open), and per unit the counts."""
    return read(store, caller, lambda access: _table(access, campaign_ref, unit_code, standing)[2])


def duty_board(store: Store, caller: Caller, unit_code: str | None = None, standing: str | None = None,
               campaign_ref: str | None = None) -> Done[dict[str, Any]]:
    """``duty_table`` for a page: each occurrence also with its latest filing (who, when, the
    note, the files) and latest return (who, when, the reason), and per duty whether the caller's
    role is one that files or returns it, so a page offers only the forms the service would take
    (``submit`` and ``give_back`` still judge each, jurisdiction included)."""
    def work(access: Access) -> dict[str, Any]:
        campaign, compiled, data, unit_ids = _table(access, campaign_ref, unit_code, standing)
        latest = _latest_actions(access.session, campaign.id, unit_ids, compiled.definition.timezone)
        for row in data["rows"]:
            row.update(latest.get((row["unit_code"], row["duty"], row["occurrence"]),
                                  {"filing": None, "return": None, "open_return": False}))
        role = access.identity.official.role if access.identity.official else None
        data["forms"] = {name: {"file": role is not None and (not d.filed_by or role in d.filed_by),
                                "return": role in d.returned_by}
                         for name, d in compiled.definition.duties.items()}
        return data
    return read(store, caller, work)


def _table(access: Access, campaign_ref: str | None, unit_code: str | None,
           standing: str | None) -> tuple[Campaign, CompiledWorkflow, dict[str, Any], list[int] | None]:
    """The duty table inside the caller's jurisdiction, and the ids of the units it may cover
    (None: every unit)."""
    campaign = resolve_campaign(access.session, campaign_ref)
    compiled = compiled_version(campaign.current_version)
    now = access.now(campaign)
    unit_ids = None
    if unit_code:
        unit = get_org(access.session, unit_code)
        access.require_org(unit, f"单位 {unit.code}", f"unit {unit.code}")
        unit_ids = [unit.id]
    table = duty_ops.duty_table(access.session, campaign, compiled, now, unit_ids)
    scope = access.scope()
    if scope is not None and unit_ids is None:  # reads stay inside the caller's jurisdiction
        units = duty_ops.units_within(access.session, scope)
        within = {u.code for u in units}
        table = [row for row in table if row["unit_code"] in within]
        unit_ids = [u.id for u in units]
    if standing:
        table = [row for row in table if row["standing"] == standing]
    data = {"campaign": campaign.title, "rows": table, "units": duty_ops.unit_summary(table),
            "duties": {k: d.label for k, d in compiled.definition.duties.items()}}
    return campaign, compiled, data, unit_ids


def _latest_actions(session: Session, campaign_id: int, unit_ids: list[int] | None,
                    tz: str) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Per occurrence (unit code, duty, number): its latest filing and latest return, and whether
    that return still stands (nothing filed after it)."""
    rows = {r.id: r for r in duty_queries.duties_of(session, campaign_id, unit_ids)}
    latest: dict[tuple[str, str, int], dict[str, Any]] = {}
    for action in duty_queries.actions_of(session, rows):  # oldest first: a later one replaces
        row = rows[action.unit_duty_id]
        entry = latest.setdefault((row.unit.code, row.duty, row.occurrence),
                                  {"filing": None, "return": None, "open_return": False})
        entry["filing" if action.kind == "submit" else "return"] = {
            "seq": action.seq, "at": local(action.at, tz).strftime("%Y-%m-%d %H:%M"), "actor": action.actor,
            "note": action.note, "files": list(action.files or [])}
        entry["open_return"] = action.kind == "return"
    return latest


def submit(store: Store, caller: Caller, duty: str, unit_code: str, occurrence: int | None, note: str,
           files: Sequence[Any] = (), campaign_ref: str | None = None) -> Done[duty_ops.Filed]:
    """File an occurrence of ``duty`` for ``unit_code`` (with files, checked and stored before the
    transaction: content-addressed, so a rollback leaves nothing a later filing would not reuse)."""
    stored = _stored(store, files)

    def work(access: Access) -> duty_ops.Filed:
        campaign = resolve_campaign(access.session, campaign_ref)
        compiled = compiled_version(campaign.current_version)
        now = access.now(campaign)
        unit = get_org(access.session, unit_code)
        listed = [{"sha256": f.sha256, "name": f.filename, "size": f.size} for f in stored]
        row, action = duty_ops.submit(access.session, campaign, compiled, access.actor(), unit, duty, occurrence,
                                      note, listed, now)
        if stored:
            from engine.ops.evidence import attach

            attach(access.session, stored, duty_action_id=action.id, actor=action.actor, now=now, note=note)
        return duty_ops.filed(row, compiled.definition.duties[duty], action, now, compiled.definition.timezone)
    return write(store, caller, work)


def give_back(store: Store, caller: Caller, duty: str, unit_code: str, occurrence: int | None, reason: str,
              campaign_ref: str | None = None) -> Done[duty_ops.Filed]:
    """Return a filing (退回) with the reason; the unit is told and chased again."""
    def work(access: Access) -> duty_ops.Filed:
        campaign = resolve_campaign(access.session, campaign_ref)
        compiled = compiled_version(campaign.current_version)
        now = access.now(campaign)
        unit = get_org(access.session, unit_code)
        actor = access.actor()
        row, action = duty_ops.give_back(access.session, campaign, compiled, actor, unit,
                                         duty, occurrence, reason, now)
        return duty_ops.filed(row, compiled.definition.duties[duty], action, now, compiled.definition.timezone)
    return write(store, caller, work)


def filed_file(store: Store, caller: Caller, files: EvidenceFiles, duty: str, unit_code: str, occurrence: int,
               sha256: str, campaign_ref: str | None = None) -> Done[Content]:
    """A file filed with occurrence ``occurrence`` of ``duty`` by ``unit_code``, verified against its
    hash (a missing or altered one is ``EvidenceFileError``): what the county reads before it
    accepts or returns the filing. Only a caller who may read the unit gets it."""
    def work(access: Access) -> tuple[str, str]:
        campaign = resolve_campaign(access.session, campaign_ref)
        unit = get_org(access.session, unit_code)
        access.require_org(unit, f"单位 {unit.code}", f"unit {unit.code}")
        found = duty_queries.filed_file(access.session, campaign.id, unit.id, duty, occurrence, sha256.lower())
        if found is None:
            raise NotFound("filed file 报送附件", f"{unit.code} {duty} #{occurrence} {sha256[:16]}",
                           f"the files of a filing are listed by 'rectify duty history {unit.code}'")
        return found.filename, found.media_type
    done = read(store, caller, work)
    name, media_type = done.value
    return Done(Content(name, media_type, sha256.lower(), files.read(sha256.lower(), name)), done.warnings)


def history(store: Store, caller: Caller, unit_code: str, duty: str | None = None,
            campaign_ref: str | None = None) -> Done[list[dict[str, Any]]]:
    """A unit's filings and returns, oldest first (a read within the caller's jurisdiction)."""
    def work(access: Access) -> list[dict[str, Any]]:
        campaign = resolve_campaign(access.session, campaign_ref)
        compiled = compiled_version(campaign.current_version)
        unit = get_org(access.session, unit_code)
        access.require_org(unit, f"单位 {unit.code}", f"unit {unit.code}")
        if duty is not None:
            duty_ops.duty_spec(compiled, duty)
        return duty_ops.history(access.session, campaign, compiled, unit, duty)
    return read(store, caller, work)


def _stored(store: Store, files: Sequence[Any]) -> list[Any]:
    if not files:
        return []
    from engine.ops.evidence import store_files

    return store_files(store, list(files))
