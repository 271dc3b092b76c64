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
    say,
    shown,
    table,
)
from commands.valid_values import Group
from engine.base.errors import BadInput, CheckFailed
from engine.services import records


@click.group("spot-check", cls=Group)
def spot_check() -> None:
    """县委组织部抽查 / The county's random spot check.

    公告在先、可复现、任何人可核验的抽签。

    A draw announced beforehand, reproducible and verifiable by anyone."""


@spot_check.command("announce")
@click.option("--seed-hash", metavar="SHA256", help="种子由县委组织部自行保管，只给出其 SHA-256 / keep the seed "
              "yourself and give only its SHA-256 (printf %s SEED | sha256sum); by default rectify chooses the "
              "seed now and keeps it.")
@CAMPAIGN
@pass_settings
def spot_check_announce(settings: Settings, seed_hash: str | None, campaign_ref: str | None) -> None:
    """发布抽查公告 / Announce the next spot-check draw.

    抽签种子现在确定，公布其 SHA-256 值，此后才抽签，谁也无法事先知道会抽中谁。

    Its seed is fixed now and its SHA-256 published, before anyone sees whom it would draw."""
    done = shown(records.announce_spot_check(settings.store, settings.caller, seed_hash, campaign_ref))
    say(f"抽查公告 #{done.id}（{done.at}）：抽签种子的 SHA-256 值为 {done.commitment}，请随公告一并公布 / "
        f"announcement #{done.id}: publish the seed's SHA-256 {done.commitment} with it")
    say("  种子由 rectify 保管，抽签时自动使用 / rectify keeps the seed and uses it at the draw" if done.chosen_here
        else "  种子由县委组织部保管，抽签时用 --seed 给出 / give the seed with --seed at the draw")


@spot_check.command("draw")
@click.option("--seed", help="公告时自行保管的种子 / the announced seed, if the county kept it ('announce --seed-hash').")
@CAMPAIGN
@AS_JSON
@pass_settings
def spot_check_draw(settings: Settings, seed: str | None, campaign_ref: str | None, as_json: bool) -> None:
    """抽查抽签 / Draw the spot-check sample.

    在等待抽查的整顿对象中按比例抽签；未抽中的进入群众满意度测评。

    Draws the sample among the cases waiting for the spot check; the others move on to the survey."""
    drawn = shown(records.draw_spot_check(settings.store, settings.caller, seed, campaign_ref))
    if as_json:
        emit_json({"draw": drawn.draw, "seed": drawn.seed, "method": drawn.method, "rate": drawn.rate,
                   "include_key_targets": drawn.include_key_targets, "population": drawn.population,
                   "selected": drawn.selected, "moved_on": drawn.moved_on})
        return
    say(f"抽查抽签 #{drawn.draw}：在 {drawn.population} 个等待抽查的整顿对象中按 {drawn.rate:.0%} 抽取"
               f"{'（重点整顿对象必查）' if drawn.include_key_targets else ''}，抽中 {len(drawn.selected)} 个")
    say(f"  抽中 / drawn: {'、'.join(drawn.selected)}")
    say(f"  未抽中，进入测评 / moved on: {'、'.join(drawn.moved_on) or '—'}")
    say(f"  公布种子 / published seed: {drawn.seed}  方法 method: {drawn.method}  "
               f"(rectify spot-check verify {drawn.draw})")


@spot_check.command("verify")
@click.argument("draw_id", type=ROW_ID)
@pass_settings
def spot_check_verify(settings: Settings, draw_id: int) -> None:
    """核验抽签 / Verify a spot-check draw.

    按记录（总体、种子、比例）重算第 DRAW_ID 次抽签并比对，任何人都可核验。

    Recomputes draw DRAW_ID from its record (population, seed, rate) and compares; anyone may."""
    check = shown(records.verify_spot_check(settings.store, settings.caller, draw_id))
    if check.committed is False:
        raise CheckFailed(f"抽签 #{draw_id} 的种子与事先公告的不符 / draw #{draw_id} does NOT verify: its seed is not "
                          "the one announced before it")
    if not check.ok:
        raise CheckFailed(f"抽签 #{draw_id} 核验不一致 / draw #{draw_id} does NOT verify: recorded {check.recorded}, "
                          f"recomputed {check.recomputed}")
    announced = ("，种子与事先公告的一致 / its seed is the one announced before it" if check.committed
                 else "（此次抽签无事先公告 / no announcement before this draw）")
    say(f"抽签 #{draw_id} 核验一致 / draw #{draw_id} verifies: seed {check.seed}, "
        f"{check.population} cases, selected {'、'.join(check.recorded)}{announced}")


@spot_check.command("list")
@pass_settings
def spot_check_list(settings: Settings) -> None:
    """列出抽查抽签 / List the spot-check draws."""
    draws = shown(records.spot_check_draws(settings.store, settings.caller))
    console().print(table("抽查抽签 / spot-check draws", ["#", "时间", "操作人", "种子", "总数", "抽中"],
                          [[d["id"], d["at"], d["actor"], d["seed"], d["population"], "、".join(d["selected"])]
                           for d in draws]))


