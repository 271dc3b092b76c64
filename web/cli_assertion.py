"""The service's word to a ``rectify`` process it runs for the CLI in client mode: who the client
is, how they act, the service's clock, and the only paths a path argument may name.

``POST /api/v1/cli`` (web/api/cli.py) authenticates the official by their token, then runs the
real ``rectify`` on the service's database with this assertion in its environment; ``cli.py``
turns a valid one into the ``Caller`` of that official (``commands/remote.py``), and refuses an
invalid or expired one rather than falling back to the operating-system login.

Why a signature is enough: the key (``service_key(store, "cli-assertion")``) lives in the
database, so forging an assertion needs the database, which in a multi-user deployment only the
service account (and the administrator) can open — and whoever can open it can already act
directly. The assertion lasts a minute: long enough for the process to start, too short to keep.

This module is shared by web/ and the command line (commands/ may import web/, not the reverse),
and imports no web framework: the ``rectify`` process loads only itsdangerous for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.base.errors import PermissionDenied

if TYPE_CHECKING:
    from itsdangerous import URLSafeTimedSerializer

    from engine.store.db import Store

ENV = "RECTIFY_CLI_ASSERTION"
KEY_NAME = "cli-assertion"
MAX_AGE = 60  # seconds
# The exit code of a run that refused the request itself (a path argument the service did not
# stage, a malformed command line) before doing anything: the route answers it with HTTP 400.
REQUEST_REFUSED = 64
_SALT = "rectify.cli-assertion.v1"
VIAS = ("cli", "api")


@dataclass(frozen=True)
class Assertion:
    official: str  # the official the service authenticated
    via: str  # how: "cli" (a CLI-client token) or "api" (an API token used for the same route)
    now: str | None  # the service's own simulated clock (``rectify serve --now``), not the caller's request
    paths: tuple[str, ...]  # what the service staged in its temporary folder: the only paths a run may name


def _serializer(store: Store) -> URLSafeTimedSerializer:
    # itsdangerous is imported here: every rectify command reads ``ENV``, few sign or verify
    from itsdangerous import URLSafeTimedSerializer

    from engine.services.accounts import service_key

    return URLSafeTimedSerializer(service_key(store, KEY_NAME), salt=_SALT)


def sign(store: Store, assertion: Assertion) -> str:
    return _serializer(store).dumps({"official": assertion.official, "via": assertion.via, "now": assertion.now,
                                     "paths": list(assertion.paths)})


def verify(store: Store, text: str) -> Assertion:
    """The assertion ``text`` carries, or ``PermissionDenied`` (exit 1) when it is forged,
    damaged or older than ``MAX_AGE``."""
    from itsdangerous import BadData, SignatureExpired

    try:
        data: Any = _serializer(store).loads(text, max_age=MAX_AGE)
    except SignatureExpired:
        raise PermissionDenied(_refusal("已过期", "has expired")) from None
    except BadData:
        raise PermissionDenied(_refusal("签名无效", "is not signed by this service")) from None
    if not (isinstance(data, dict) and isinstance(data.get("official"), str) and data["official"]
            and data.get("via") in VIAS and isinstance(data.get("now"), str | None)
            and isinstance(data.get("paths"), list) and all(isinstance(p, str) for p in data["paths"])):
        raise PermissionDenied(_refusal("内容不完整", "is malformed"))
    return Assertion(data["official"], data["via"], data["now"], tuple(data["paths"]))


def _refusal(why_zh: str, why_en: str) -> str:
    return (f"服务断言（{ENV}）{why_zh}，拒绝办理 / the service's assertion ({ENV}) {why_en}: refused. "
            f"Only 'rectify serve' sets it, for the command it runs for a CLI client; unset it to act as yourself")
