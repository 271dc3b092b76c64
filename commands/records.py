"""The record: the spot-check draws and the tamper-evident audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cli import (
    AS_JSON,
    CAMPAIGN,
    ROW_ID,
    Settings,
    console,
    emit_json,
    emit_text,
    pass_settings,
    shown,
    table,
)
from engine.base.errors import BadInput, CheckFailed
from engine.services import records


@click.group("spot-check")
def spot_check() -> None:
    """The county's random spot check (县委组织部抽查): a reproducible, verifiable draw."""


@spot_check.command("draw")
@click.option("--seed", help="Published seed value (default: a fresh random one, printed).")
@CAMPAIGN
@AS_JSON
@pass_settings
def spot_check_draw(settings: Settings, seed: str | None, campaign_ref: str | None, as_json: bool) -> None:
    """Draw the sample among cases waiting for the spot check; the others move on to the survey."""
    drawn = shown(records.draw_spot_check(settings.store, settings.caller, seed, campaign_ref))
    if as_json:
        emit_json({"draw": drawn.draw, "seed": drawn.seed, "method": drawn.method, "rate": drawn.rate,
                   "include_key_targets": drawn.include_key_targets, "population": drawn.population,
                   "selected": drawn.selected, "moved_on": drawn.moved_on})
        return
    click.echo(f"抽查抽签 #{drawn.draw}：在 {drawn.population} 个等待抽查的整顿对象中按 {drawn.rate:.0%} 抽取"
               f"{'（重点整顿对象必查）' if drawn.include_key_targets else ''}，抽中 {len(drawn.selected)} 个")
    click.echo(f"  抽中 / drawn: {'、'.join(drawn.selected)}")
    click.echo(f"  未抽中，进入测评 / moved on: {'、'.join(drawn.moved_on) or '—'}")
    click.echo(f"  公布种子 / published seed: {drawn.seed}  方法 method: {drawn.method}  "
               f"(rectify spot-check verify {drawn.draw})")


@spot_check.command("verify")
@click.argument("draw_id", type=ROW_ID)
@pass_settings
def spot_check_verify(settings: Settings, draw_id: int) -> None:
    """Recompute draw DRAW_ID from its record (population, seed, rate) and compare."""
    check = shown(records.verify_spot_check(settings.store, settings.caller, draw_id))
    if not check.ok:
        raise CheckFailed(f"抽签 #{draw_id} 核验不一致 / draw #{draw_id} does NOT verify: recorded {check.recorded}, "
                          f"recomputed {check.recomputed}")
    click.echo(f"抽签 #{draw_id} 核验一致 / draw #{draw_id} verifies: seed {check.seed}, "
               f"{check.population} cases, selected {'、'.join(check.recorded)}")


@spot_check.command("list")
@pass_settings
def spot_check_list(settings: Settings) -> None:
    """List the spot-check draws."""
    draws = shown(records.spot_check_draws(settings.store, settings.caller))
    console().print(table("抽查抽签 / spot-check draws", ["#", "时间", "操作人", "种子", "总数", "抽中"],
                          [[d["id"], d["at"], d["actor"], d["seed"], d["population"], "、".join(d["selected"])]
                           for d in draws]))


@click.group()
def audit() -> None:
    """The tamper-evident audit log: verify the hash chains, export a case's trail, list refusals."""


@audit.command("verify")
@click.option("--case", "case_ref", help="Only this case's chain.")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(dir_okay=False, exists=True),
              help="A checkpoint written earlier by 'rectify audit checkpoint': its heads must still be in the chains.")
@pass_settings
def audit_verify(settings: Settings, case_ref: str | None, checkpoint_file: str | None) -> None:
    """Recompute every event's hash and link; name the first event that was altered, deleted,
    inserted or reordered behind the project's back (exit 1)."""
    heads = _read_checkpoint(checkpoint_file) if checkpoint_file else None
    result = shown(records.verify_audit(settings.store, settings.caller, case_ref, heads))
    if not result.ok:
        raise CheckFailed(f"审计日志核验失败 / the audit log does NOT verify ({result.cases} cases, {result.events} "
                          f"events checked); first problem: {result.first_break}")
    click.echo(f"审计日志核验一致 / the audit log verifies: {result.cases} 个整顿对象 cases, {result.events} 条事件 events"
               + (f"，与检查点一致 / matches the checkpoint {checkpoint_file}" if checkpoint_file else ""))


def _read_checkpoint(path: str) -> dict[str, list[Any]]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        heads = data["heads"]
        if not isinstance(heads, dict) or not all(isinstance(v, list) and len(v) == 2 for v in heads.values()):
            raise ValueError("heads must map case references to [seq, hash]")
        return heads
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{path}: 不是有效的检查点文件 / not a checkpoint written by 'rectify audit checkpoint': "
                       f"{exc}") from exc


@audit.command("checkpoint")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="File to write (default: stdout).")
@pass_settings
def audit_checkpoint(settings: Settings, output: str | None) -> None:
    """The head of every case's chain, to keep outside the database (print it, archive it,
    publish its digest); 'audit verify --checkpoint' later proves nothing before it was rewritten."""
    data = shown(records.audit_checkpoint(settings.store, settings.caller))
    emit_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", output,
              f"已写入检查点 / checkpoint written: {output}（{data['cases']} cases, digest {data['digest'][:16]}…）")


@audit.command("export")
@click.argument("ref")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="File to write (default: stdout).")
@pass_settings
def audit_export(settings: Settings, ref: str, output: str | None) -> None:
    """A case's full trail as JSON: every event with who, when, what and why, and its hash links."""
    data = shown(records.audit_trail(settings.store, settings.caller, ref))
    emit_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", output,
              f"已导出 / exported {len(data['events'])} events of {data['case']}: {output}")


@audit.command("refusals")
@click.option("--limit", default=50, show_default=True, type=ROW_ID)
@AS_JSON
@pass_settings
def audit_refusals(settings: Settings, limit: int, as_json: bool) -> None:
    """Refused attempts, newest first: who tried what, and why it was refused."""
    rows = shown(records.refusals(settings.store, settings.caller, limit))
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"被拒绝的操作 / refused attempts ({len(rows)})", ["#", "时间", "登录名", "官员", "命令", "原因"],
                          [[r["id"], r["at"], r["login"], r["actor"], r["command"], r["reason"]] for r in rows]))
