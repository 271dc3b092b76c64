"""Web accounts (``rectify official invite|reset|disable|accounts``) and API tokens (``rectify token``).

The official commands join the ``official`` group of commands/people.py (``OFFICIAL_COMMANDS``);
``token`` is a group of its own.
"""

from __future__ import annotations

import os
from datetime import datetime

import click

from cli import AS_JSON, ROW_ID, Settings, console, emit_json, pass_settings, say, shown, table
from commands.valid_values import Command, Group
from engine.services import accounts

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
URL = click.option("--url", "base_url", metavar="BASE", default=None,
                   help="网页工作台的地址 / the web workspace's address (default: env RECTIFY_BASE_URL, else "
                        f"{DEFAULT_BASE_URL}).")
DAYS = click.option("--days", type=click.IntRange(1, 30), default=7, show_default=True,
                    help="邀请链接的有效天数 / days the invitation link stays valid (1 to 30).")


def _base(base_url: str | None) -> str:
    return base_url or os.environ.get("RECTIFY_BASE_URL") or DEFAULT_BASE_URL


def _when(moment: datetime) -> str:
    """A time the service gave in the campaign's zone, as the other listings show times."""
    return moment.strftime("%Y-%m-%d %H:%M")


def _print_invitation(invitation: accounts.Invitation, what: str) -> None:
    say(f"{what} {invitation.name}: {invitation.url}")
    say(f"有效至 / valid until {_when(invitation.expires)}（仅可使用一次 / one use only）: 请通过可靠渠道交给本人，"
        "本人打开链接设置密码 / hand it to them privately; they open it and set their password")


@click.command("invite", cls=Command)
@click.argument("name")
@URL
@DAYS
@pass_settings
def official_invite(settings: Settings, name: str, base_url: str | None, days: int) -> None:
    """邀请官员开通网页账户 / Invite an official to the web workspace.

    为官员 NAME 生成一次性邀请链接，本人打开后设置密码（管理员办理）；未使用的旧链接随之失效。

    Prints a one-time link for the official NAME, who opens it and sets a password (an
    administrator's act). An unaccepted earlier link stops working."""
    invitation = shown(accounts.invite(settings.store, settings.caller, name, _base(base_url), days))
    _print_invitation(invitation, "邀请链接 / invitation for")


@click.command("reset", cls=Command)
@click.argument("name")
@URL
@DAYS
@pass_settings
def official_reset(settings: Settings, name: str, base_url: str | None, days: int) -> None:
    """重设网页账户 / Reset an official's web account.

    清除 NAME 的密码，撤销其全部会话和令牌，并生成新的邀请链接（管理员办理）。

    Clears NAME's password, revokes every session and token of theirs at once, and prints a
    new invitation link (an administrator's act)."""
    invitation = shown(accounts.reset(settings.store, settings.caller, name, _base(base_url), days))
    say(f"已重设 / reset {invitation.name}: 密码已清除，全部会话和令牌已撤销 / password cleared, every session and "
        "token revoked")
    _print_invitation(invitation, "新的邀请链接 / new invitation for")


@click.command("disable", cls=Command)
@click.argument("name")
@pass_settings
def official_disable(settings: Settings, name: str) -> None:
    """停用网页账户 / Disable an official's web account.

    NAME 不能再登录网页工作台或使用令牌，其全部会话和令牌立即撤销（管理员办理）；'rectify official reset' 可重新开通。

    NAME can no longer log in to the web workspace or use a token: every session and token of
    theirs is revoked at once (an administrator's act). 'rectify official reset' opens it again."""
    shown(accounts.deactivate(settings.store, settings.caller, name))
    say(f"已停用网页账户 / web account disabled: {name}（全部会话和令牌已撤销 / every session and token revoked）")


