"""Evidence: files behind a case's fact, a problem of its list, or a unit's duty submission.

Two steps, because a file is not a row. ``store_files`` checks every file (kind, size) and
only then puts them in the evidence store, before the caller's transaction (hashing 20 MiB
must not hold the database); ``attach`` then writes one ``Evidence`` row per file inside the
caller's transaction and, on a case, appends an "evidence" event holding the file's SHA-256,
size and name, so the hash is in the case's audit chain and ``audit verify`` finds a replaced
file or an altered row. A file stored for an attachment that is then refused stays in the store
unreferenced, harmless (the service checks the permission first so that this is rare).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.base.errors import BadInput, NotFound, PermissionDenied
from engine.base.text import many_lines, one_line
from engine.ops.cases import record_event
from engine.ops.deploy import compiled_version
from engine.ops.evidence_audit import EVENT
from engine.ops.officials import Actor
from engine.ops.orgs import is_within
from engine.store.db import Store
from engine.store.evidence_files import EvidenceFiles
from engine.store.evidence_queries import package_case_rows, package_duty_rows, problem_of_case
from engine.store.models import Campaign, Case, Evidence, Problem
from engine.store.widths import width

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["EVENT", "PackedFile", "StoredFile", "attach", "attached_to", "check_may_attach", "package_files",
           "store_files"]


@dataclass(frozen=True)
class StoredFile:
    """A file in the evidence store, with the name it was given under."""

    sha256: str
    size: int
    media_type: str
    filename: str


def file_name(path: str | os.PathLike[str]) -> str:
    """The name a file is kept under: its own name, one line of visible text."""
    name = one_line(Path(path).name, "文件名", "the file name", width(Evidence.filename))
    if name in (".", ".."):
        raise BadInput(f"不是文件 / not a file: {path}")
    return name


def clean_note(note: str | None) -> str:
    """A note on the files, checked like every multi-line text officials type ("" for none)."""
    return many_lines(note, "说明", "the note") if note else ""


def store_files(files: EvidenceFiles | Store, paths: Sequence[str | os.PathLike[str]]) -> list[StoredFile]:
    """Check every file of ``paths``, then store them all in ``files`` (or the evidence store of
    the database ``Store``): one refused file (``BadInput``, exit 2: missing, empty, too large, a
    kind not accepted) stores none of them. Call it before the transaction that ``attach``es them."""
    if isinstance(files, Store):
        files = files.evidence_files
    if not paths:
        raise BadInput("请给出至少一个文件 / give at least one file")
    files.root  # noqa: B018 -- a store with no folder configured says so before any file is read
    names = [file_name(p) for p in paths]
    for path, name in zip(paths, names, strict=True):
        files.check(path, name)
    stored = []
    for path, name in zip(paths, names, strict=True):
        blob = files.add(path, name)
        stored.append(StoredFile(blob.sha256, blob.size, blob.media_type, name))
    return stored


def check_may_attach(session: Session, case: Case, actor: Actor, fact: str | None = None,
                     problem: Problem | int | None = None) -> Problem | None:
    """Refuse what setting the fact would refuse (the actor's jurisdiction; a fact the workflow
    lacks, or one only the system records); returns the problem of the case's list named by
    its number (or given), checked to be the case's."""
    if fact is not None:
        wf = compiled_version(case.workflow_version).definition
        if fact not in wf.facts:
            known = "; ".join(f"{k}（{f.label}）" for k, f in wf.facts.items())
            raise NotFound("fact 事实", fact, f"facts of this workflow: {known}")
        if wf.facts[fact].system_only:
            raise PermissionDenied(f"“{wf.facts[fact].label}”由系统自动登记，不能附加证据 / '{fact}' is recorded by the "
                                   "system, so no evidence can be attached to it by hand")
    if not actor.is_system and actor.jurisdiction is not None and not is_within(case.organization,
                                                                                 actor.jurisdiction):
        raise PermissionDenied(f"{actor.name} 的管辖范围是“{actor.jurisdiction.name}”，不包括“{case.organization.name}”"
                               f" / {case.organization.name} is outside {actor.name}'s jurisdiction "
                               f"({actor.jurisdiction.name})")
    if isinstance(problem, int):
        found = problem_of_case(session, case.id, problem)
        if found is None:
            raise NotFound("problem 问题", f"{case.ref} #{problem}", "list the case's problems with "
                                                                   f"'rectify problem list {case.ref}'")
        return found
    if problem is not None and problem.case_id != case.id:
        raise BadInput(f"问题 #{problem.number} 不属于整顿对象 {case.ref} / problem #{problem.number} is not one of "
                       f"case {case.ref}'s")
    return problem


