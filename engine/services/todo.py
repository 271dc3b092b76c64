"""我的待办: the service a front end (the web workspace's first page, the API) calls for what waits
for the caller, inside their jurisdiction, by deadline (``engine.ops.todo``).

A read like any other: one read-only snapshot, the policy of ``Access`` (a login that is no
official reads nothing; ``--as`` is an administrator's), and plain frozen data returned, which
a page renders after the snapshot is closed.
"""

from __future__ import annotations

from engine.base.clock import DEFAULT_TZ
from engine.base.errors import InvalidValue, PermissionDenied
from engine.ops import todo as todo_ops
from engine.ops.deploy import resolve_campaign
from engine.ops.officials import get_official
from engine.services import Access, Caller, Done, read
from engine.store.admin_queries import newest_campaign
from engine.store.db import Store
from engine.store.models import Official

Todo = todo_ops.Todo
TodoItem = todo_ops.TodoItem
TodoTrigger = todo_ops.TodoTrigger
MAX_LIMIT = 500  # a page, not an export: the ledger is the export

__all__ = ["MAX_LIMIT", "Todo", "TodoItem", "TodoTrigger", "my_todo"]


def my_todo(store: Store, caller: Caller, limit: int = 50, campaign_ref: str | None = None) -> Done[Todo]:
    """What waits for the caller's action in the newest campaign (or ``campaign_ref``): the cases
    whose state has a trigger their role may fire, with what still blocks it; the duties their role
    files that stand unfiled or returned; the open problems, if their role keeps problem lists.
    The first ``limit`` by deadline, overdue first, undated last."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidValue(f"待办条数须在 1 到 {MAX_LIMIT} 之间 / the number of items must be between 1 and "
                           f"{MAX_LIMIT} (got {limit})")

    def work(access: Access) -> Todo:
        official = _whose(access)
        session = access.session
        campaign = resolve_campaign(session, campaign_ref) if campaign_ref else newest_campaign(session)
        if campaign is None:
            access.warnings.append("尚未部署工作流，没有待办 / no workflow is deployed yet: nothing to do")
            return Todo([], False, {kind: 0 for kind in todo_ops.KINDS}, access.now(), DEFAULT_TZ)
        return todo_ops.todo_for(session, campaign, official.role, official.jurisdiction, access.now(campaign),
                                 limit)
    return read(store, caller, work)


def _whose(access: Access) -> Official:
    """The official whose work it is: the caller's own, or the one an administrator reads as.
    ``Access.scope`` decides first whether the caller may read at all (and as whom)."""
    access.scope()
    identity, as_name = access.identity, access.caller.as_name
    if as_name and not (identity.official is not None and identity.official.name == as_name):
        return get_official(access.session, as_name)
    if identity.official is None:  # bootstrap mode trusts the login, but a to-do list is an official's
        raise PermissionDenied(f"登录名“{identity.login}”没有对应的官员，没有待办 / login '{identity.login}' is no "
                               "official, so it has no to-do list: an administrator registers it with 'rectify "
                               f"official add NAME --role ROLE --jurisdiction CODE --login {identity.login}'")
    return identity.official
