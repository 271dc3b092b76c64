"""Services on evidence: attach files to a case, list them, get one back, pack the 档案.

Attaching takes three steps so that neither a refusal nor a crash leaves a half-done job: who
may attach is checked first (a refusal is recorded and nothing is stored), then the files are
checked and stored (``engine.ops.evidence.store_files``: a refused kind stores nothing), then one
transaction writes their rows and chains their hashes into the case's events. Reading is for
whoever may read the case; a file is written out only after it hashed to its record.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.base.clock import fmt
from engine.base.errors import BadInput, NotFound
from engine.ops import evidence as ops
from engine.ops.cases import get_case
from engine.ops.deploy import compiled_version, resolve_campaign
from engine.ops.ledger import build_ledger
from engine.reports.ledger_files import Packed, write_package
from engine.services import Access, Caller, Done, read, write
from engine.store.db import Store
from engine.store.evidence_files import EvidenceFiles, safe_file_name
from engine.store.evidence_queries import evidence_in_case, evidence_named, evidence_of_case
from engine.store.evidence_types import label


@dataclass(frozen=True)
class Added:
    id: int
    ref: str
    name: str
    media_type: str
    size: int
    sha256: str
    attached_to: str


@dataclass(frozen=True)
class Got:
    id: int
    ref: str
    name: str
    sha256: str
    size: int
    path: str


def add(store: Store, caller: Caller, files: EvidenceFiles, ref: str, paths: Sequence[str | os.PathLike[str]], *,
        fact: str | None = None, problem: int | None = None, note: str | None = None) -> Done[list[Added]]:
    """Attach the files at ``paths`` to case ``ref`` (to its fact ``fact``, or its problem number
    ``problem``, or the case itself)."""
    ops.clean_note(note)
    files.root  # noqa: B018 -- a store with no folder configured says so before anything is read

    def may(access: Access) -> None:
        case = get_case(access.session, ref)
        ops.check_may_attach(access.session, case, access.actor(), fact, problem)
    read(store, caller, may)
    stored = ops.store_files(files, paths)

    def work(access: Access) -> list[Added]:
        case = get_case(access.session, ref)
        rows = ops.attach(access.session, stored, case=case, fact=fact, problem=problem, actor=access.actor(),
                          now=access.now(case), note=note)
        labels = _fact_labels(case)
        return [Added(r.id, case.ref, r.filename, r.media_type, r.size, r.sha256, ops.attached_to(fact, problem, labels))
                for r in rows]
    return write(store, caller, work)


def list_evidence(store: Store, caller: Caller, ref: str) -> Done[list[dict[str, Any]]]:
    """The files of a case inside the caller's jurisdiction, oldest first."""
    def work(access: Access) -> list[dict[str, Any]]:
        case = access.require_case(get_case(access.session, ref))
        labels, zone = _fact_labels(case), compiled_version(case.workflow_version).definition.timezone
        return [{"id": e.id, "case": case.ref, "attached_to": ops.attached_to(e.fact, number, labels), "fact": e.fact,
                 "problem": number, "name": e.filename, "media_type": e.media_type, "type": label(e.media_type),
                 "size": e.size, "sha256": e.sha256, "added_by": e.added_by, "added_at": fmt(e.added_at, zone),
                 "note": e.note}
                for e, number in evidence_of_case(access.session, case.id)]
    return read(store, caller, work)


def _locate(store: Store, caller: Caller, ref: str, which: int | str) -> Done[tuple[int, str, str, str, int, str]]:
    """Evidence ``which`` of case ``ref`` (its number, or the name it was added under: the newest
    of that name), for a caller who may read the case: (id, case, name, sha256, size, media type)."""
    def work(access: Access) -> tuple[int, str, str, str, int, str]:
        case = access.require_case(get_case(access.session, ref))
        by_number = isinstance(which, int) or (which.isascii() and which.isdigit())
        if not by_number:
            found = evidence_named(access.session, case.id, str(which))
        else:  # a number past what the column holds is simply not there (not a database error)
            found = evidence_in_case(access.session, case.id, int(which)) if 0 < int(which) < 2**63 else None
        if found is None:
            raise NotFound("evidence 证据", f"{case.ref} {'#' if by_number else ''}{which}",
                           f"list them with 'rectify evidence list {case.ref}'")
        return found.id, case.ref, found.filename, found.sha256, found.size, found.media_type
    return read(store, caller, work)


def get(store: Store, caller: Caller, files: EvidenceFiles, ref: str, which: int | str, output: str | None = None,
        force: bool = False) -> Done[Got]:
    """Write evidence ``which`` of case ``ref`` to ``output`` (a file, or a folder to put it in
    under its own name; by default its own name here), after its content hashed to its record:
    a missing or altered file writes nothing (``EvidenceFileError``, exit 1)."""
    done = _locate(store, caller, ref, which)
    evidence_id, case_ref, name, sha256, size, _ = done.value
    target = Path(output) if output else Path(safe_file_name(name))
    if target.is_dir():
        target = target / safe_file_name(name)
    if (target.exists() or target.is_symlink()) and not force:
        raise BadInput(f"{target} 已存在，未覆盖 / {target} already exists: give --force to overwrite it, or another "
                       "-o PATH")
    files.copy_to(sha256, name, target)
    return Done(Got(evidence_id, case_ref, name, sha256, size, str(target)), done.warnings)


@dataclass(frozen=True)
class Content:
    name: str
    media_type: str
    sha256: str
    data: bytes


def content(store: Store, caller: Caller, files: EvidenceFiles, ref: str, which: int | str) -> Done[Content]:
    """The bytes of evidence ``which`` of case ``ref``, verified against their hash (a missing or
    altered file is ``EvidenceFileError``, exit 1): what the web workspace serves."""
    done = _locate(store, caller, ref, which)
    _, _, name, sha256, _, media_type = done.value
    return Done(Content(name, media_type, sha256, files.read(sha256, name)), done.warnings)


def export_package(store: Store, caller: Caller, files: EvidenceFiles, path: Path, *, fmt_: str = "xlsx",
                   unit: str | None = None, reporter: str = "", campaign_ref: str | None = None) -> Done[Packed]:
    """The ledger's 档案 package at ``path``: the 汇总表, each case's files in its township's and
    its own folder, the duty submissions' files, and 清单.csv; every file verified as it is
    packed (a missing or altered one stops the export and leaves no zip)."""
    def work(access: Access) -> Packed:
        access.require_everything("台账档案", "the ledger's archive")
        campaign = resolve_campaign(access.session, campaign_ref)
        wf = compiled_version(campaign.current_version).definition
        book = build_ledger(access.session, campaign, unit or wf.issuer, reporter, access.now(campaign), wf.timezone)
        entries = ops.package_files(access.session, campaign)
        try:
            return write_package(path, book, fmt_, entries, files, wf.timezone)
        except OSError as exc:  # the folder cannot be written (a damaged stored file is EvidenceFileError)
            raise BadInput(f"无法写入 / cannot write {path}: {exc.strerror or exc}") from exc
        finally:
            entries.close()  # its query's cursor, while the snapshot is still open
    return read(store, caller, work)


def _fact_labels(case: Any) -> dict[str, str]:
    return {k: f.label for k, f in compiled_version(case.workflow_version).definition.facts.items()}
