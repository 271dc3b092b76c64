"""What ``rectify audit verify`` checks of the evidence (``engine.ops.audit`` reports it).

Two things can go wrong behind the project's back. A file in the store can be replaced or
deleted: each stored file must still hash to the SHA-256 its rows record. A row can be edited
(its hash pointed at another file) or added or deleted: each case's evidence rows must match the
"evidence" events in the case's hash chain, one for one, and a duty submission's files must be
among the hashes its own chained record holds. Each problem names the case (or the unit), the
file's name and its hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.store.evidence_files import EvidenceFiles

EVENT = "evidence"  # the kind of the case event that chains a file's hash (engine.ops.evidence writes it)


@dataclass
class FilesChecked:
    """How many distinct stored files a verification hashed."""

    files: int = 0


def case_problems(events: Iterable[Any], rows: Iterable[Any]) -> list[str]:
    """A case's evidence rows (id, sha256, size, filename) against its "evidence" events."""
    recorded = {e.data.get("evidence"): e.data for e in events
                if e.kind == EVENT and isinstance(e.data, dict)}
    problems = []
    for row in rows:
        said = recorded.pop(row.id, None)
        if said is None:
            problems.append(f"证据 #{row.id}“{row.filename}”（sha256 {row.sha256}）在事件链中没有记录：是绕过本系统添加的 / "
                            f"evidence #{row.id} '{row.filename}' (sha256 {row.sha256}) is in no event of the case's "
                            "chain: it was added behind the project's back")
        elif (said.get("sha256"), said.get("size"), said.get("name")) != (row.sha256, row.size, row.filename):
            problems.append(f"证据 #{row.id}“{row.filename}”（sha256 {row.sha256}）与事件链中的记录（“{said.get('name')}”，"
                            f"sha256 {said.get('sha256')}）不符：记录被改动 / evidence #{row.id} '{row.filename}' "
                            f"(sha256 {row.sha256}) differs from what its event recorded ('{said.get('name')}', "
                            f"sha256 {said.get('sha256')}): the row was altered")
    for evidence_id, said in recorded.items():
        problems.append(f"事件链记有证据 #{evidence_id}“{said.get('name')}”（sha256 {said.get('sha256')}），但该记录已不存在 / "
                        f"the chain records evidence #{evidence_id} '{said.get('name')}' (sha256 {said.get('sha256')}), "
                        "whose row is gone")
    return problems


def file_problems(rows: Iterable[Any], files: EvidenceFiles, checked: FilesChecked) -> Iterator[tuple[str, str]]:
    """(where, problem) for each evidence row whose stored file is missing or altered, and each
    duty submission's file its record does not hold. ``rows`` come by hash (each file is hashed
    once): (id, sha256, filename, case ref, unit name, duty, the submission's files)."""
    current: str | None = None
    wrong: tuple[str, str] | None = None
    for row in rows:
        if row.sha256 != current:
            current, wrong = row.sha256, files.problem(row.sha256)
            checked.files += 1
        where = _where(row)
        if wrong is not None:
            yield where, (f"证据文件“{row.filename}”（sha256 {row.sha256}）{wrong[0]} / evidence file '{row.filename}' "
                          f"(sha256 {row.sha256}) {wrong[1]}")
        if row.unit is not None and row.sha256 not in _hashes(row.files):
            yield where, (f"证据文件“{row.filename}”（sha256 {row.sha256}）不在其报送记录所记的文件中：记录被改动 / "
                          f"evidence file '{row.filename}' (sha256 {row.sha256}) is not among the files its "
                          "submission recorded: a row was altered")


def _where(row: Any) -> str:
    if row.ref is not None:
        return row.ref
    if row.unit is not None:
        return f"乡镇报送 duty {row.duty}（{row.unit}）"
    return f"证据 evidence #{row.id}"


def _hashes(recorded: Any) -> set[str]:
    """The hashes a duty submission's ``files`` hold ([{"sha256": …}, …], as the lead's duty
    submissions write them)."""
    if not isinstance(recorded, list):
        return set()
    return {f["sha256"] for f in recorded if isinstance(f, dict) and isinstance(f.get("sha256"), str)}
