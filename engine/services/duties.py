"""Services on what units owe: list how each unit stands, file an occurrence (报送), return a
filing (退回). One transaction each, the policy inside (``Access`` and the duty's roles)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.ops import duties as duty_ops
from engine.ops.deploy import compiled_version, resolve_campaign
from engine.ops.orgs import get_org
from engine.services import Access, Caller, Done, read, write
from engine.store.db import Store


def duty_table(store: Store, caller: Caller, campaign_ref: str | None = None, unit_code: str | None = None,
               standing: str | None = None) -> Done[dict[str, Any]]:
    """Every occurrence of every duty of the units the caller may read (or of one unit), with how
    it stands (done, late, missing, open), and per unit the counts."""
    def work(access: Access) -> dict[str, Any]:
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
            within = {u.code for u in duty_ops.units_within(access.session, scope)}
            table = [row for row in table if row["unit_code"] in within]
        if standing:
            table = [row for row in table if row["standing"] == standing]
        return {"campaign": campaign.title, "rows": table, "units": duty_ops.unit_summary(table),
                "duties": {k: d.label for k, d in compiled.definition.duties.items()}}
    return read(store, caller, work)


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