@click.group(cls=Group)
def audit() -> None:
    """防篡改审计日志 / The tamper-evident audit log.

    核验哈希链、写出检查点、导出整顿对象的审计记录、列出被拒绝的操作。

    Verify the hash chains, write a checkpoint, export a case's trail, list refusals."""


@audit.command("verify")
@click.option("--case", "case_ref", metavar="REF", help="只核验此整顿对象的链 / only this case's chain (and its anchors).")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(dir_okay=False, exists=True),
              help="此前 'rectify audit checkpoint' 写出的检查点 / a checkpoint written earlier by 'rectify audit "
                   "checkpoint': it must still give its own digest, and every head it holds must still be in its chain.")
@pass_settings
def audit_verify(settings: Settings, case_ref: str | None, checkpoint_file: str | None) -> None:
    """核验审计日志 / Verify the audit log.

    重算事件、锚点和拒绝记录的每个哈希与链接，并按事件重演每个整顿对象的状态、轮次和事实；指出被改动、删除、插入或调换的每一处（退出码 1）。

    Recomputes every hash and link of the events, the campaigns' anchors and the refusals,
    and replays each case's events against its state, round and facts; names every place
    that was altered, deleted, inserted or reordered behind the project's back (exit 1)."""
    document = _read_checkpoint(checkpoint_file) if checkpoint_file else None
    result = shown(records.verify_audit(settings.store, settings.caller, case_ref, document,
                                        checkpoint_file or "checkpoint", settings.evidence))
    counted = (f"{result.cases} 个整顿对象 cases, {result.events} 条事件 events, {result.anchors} 个锚点 anchors"
               + ("" if case_ref else f", {result.refusals} 条拒绝记录 refusals, {result.filings} 条报送记录 filings")
               + f", {result.evidence_files} 个证据文件 evidence files")
    if not result.ok:
        more = result.problem_count - len(result.problems)
        raise CheckFailed(f"审计日志核验失败 / the audit log does NOT verify ({counted} checked); "
                          f"{result.problem_count} 处问题 problem(s):\n"
                          + "\n".join(f"  {p}" for p in result.problems)
                          + (f"\n  …另有 {more} 处 / {more} more" if more else ""))
    click.echo(f"审计日志核验一致 / the audit log verifies: {counted}")
    if checkpoint_file:
        click.echo(f"与检查点一致 / matches the checkpoint {checkpoint_file}, 摘要 digest {result.checkpoint_digest} "
                   "(compare it with the digest that was published)")


def _read_checkpoint(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: 不是有效的检查点文件 / not a checkpoint written by 'rectify audit checkpoint': "
                       f"{exc}") from exc


@audit.command("checkpoint")
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="写入的文件（默认标准输出）/ file to write (default: standard output).")
@pass_settings
def audit_checkpoint(settings: Settings, output: str | None) -> None:
    """写出审计检查点 / Write an audit checkpoint.

    记下每条链（各整顿对象、各专项整治的锚点、拒绝记录）的链头及检查点摘要：文件存于数据库之外，摘要公布（如印在通报上）；日后用 'audit verify --checkpoint' 证明此前的记录未被改写。

    The head of every chain (each case's, each campaign's anchors, the refusals), with the
    checkpoint's own digest: keep the file outside the database and publish the digest
    (print it in the bulletin); 'audit verify --checkpoint' later proves nothing before it
    was rewritten."""
    data = shown(records.audit_checkpoint(settings.store, settings.caller))
    emit_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", output,
              f"已写入检查点 / checkpoint written: {output}（{data['cases']} cases）")
    say(f"检查点摘要 / checkpoint digest: {data['digest']}", err=output is None)


@audit.command("export")
@click.argument("ref")
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="写入的文件（默认标准输出）/ file to write (default: standard output).")
@pass_settings
def audit_export(settings: Settings, ref: str, output: str | None) -> None:
    """导出整顿对象的审计记录 / Export a case's audit trail as JSON.

    整顿对象 REF 的每个事件：谁、何时、做了什么、为什么，以及哈希链接。

    Every event of case REF with who, when, what and why, and its hash links."""
    data = shown(records.audit_trail(settings.store, settings.caller, ref))
    emit_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", output,
              f"已导出 / exported {len(data['events'])} events of {data['case']}: {output}")


@audit.command("refusals")
@click.option("--limit", default=50, show_default=True, type=ROW_ID, help="最多列出行数 / at most this many rows.")
@AS_JSON
@pass_settings
def audit_refusals(settings: Settings, limit: int, as_json: bool) -> None:
    """被拒绝的操作 / Refused attempts, newest first.

    谁试图做什么、为何被拒绝（管理员查看）。

    Who tried what, and why it was refused (for administrators)."""
    rows = shown(records.refusals(settings.store, settings.caller, limit))
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"被拒绝的操作 / refused attempts ({len(rows)})", ["#", "时间", "登录名", "官员", "命令", "原因"],
                          [[r["id"], r["at"], r["login"], r["actor"], r["command"], r["reason"]] for r in rows]))
