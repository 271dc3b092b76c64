"""Deployed workflow versions and campaigns.

A deployed version keeps the YAML text and every template, so a case stays on the version
it started with even after the files change; the version's identity is the content hash.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import BadInput, NotFound
from engine.loader import LoadedWorkflow, load_workflow_text
from engine.machine import CompiledWorkflow, compiled
from engine.models import Campaign, WorkflowVersion


def deploy(session: Session, loaded: LoadedWorkflow, actor: str, now: datetime) -> tuple[WorkflowVersion, bool]:
    """Record ``loaded`` as the newest version of its workflow and make its campaign use it.

    Deploying the same content again changes nothing and returns ``created=False``.
    """
    wf = loaded.definition
    existing = session.scalar(select(WorkflowVersion).where(
        WorkflowVersion.name == wf.name, WorkflowVersion.digest == loaded.digest))
    created = existing is None
    if existing is None:
        last = session.scalar(select(func.max(WorkflowVersion.version)).where(WorkflowVersion.name == wf.name))
        existing = WorkflowVersion(name=wf.name, version=(last or 0) + 1, digest=loaded.digest,
                                   source_file=loaded.file, text=loaded.text, templates=loaded.templates,
                                   calendar=loaded.calendar_text,
                                   deployed_at=now, deployed_by=actor)
        session.add(existing)
        session.flush()
    campaign = session.scalar(select(Campaign).where(Campaign.workflow_name == wf.name, Campaign.year == wf.year))
    if campaign is None:
        session.add(Campaign(workflow_name=wf.name, year=wf.year, title=wf.title,
                             current_version_id=existing.id, case_seq=0))
    else:
        campaign.current_version_id = existing.id
        campaign.title = wf.title
    return existing, created


_by_digest: dict[str, CompiledWorkflow] = {}


def compiled_version(version: WorkflowVersion) -> CompiledWorkflow:
    """The shared machine of a deployed version (parsed and compiled once per process).

    Looked up by the version's content hash first, so listing many cases costs one dict
    look-up per case, not a parse.
    """
    found = _by_digest.get(version.digest)
    if found is None:
        label = f"{version.name}@v{version.version}"
        loaded = load_workflow_text(version.text, label, dict(version.templates), calendar_text=version.calendar,
                                    calendar_file=f"{label}:calendar.yaml")
        found = _by_digest[version.digest] = compiled(loaded)
    return found


def campaigns(session: Session) -> list[Campaign]:
    return list(session.scalars(select(Campaign).order_by(Campaign.year, Campaign.workflow_name)))


def resolve_campaign(session: Session, ref: str | None) -> Campaign:
    """The campaign named ``ref`` (``name`` or ``name:year``), or the only one there is."""
    found = campaigns(session)
    if not found:
        raise BadInput("尚未部署工作流 / no workflow deployed yet: run 'rectify workflow deploy FILE' first")
    if ref is None:
        if len(found) == 1:
            return found[0]
        names = ", ".join(f"{c.workflow_name}:{c.year}" for c in found)
        raise BadInput(f"有多个专项整治，请用 --campaign 指定 / several campaigns exist, choose one with --campaign: {names}")
    name, _, year = ref.partition(":")
    matches = [c for c in found if c.workflow_name == name and (not year or str(c.year) == year)]
    if len(matches) != 1:
        names = ", ".join(f"{c.workflow_name}:{c.year}" for c in found)
        raise NotFound("campaign 专项整治", ref, f"known: {names}")
    return matches[0]