@click.command("accounts", cls=Command)
@AS_JSON
@pass_settings
def official_accounts(settings: Settings, as_json: bool) -> None:
    """官员的网页账户 / The officials' web accounts.

    每名官员网页账户的状态（未开通、已邀请、已开通、已锁定、已停用）、期限、最近登录和有效令牌数（管理员查看）。

    Each official's web account: none, invited (until), active, locked (until), disabled;
    the last log-in and how many live tokens they hold (administrators)."""
    rows = shown(accounts.accounts(settings.store, settings.caller))
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"网页账户 / web accounts ({len(rows)})",
                          ["姓名", "角色", "管辖", "管理员", "网页账户", "期限", "最近登录", "令牌"],
                          [[r["name"], r["role"], r["jurisdiction"], "是" if r["admin"] else "", r["state_label"],
                            f"自 since {r['until']}" if r["state"] == "disabled" else r["until"], r["last_login"],
                            r["tokens"] or ""] for r in rows]))


OFFICIAL_COMMANDS = [official_invite, official_reset, official_disable, official_accounts]


@click.group(cls=Group)
def token() -> None:
    """API 令牌 / API tokens for the JSON API.

    供智慧党建平台或脚本调用接口（Authorization: Bearer 令牌）；令牌只显示一次，数据库只保存其 SHA-256。

    For a 智慧党建 platform or a script calling the JSON API (Authorization: Bearer TOKEN). A
    token is shown once; the database keeps only its SHA-256."""


STATES = {"active": "有效 active", "revoked": "已撤销 revoked", "expired": "已过期 expired"}
FOR = click.option("--for", "name", metavar="NAME",
                   help="他人的令牌（仅管理员）/ another official's tokens (administrators only).")


@token.command("issue")
@click.option("--label", default="", help="用途说明，如平台名称 / what it is for, e.g. the platform's name.")
@FOR
@pass_settings
def token_issue(settings: Settings, label: str, name: str | None) -> None:
    """签发 API 令牌 / Issue an API token.

    为本人（管理员可用 --for 为他人）签发令牌；标准输出只有令牌本身，且只显示这一次。

    Issues a token for yourself (an administrator: for NAME with --for). Standard output
    holds the token alone, shown this once; what it is goes to standard error."""
    token_id, raw = shown(accounts.issue_token(settings.store, settings.caller, label, name))
    say(f"已签发令牌 #{token_id} / token #{token_id} issued: 只显示这一次，请妥善保存；撤销：'rectify token revoke "
        f"{token_id}' / shown this once, keep it safe; revoke it with 'rectify token revoke {token_id}'", err=True)
    say(raw)


@token.command("list")
@FOR
@AS_JSON
@pass_settings
def token_list(settings: Settings, name: str | None, as_json: bool) -> None:
    """列出令牌 / List tokens.

    本人的令牌；管理员：全部的，或 --for 指定官员的。从不显示令牌本身。

    Your tokens; an administrator's: everyone's, or NAME's with --for. Never the tokens themselves."""
    rows = shown(accounts.list_tokens(settings.store, settings.caller, name))
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"令牌 / tokens ({len(rows)})",
                          ["编号", "官员", "类型", "标签", "状态", "签发", "签发人", "到期", "最近使用"],
                          [[r["id"], r["official"], r["kind"], r["label"], STATES.get(r["state"], r["state"]),
                            r["created_at"], r["created_by"], r["expires_at"] or "—", r["last_used_at"]]
                           for r in rows]))



@token.command("revoke")
@click.argument("token_id", type=ROW_ID, metavar="ID")
@pass_settings
def token_revoke(settings: Settings, token_id: int) -> None:
    """撤销令牌 / Revoke a token.

    撤销编号为 ID 的令牌（本人的；管理员可撤销任何人的），下一次请求起失效。

    Revokes token ID (your own; an administrator, anyone's): it stops working on its next request."""
    shown(accounts.revoke_token(settings.store, settings.caller, token_id))
    say(f"已撤销令牌 #{token_id} / token #{token_id} revoked")
