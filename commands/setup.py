"""Setting a database up, who you are, and the demo."""

from __future__ import annotations

from pathlib import Path

import click

from cli import Settings, pass_settings, say, shown
from commands.valid_values import Command


@click.command(cls=Command)
@click.option("--group", metavar="GROUP", help="与此操作系统用户组共用 SQLite 数据库 / share a SQLite database with "
              "this OS group: the file, its -wal/-shm files and its folder are given to the group, the folder "
              "made setgid.")
@pass_settings
def init(settings: Settings, group: str | None) -> None:
    """创建或升级数据库 / Create the database, or upgrade its schema.

    新建的 SQLite 文件只有所有者和同组用户可读写（0660）；官员们通过该用户组共用它，'--group GROUP' 为此设置文件和目录。

    Creates the database, or upgrades its schema to this version of rectify. A new SQLite
    file is readable and writable by its owner and group only (0660). Officials share it
    through that group: '--group GROUP' sets the file and its folder up for it, and init
    says what would lock the other members out."""
    from engine.base.errors import BadInput, ReadOnlyDatabase
    from engine.services.admin import may_upgrade
    from engine.store.db import create_private_sqlite_file, sqlite_path
    from engine.store.migrate import upgrade
    from engine.store.sqlite_files import is_shared, share_with_group, sharing_problems

    store = settings.raw_store
    create_private_sqlite_file(store.url)
    path = sqlite_path(store.url)
    if store.is_initialised():
        shown(may_upgrade(store, settings.caller))
    if store.read_only:
        raise ReadOnlyDatabase(f"{store.read_only}：无法创建或升级 / it cannot be created or upgraded")
    before, after = upgrade(store)
    if group is not None:
        if path is None:
            raise BadInput("--group 只用于 SQLite 数据库文件 / --group is for a SQLite database file")
        try:
            share_with_group(path, group)
        except (LookupError, OSError) as exc:
            raise BadInput(f"无法把数据库交给组 {group} / cannot share the database with the group {group}: {exc}") from exc
    if path is not None and (group is not None or is_shared(path)):
        for problem in sharing_problems(path):
            say(f"提醒 warning: {problem}", err=True)
    if before == after:
        say(f"数据库已是最新 / database is up to date ({after}): {store.shown}")
    else:
        done = "创建" if before is None else "升级"
        say(f"数据库已{done} / database {'created' if before is None else 'upgraded'} "
                   f"({before or '-'} → {after}): {store.shown}")


@click.command(cls=Command)
@pass_settings
def whoami(settings: Settings) -> None:
    """我是谁 / Who you act as.

    你的登录名、对应的官员、是否管理员。

    Your login, the official it maps to, and whether you are an administrator."""
    from engine.services.admin import whoami as identify

    me = shown(identify(settings.store, settings.caller))
    say(f"登录名 login: {me.login}\n官员 official: {me.official or '—'}\n"
               f"管理员 administrator: {'是 yes' if me.admin else '否 no'}"
               + ("（引导模式：所有登录名均视为管理员 / bootstrap mode: everyone is trusted as one）"
                  if me.bootstrap else ""))


@click.command(cls=Command)
@click.option("--dir", "folder", default="rectify-demo", show_default=True, type=click.Path(file_okay=False),
              help="演示数据库所在目录（已有则替换）/ folder for the demo database (replaced if it exists).")
@click.option("--seed", default=2014, show_default=True, help="生成县的随机种子 / random seed of the generated county.")
def demo(folder: str, seed: int) -> None:
    """演示 / Run the demo.

    生成一个县，在模拟时钟上把专项整治从头到尾办一遍，并输出经过。

    Generates a county, runs its campaign end to end on a simulated clock, and prints what
    happened."""
    from engine.services.demo import run_demo

    summary = run_demo(Path(folder), seed, progress=lambda msg: say(msg))
    say(summary)