def attach(session: Session, stored: Sequence[StoredFile], *, case: Case | None = None, fact: str | None = None,
           problem: Problem | int | None = None, duty_action_id: int | None = None, actor: Actor | str,
           now: datetime, note: str | None = None) -> list[Evidence]:
    """Write the rows of ``stored`` files (from ``store_files``) inside the caller's transaction:
    on a case (to one of its facts, or a problem of its list, or the case itself), each with
    an "evidence" event in the case's chain; or on a duty submission (``duty_action_id``, whose
    own chain holds the files' hashes). Permissions are checked here for a case."""
    if (case is None) == (duty_action_id is None):
        raise ValueError("attach evidence to a case or to a duty submission, not both or neither")
    if case is None and (fact is not None or problem is not None):
        raise ValueError("a fact or a problem belongs to a case")
    note = clean_note(note)
    found = None
    if case is not None:
        if not isinstance(actor, Actor):
            raise TypeError("evidence on a case is attached by an Actor (its jurisdiction is checked)")
        found = check_may_attach(session, case, actor, fact, problem)
    by = actor if isinstance(actor, str) else actor.name
    rows = []
    for item in stored:
        row = Evidence(sha256=item.sha256, size=item.size, media_type=item.media_type, filename=item.filename,
                       case_id=case.id if case else None, fact=fact, problem_id=found.id if found else None,
                       duty_action_id=duty_action_id, note=note, added_at=now, added_by=by)
        session.add(row)
        session.flush()  # its id goes into the event
        if case is not None:
            assert isinstance(actor, Actor)
            record_event(session, case, actor, now, EVENT, note=note or None, data=event_data(
                row, found.number if found else None))
        rows.append(row)
    return rows


def event_data(row: Evidence, problem_number: int | None) -> dict[str, Any]:
    """What a case's "evidence" event records of a file: ``audit verify`` holds the row to it."""
    return {"evidence": row.id, "sha256": row.sha256, "size": row.size, "name": row.filename,
            "media_type": row.media_type, "fact": row.fact, "problem": problem_number}


def attached_to(fact: str | None, problem_number: int | None, fact_labels: dict[str, str] | None = None) -> str:
    """What a file is attached to, in words: a fact (with its label), a problem, or the case."""
    if fact is not None:
        label = (fact_labels or {}).get(fact)
        return f"事实 fact {fact}" + (f"（{label}）" if label else "")
    if problem_number is not None:
        return f"问题 problem #{problem_number}"
    return "整顿对象 case"


# --- the 档案 package ---------------------------------------------------------------------

DUTY_FOLDER = "乡镇报送"
NO_TOWNSHIP = "县直"  # a case of an organization directly under the county


@dataclass(frozen=True)
class PackedFile:
    """One file of the ledger's 档案 package: the folder it goes in (township, then case; or
    乡镇报送, then the unit), its name, and what the manifest says of it."""

    folder: tuple[str, ...]
    name: str
    sha256: str
    size: int
    case: str  # "2014-1-0001 城关镇第1村党支部", or "" for a duty submission's
    attached_to: str
    added_by: str
    added_at: datetime


def package_files(session: Session, campaign: Campaign) -> Generator[PackedFile, None, None]:
    """The campaign's evidence in the ledger's order, then its duty submissions' files by unit,
    streamed from the caller's snapshot; ``close()`` it in that snapshot if it is not read to
    its end."""
    labels = {k: f.label for k, f in compiled_version(campaign.current_version).definition.facts.items()}
    # closed even when the consumer stops early (a damaged file): a server-side cursor must not linger
    with closing(package_case_rows(session, campaign.id)) as cases:
        for row, ref, org, township, number in cases:
            case = f"{ref} {org}"
            yield PackedFile((township or NO_TOWNSHIP, case), row.filename, row.sha256, row.size, case,
                             attached_to(row.fact, number, labels), row.added_by, row.added_at)
    with closing(package_duty_rows(session, campaign.id)) as duties:
        for row, unit, duty, occurrence in duties:
            yield PackedFile((DUTY_FOLDER, unit), row.filename, row.sha256, row.size, "",
                             f"乡镇报送 duty {duty} 第 {occurrence} 次 #{occurrence}", row.added_by, row.added_at)
