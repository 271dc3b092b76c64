"""Evidence (证据): the files behind a case's facts and problems — add, list and get them."""

from __future__ import annotations

import click

from cli import AS_JSON, ROW_ID, Settings, console, emit_json, pass_settings, say, shown, table
from commands.valid_values import Group, complete_facts
from engine.base.errors import BadInput
from engine.services import evidence as services


@click.group(cls=Group)
def evidence() -> None:
    """证据文件：添加、列出、取回 / Evidence files: add, list, get.

    整改方案及其公示、自查报告、检查意见、测评表、会议记录等文件，按 SHA-256 存放在证据文件夹（SQLite 数据库旁的 <db>.evidence，或 --evidence-dir），其哈希记入整顿对象的审计链，'rectify audit verify' 会发现被替换或缺失的文件。

    The plan and its publication, self-check reports, check opinions, survey sheets,
    minutes: stored by SHA-256 in the evidence folder (beside the SQLite file, <db>.evidence,
    or --evidence-dir), their hashes chained into the case's audit log, so 'rectify audit
    verify' finds a replaced or missing file."""


@evidence.command("add", valid={"--fact": "facts"})
@click.argument("ref")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--fact", metavar="NAME", shell_complete=complete_facts,
              help="附于此事实 / attach to this fact of the case (see below).")
@click.option("--problem", type=ROW_ID, metavar="N", help="附于问题清单第 N 项 / attach to problem N of the case's list.")
@click.option("--note", help="说明 / a note on the files.")
@pass_settings
def evidence_add(settings: Settings, ref: str, files: tuple[str, ...], fact: str | None, problem: int | None,
                 note: str | None) -> None:
    """为整顿对象添加证据文件 / Attach files to a case.

    把文件 FILE… 附于整顿对象 REF（或其事实、问题）。只接受 PDF、PNG、JPEG、GIF、WebP、Word/Excel/PowerPoint（docx/xlsx/pptx、doc/xls/ppt）和 OFD，按内容判断，不看扩展名；每个文件不超过 20 MiB（RECTIFY_EVIDENCE_MAX_MB 可改）。有一个文件不合格，则一个也不保存。

    Attaches FILE… to case REF (or to its fact, or its problem). Only PDF, PNG, JPEG, GIF,
    WebP, Word/Excel/PowerPoint (docx/xlsx/pptx, doc/xls/ppt) and OFD, judged by content, not
    by extension; at most 20 MiB each (RECTIFY_EVIDENCE_MAX_MB sets it). One refused file
    stores none of them."""
    if fact is not None and problem is not None:
        raise BadInput("--fact 与 --problem 只能给出一个 / give --fact or --problem, not both")
    added = shown(services.add(settings.store, settings.caller, settings.evidence, ref, files, fact=fact,
                               problem=problem, note=note))
    for a in added:
        say(f"{a.ref} 证据 evidence #{a.id}: {a.name}（{human_size(a.size)}，sha256 {a.sha256[:12]}…）→ {a.attached_to}")


@evidence.command("list")
@click.argument("ref")
@AS_JSON
@pass_settings
def evidence_list(settings: Settings, ref: str, as_json: bool) -> None:
    """列出整顿对象的证据文件 / List the files of a case.

    编号、所附对象、文件名、类型、大小、SHA-256（前 12 位）、添加人和时间。

    Number, what it is attached to, name, type, size, SHA-256 (first 12 digits), who added
    it and when."""
    rows = shown(services.list_evidence(settings.store, settings.caller, ref))
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"证据文件 / evidence of {ref}", ["#", "附于 attached to", "文件名 name", "类型 type",
                                                         "大小 size", "sha256", "添加人 by", "时间 at"],
                          [[r["id"], r["attached_to"], r["name"], r["type"], human_size(r["size"]), r["sha256"][:12],
                            r["added_by"], r["added_at"]] for r in rows]))


@evidence.command("get")
@click.argument("ref")
@click.argument("which", metavar="ID|NAME")
@click.option("--output", "-o", type=click.Path(), metavar="PATH",
              help="写入的文件或文件夹 / file or folder to write to (default: the file's own name, here).")
@click.option("--force", is_flag=True, help="覆盖已有文件 / overwrite an existing file.")
@pass_settings
def evidence_get(settings: Settings, ref: str, which: str, output: str | None, force: bool) -> None:
    """取回证据文件 / Get a file back.

    把整顿对象 REF 的证据 ID（'evidence list' 所列编号，或文件名：同名取最新的）写出；先核对其 SHA-256，文件缺失或被替换时不写出任何内容（退出码 1）。

    Writes evidence ID of case REF (the number 'evidence list' shows, or its file name: the
    newest of that name), after checking its SHA-256: a missing or replaced file writes
    nothing (exit 1)."""
    got = shown(services.get(settings.store, settings.caller, settings.evidence, ref, which, output, force))
    say(f"已写出 / written: {got.path}（{got.name}，{human_size(got.size)}，sha256 {got.sha256} 已核对 verified）")


def human_size(size: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
