"""``rectify serve``: the web workspace and JSON API, run by uvicorn on this database."""

from __future__ import annotations

import os

import click

from cli import Settings, pass_settings, say
from commands.valid_values import Command


def _default_workers(url: str) -> int:
    """Several workers on PostgreSQL (one per core, at least 2); two on SQLite, whose writers
    take turns anyway and whose readers do not need more."""
    if url.startswith("postgresql"):
        return max(2, os.cpu_count() or 2)
    return 2


@click.command(cls=Command)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="监听地址；对外服务请放在反向代理（TLS）之后 / address to listen on; put a TLS reverse proxy in "
                   "front for anything but this machine.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="端口 / port.")
@click.option("--workers", type=click.IntRange(1, 64),
              help="工作进程数 / worker processes (default: 2 on SQLite, one per core on PostgreSQL).")
@click.option("--base-url", envvar="RECTIFY_BASE_URL", metavar="URL",
              help="官员访问本服务的地址，用于邀请链接；https 时 Cookie 加 Secure / where officials reach the "
                   "service (invitation links); https makes cookies Secure (env RECTIFY_BASE_URL).")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True, metavar="IPS",
              help="信任其 X-Forwarded-* 头的反向代理地址 / proxies whose X-Forwarded-* headers are trusted.")
@pass_settings
def serve(settings: Settings, host: str, port: int, workers: int | None, base_url: str | None,
          forwarded_allow_ips: str) -> None:
    """网页工作平台和接口 / Run the web workspace and the JSON API.

    官员用浏览器或手机登录办理（账号由管理员用 'rectify official invite' 邀请）；接口说明见 /api/v1/openapi.json。
    全局的 --now 给整个服务一个模拟时钟（演示、培训用）。

    Officials log in from a browser or a phone (an administrator invites them with
    'rectify official invite'); the API is described at /api/v1/openapi.json. The global
    --now gives the whole service a simulated clock (for the demo and training)."""
    import uvicorn

    from web.config import ServeConfig

    store = settings.store  # an initialised database, or a clear error before anything starts
    url = store.url
    config = ServeConfig(db=url, evidence_dir=settings.evidence_dir,
                         base_url=base_url or f"http://{host}:{port}", now_text=settings.now_text)
    _prepare(config)
    os.environ.update(config.environment())
    count = workers or _default_workers(url)
    say(f"rectify 工作平台：{config.base_url}/ （数据库 {store.shown}，{count} 个工作进程；Ctrl-C 停止）"
        f" / rectify workspace at {config.base_url}/ ({count} workers; Ctrl-C stops)")
    if config.now_text:
        say(f"模拟时钟 / simulated clock: {config.now_text}")
    settings.close()
    from web.server import NoDelayH11Protocol

    uvicorn.run("web.app:app_from_environment", factory=True, host=host, port=port, workers=count,
                http=NoDelayH11Protocol,
                proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips, server_header=False,
                log_level="info", access_log=False)


def _prepare(config) -> None:
    """Build the application once in this process: a schema older than this rectify, a bad
    setting or an unreadable database stops here with its message, not in every worker."""
    from engine.base.errors import DatabaseError
    from engine.store.db import Store, database_url
    from engine.store.migrate import current_revision, head_revision
    from web.app import create_app

    store = Store(database_url(config.db), evidence_dir=config.evidence_dir)
    try:
        if current_revision(store) != head_revision():
            raise DatabaseError(f"数据库 {store.shown} 的结构旧于本版 rectify：请先以服务账户运行 'rectify init' 升级 / the "
                                f"database {store.shown} has an older schema than this rectify: upgrade it first with "
                                "'rectify init' (as the service account)")
        create_app(config, store)
    finally:
        store.dispose()
