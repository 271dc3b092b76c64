"""Web accounts: an administrator's one-time invitation, the password an official sets with it,
logging in (sessions for the browser, tokens for the CLI client and the API), five wrong
passwords locking an account, resets and deactivations revoking everything at once, and
secrets kept only as hashes — on SQLite and PostgreSQL, through the engine's services and the
``rectify official``/``rectify token`` commands."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import MetaData, create_engine, select

from engine.base.errors import InvalidValue, LoginRefused, NotFound, PermissionDenied, Refused
from engine.ops import accounts as ops
from engine.services import Caller, accounts
from engine.store.account_queries import touch_session
from engine.store.db import Store
from engine.store.models import ApiToken, Refusal, WebAccount, WebSession
from tests.runner import Rectify, fingerprint

ADMIN = Caller("admin1", command="test")
PASSWORD = "城关镇-组织委员2014"
BASE = "https://rectify.example.gov.cn/"


@pytest.fixture
def store(county_with_logins: Rectify) -> Iterator[Store]:
    """The CLI tests' county past its bootstrap (administrator: login admin1), as a store."""
    opened = Store(county_with_logins.db)
    yield opened
    opened.dispose()


def invite(store: Store, name: str = "王强", days: int = 7) -> str:
    """The raw token of a new invitation for ``name``."""
    url = accounts.invite(store, ADMIN, name, BASE, days).value.url
    assert url.startswith("https://rectify.example.gov.cn/invite/")
    return url.rsplit("/", 1)[1]


def activate(store: Store, name: str = "王强") -> None:
    assert accounts.accept_invitation(store, invite(store, name), PASSWORD, PASSWORD).value == name


def refusals(store: Store) -> list[Refusal]:
    """The refusals log, oldest first."""
    return store.read(lambda s: list(s.scalars(select(Refusal).order_by(Refusal.id))))


def account(store: Store, name: str = "王强") -> dict:
    (row,) = [r for r in accounts.accounts(store, ADMIN).value if r["name"] == name]
    return row


def later(minutes: float) -> time_machine.travel:
    """The real clock moved on (security keeps real time, so the tests move it)."""
    return time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=minutes), tick=True)


# --- invitations -------------------------------------------------------------------------------

def test_an_invited_official_sets_a_password_logs_in_and_is_recognised(store):
    token = invite(store)
    assert account(store)["state"] == "invited"
    assert accounts.invitation_name(store, token) == "王强"
    assert accounts.accept_invitation(store, token, PASSWORD, PASSWORD).value == "王强"
    assert account(store)["state"] == "active"

    session_token = accounts.log_in(store, "王强", PASSWORD, "10.0.0.7").value
    who = accounts.session_user(store, session_token)
    assert who is not None
    assert (who.official, who.via, who.admin) == ("王强", "web", False)
    row = store.read(lambda s: s.scalars(select(WebSession)).one())
    assert row.expires_at - row.created_at == timedelta(hours=12)
    assert account(store)["last_login"]
    assert accounts.session_user(store, "not-a-session") is None

    accounts.log_out(store, session_token)
    assert accounts.session_user(store, session_token) is None


def test_a_used_an_expired_and_a_replaced_invitation_are_refused(store):
    token = invite(store)
    accounts.accept_invitation(store, token, PASSWORD, PASSWORD)
    with pytest.raises(Refused, match="already used"):
        accounts.invitation_name(store, token)
    with pytest.raises(Refused, match="邀请链接已使用.* / this invitation was already used"):
        accounts.accept_invitation(store, token, "另一个密码-0123456", "另一个密码-0123456")
    last = refusals(store)[-1]
    assert (last.login, last.actor, last.command) == ("web:王强", "王强", "accept invitation")

    short = invite(store, "李明", days=1)
    with later(24 * 60 + 1):
        with pytest.raises(Refused, match="expired on"):
            accounts.invitation_name(store, short)
        with pytest.raises(Refused, match="this invitation expired"):
            accounts.accept_invitation(store, short, PASSWORD, PASSWORD)
        assert account(store, "李明")["state"] == "invitation_expired"

    replaced = invite(store, "李明")
    invite(store, "李明")  # a new invitation replaces an unaccepted one
    with pytest.raises(NotFound, match="not valid, or a newer invitation replaced it"):
        accounts.invitation_name(store, replaced)
    with pytest.raises(NotFound):
        accounts.accept_invitation(store, "", PASSWORD, PASSWORD)


def test_an_official_with_a_password_is_reset_not_invited_again(store):
    activate(store)
    with pytest.raises(Refused, match="already set a password: to start again, run 'rectify official reset 王强'"):
        accounts.invite(store, ADMIN, "王强", BASE)


@pytest.mark.parametrize(("password", "repeat", "message"), [
    ("短密码123", "短密码123", "密码太短：至少 10 个字符 / the password is too short: at least 10 characters"),
    ("x" * 129, "x" * 129, "the password is too long: at most 128 characters"),
    ("王强", "王强", "too short"),
    ("城关镇-组织委员2014", "城关镇-组织委员2015", "两次输入的密码不一致 / the two passwords differ"),
])
def test_a_weak_password_is_refused_and_nothing_is_written(store, county_with_logins, password, repeat, message):
    token = invite(store)
    before = fingerprint(county_with_logins.db)
    with pytest.raises(Exception, match=message) as raised:
        accounts.accept_invitation(store, token, password, repeat)
    assert raised.value.exit_code == 2
    assert fingerprint(county_with_logins.db) == before
    assert accounts.invitation_name(store, token) == "王强"  # still usable


def test_the_password_may_not_be_the_name(store, county_with_logins):
    name = "欧阳王强之子孙曾玄来"  # ten characters: long enough to be a password
    county_with_logins("official", "add", name, "--role", "county_department", "--jurisdiction", "X")
    token = invite(store, name)
    with pytest.raises(Exception, match="密码不能是本人姓名 / the password may not be your name"):
        accounts.accept_invitation(store, token, f"{name}  ", f"{name}  ")


def test_invitation_input_is_checked_before_anything_is_written(store, county_with_logins):
    before = fingerprint(county_with_logins.db)
    with pytest.raises(InvalidValue, match="must start with http:// or https://"):
        accounts.invite(store, ADMIN, "王强", "javascript:alert(1)")
    with pytest.raises(InvalidValue, match="an invitation lasts 1 to 30 days"):
        accounts.invite(store, ADMIN, "王强", BASE, days=0)
    with pytest.raises(NotFound, match="official not found: 无此人"):
        accounts.invite(store, ADMIN, "无此人", BASE)
    assert fingerprint(county_with_logins.db) == before


# --- logging in and the lock -------------------------------------------------------------------

def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(store):
    activate(store)
    for _ in range(4):
        with pytest.raises(LoginRefused, match=r"^用户名或密码不正确 / wrong name or password$"):
            accounts.log_in(store, "王强", "猜一猜-1234567", "10.0.0.9")
    with pytest.raises(LoginRefused, match="5 wrong passwords in a row: the account is locked until"):
        accounts.log_in(store, "王强", "猜一猜-1234567", "10.0.0.9")
    with pytest.raises(LoginRefused, match="账户已锁定至") as locked:
        accounts.log_in(store, "王强", PASSWORD, "10.0.0.9")  # the right password, while locked
    assert "wrong name or password" not in str(locked.value)
    assert account(store)["state"] == "locked"

    logged = [r for r in refusals(store) if r.login == "web:王强"]
    assert len(logged) == 6
    assert {(r.actor, r.command) for r in logged} == {("王强", "log in (10.0.0.9)")}
    assert "locked until" in logged[-1].reason

    with later(14), pytest.raises(LoginRefused, match="locked until"):
        accounts.log_in(store, "王强", PASSWORD, "10.0.0.9")
    with later(16):
        assert accounts.session_user(store, accounts.log_in(store, "王强", PASSWORD, "10.0.0.9").value)


def test_the_failures_must_come_in_a_row(store):
    activate(store)
    for _ in range(2):
        for _ in range(4):
            with pytest.raises(LoginRefused):
                accounts.log_in(store, "王强", "猜一猜-1234567", "10.0.0.9")
        accounts.log_in(store, "王强", PASSWORD, "10.0.0.9")  # a success starts the count again
    assert account(store)["state"] == "active"


def test_a_wrong_name_reads_as_a_wrong_password_and_is_recorded(store):
    activate(store)
    with pytest.raises(LoginRefused) as wrong_password:
        accounts.log_in(store, "王强", "猜一猜-1234567", "10.0.0.9")
    for name in ("无此人", "x" * 5000, "王\x00强"):
        with pytest.raises(LoginRefused) as wrong_name:
            accounts.log_in(store, name, PASSWORD, "10.0.0.9", via="cli")
        assert str(wrong_name.value) == str(wrong_password.value)
    last = refusals(store)[-3]
    assert (last.login, last.actor, last.command) == ("cli:无此人", None, "log in (10.0.0.9)")
    assert refusals(store)[-1].login == "cli:王\\x00强"


@pytest.mark.parametrize("state", ["invited", "disabled", "inactive"])
def test_no_password_a_disabled_account_or_an_inactive_official_may_not_log_in(store, county_with_logins, state):
    if state == "invited":
        invite(store)
        with pytest.raises(LoginRefused, match="wrong name or password"):
            accounts.log_in(store, "王强", PASSWORD, "10.0.0.9")
        return
    activate(store)
    if state == "disabled":
        accounts.deactivate(store, ADMIN, "王强")
    else:
        county_with_logins("official", "update", "王强", "--inactive")
    with pytest.raises(LoginRefused, match="disabled" if state == "disabled" else "no longer an active official"):
        accounts.log_in(store, "王强", PASSWORD, "10.0.0.9")
    with pytest.raises(LoginRefused, match=r"^用户名或密码不正确 / wrong name or password$"):
        accounts.log_in(store, "王强", "猜一猜-1234567", "10.0.0.9")  # the state is told to whom knows the password


def test_a_session_ends_after_two_idle_hours_or_twelve_hours_in_all(store):
    """At the ops level, with the clock passed in: a page seen each 100 minutes keeps a session
    alive until its twelfth hour; two idle hours end it."""
    activate(store)

    def seen(token: str, moment: datetime) -> bool:
        found = store.read(lambda s: ops.session_owner(s, token, moment))
        if found is not None and found[1] is not None:
            session_id = found[1]
            store.write(lambda s: touch_session(s, session_id, moment, moment - ops.TOUCH_EVERY))
        return found is not None

    idle = accounts.log_in(store, "王强", PASSWORD, "10.0.0.7").value
    now = datetime.now(timezone.utc)
    assert seen(idle, now + timedelta(minutes=119))
    assert not seen(idle, now + timedelta(minutes=119 + 121))  # two hours after the last page

    busy = accounts.log_in(store, "王强", PASSWORD, "10.0.0.7").value
    now = datetime.now(timezone.utc)
    for minutes in range(100, 12 * 60, 100):
        assert seen(busy, now + timedelta(minutes=minutes)), minutes
    assert not seen(busy, now + timedelta(minutes=12 * 60 + 1))


def test_the_idle_clock_is_written_at_most_once_a_minute(store):
    activate(store)
    token = accounts.log_in(store, "王强", PASSWORD, "10.0.0.7").value

    def last_seen() -> datetime:
        return store.read(lambda s: s.scalars(select(WebSession.last_seen_at)).one())

    first = last_seen()
    accounts.session_user(store, token)
    assert last_seen() == first
    with later(1.5):
        assert accounts.session_user(store, token) is not None
        assert last_seen() > first


# --- tokens ------------------------------------------------------------------------------------

def test_the_cli_client_logs_in_with_a_token_of_its_own(store):
    activate(store)
    token = accounts.log_in(store, "王强", PASSWORD, "wangq@laptop", via="cli").value
    who = accounts.token_user(store, token)
    assert who is not None
    assert (who.official, who.via) == ("王强", "cli")
    assert accounts.session_user(store, token) is None  # a token is not a browser session
    row = store.read(lambda s: s.scalars(select(ApiToken)).one())
    assert (row.kind, row.expires_at - row.created_at) == ("cli", timedelta(days=30))
    accounts.log_out(store, token)
    assert accounts.token_user(store, token) is None
    _, api = accounts.issue_token(store, Caller("wangq"), "平台").value
    accounts.log_out(store, api)  # an API token is revoked by its id only ('rectify token revoke')
    assert accounts.token_user(store, api) is not None


def test_a_revoked_token_stops_at_once(store, county_with_logins, login):
    login("wangq")
    issued = county_with_logins("token", "issue", "--label", "智慧党建平台")
    raw = issued.stdout.strip()
    assert "shown this once" in issued.stderr
    assert raw not in issued.stderr
    who = accounts.token_user(store, raw)
    assert who is not None
    assert (who.official, who.via) == ("王强", "api")
    mine = county_with_logins.json("token", "list")
    assert [(t["official"], t["label"], t["state"]) for t in mine] == [("王强", "智慧党建平台", "active")]
    assert "token_hash" not in mine[0]

    login("zhaog")
    out = county_with_logins("token", "revoke", str(mine[0]["id"]), code=1).output
    assert "only an administrator may revoke another official's token" in out
    assert county_with_logins("token", "list", "--for", "王强", code=1).output
    assert accounts.token_user(store, raw) is not None

    login("admin1")
    county_with_logins("token", "revoke", str(mine[0]["id"]))
    assert accounts.token_user(store, raw) is None
    assert county_with_logins.json("token", "list", "--for", "王强")[0]["state"] == "revoked"


def test_an_administrator_issues_a_token_for_another_official(store, county_with_logins, login):
    login("admin1")
    raw = county_with_logins("token", "issue", "--for", "赵刚").stdout.strip()
    who = accounts.token_user(store, raw)
    assert who is not None
    assert who.official == "赵刚"
    assert county_with_logins.json("token", "list")[0]["created_by"] == "管理员"
    login("zhaog")
    out = county_with_logins("token", "issue", "--for", "王强", code=1).output
    assert "only an administrator may issue a token for another official" in out


# --- reset and deactivation ----------------------------------------------------------------------

def test_a_reset_revokes_every_session_and_token_and_invites_again(store):
    activate(store)
    web = accounts.log_in(store, "王强", PASSWORD, "10.0.0.7").value
    cli = accounts.log_in(store, "王强", PASSWORD, "laptop", via="cli").value
    _, api = accounts.issue_token(store, Caller("wangq"), "平台").value

    invitation = accounts.reset(store, ADMIN, "王强", BASE).value
    assert accounts.session_user(store, web) is None
    assert accounts.token_user(store, cli) is None
    assert accounts.token_user(store, api) is None
    assert account(store)["state"] == "invited"
    with pytest.raises(LoginRefused, match="wrong name or password"):
        accounts.log_in(store, "王强", PASSWORD, "10.0.0.7")
    new_password = "重设之后的新密码-2014"
    token = invitation.url.rsplit("/", 1)[1]
    accounts.accept_invitation(store, token, new_password, new_password)
    assert accounts.session_user(store, accounts.log_in(store, "王强", new_password, "10.0.0.7").value)


def test_disabling_an_account_or_deactivating_the_official_revokes_at_once(store, county_with_logins):
    activate(store)
    activate(store, "赵刚")
    web = accounts.log_in(store, "王强", PASSWORD, "10.0.0.7").value
    _, api = accounts.issue_token(store, Caller("wangq"), "平台").value
    county_with_logins("official", "disable", "王强")
    assert accounts.session_user(store, web) is None
    assert accounts.token_user(store, api) is None
    assert account(store)["state"] == "disabled"
    with pytest.raises(Refused, match="disabled, so no token is issued"):
        accounts.issue_token(store, Caller("wangq"), "再来一个")

    zhao = accounts.log_in(store, "赵刚", PASSWORD, "10.0.0.8").value
    _, zhao_api = accounts.issue_token(store, Caller("zhaog"), "").value
    county_with_logins("official", "update", "赵刚", "--inactive")
    assert accounts.session_user(store, zhao) is None
    assert accounts.token_user(store, zhao_api) is None
    assert account(store, "赵刚")["state"] == "inactive"
    rows = store.read(lambda s: [(t.official_id, t.revoked_at is not None) for t in s.scalars(select(ApiToken))])
    assert all(revoked for _, revoked in rows)


@pytest.mark.parametrize(("args", "message"), [
    (["official", "invite", "赵刚"], "only an administrator may invite officials"),
    (["official", "reset", "赵刚"], "only an administrator may reset web accounts"),
    (["official", "disable", "赵刚"], "only an administrator may disable web accounts"),
    (["official", "accounts"], "only an administrator may see the web accounts"),
])
def test_a_non_administrator_may_not_manage_accounts(store, county_with_logins, login, args, message):
    login("wangq")
    before = fingerprint(county_with_logins.db)
    out = county_with_logins(*args, code=1).output
    assert message in out
    assert fingerprint(county_with_logins.db) == before
    last = refusals(store)[-1]
    assert (last.login, last.actor, last.command) == ("wangq", "王强", "rectify " + " ".join(args))
    with pytest.raises(PermissionDenied):
        accounts.deactivate(store, Caller("wangq"), "赵刚")


def test_the_commands_print_the_link_and_the_accounts(county_with_logins, login, monkeypatch):
    login("admin1")
    monkeypatch.setenv("RECTIFY_BASE_URL", "https://dangjian.example.cn")
    out = county_with_logins("official", "invite", "王强", "--days", "3").stdout
    assert "邀请链接 / invitation for 王强: https://dangjian.example.cn/invite/" in out
    assert "有效至 / valid until" in out
    out = county_with_logins("official", "reset", "王强", "--url", "http://10.1.1.1:8000/").stdout
    assert "http://10.1.1.1:8000/invite/" in out
    assert "every session and token revoked" in out
    rows = {r["name"]: r for r in county_with_logins.json("official", "accounts")}
    assert (rows["王强"]["state"], rows["赵刚"]["state"]) == ("invited", "none")
    assert "已邀请 / invited" in county_with_logins("official", "accounts").stdout
    county_with_logins("official", "invite", "王强", "--days", "31", code=2)


# --- secrets at rest and the service's keys ------------------------------------------------------

def test_tokens_invitations_and_passwords_are_stored_only_as_hashes(store, county_with_logins):
    invitation = invite(store)
    accounts.accept_invitation(store, invitation, PASSWORD, PASSWORD)
    secrets = [invitation, PASSWORD, accounts.log_in(store, "王强", PASSWORD, "10.0.0.7").value,
               accounts.log_in(store, "王强", PASSWORD, "laptop", via="cli").value,
               accounts.issue_token(store, Caller("wangq"), "平台").value[1]]
    pending = invite(store, "赵刚")
    secrets.append(pending)
    hashes = store.read(lambda s: list(s.scalars(select(WebAccount.password_hash)
                                                 .where(WebAccount.password_hash.is_not(None)))))
    assert [h[:10] for h in hashes] == ["$argon2id$"]

    everything = _every_value(county_with_logins.db)
    files = b""
    if county_with_logins.db.startswith("sqlite:///"):
        path = Path(county_with_logins.db.removeprefix("sqlite:///"))
        files = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for secret in secrets:
        assert secret not in everything
        assert secret.encode() not in files
    assert ops.digest(pending) in everything  # what is kept instead


def _every_value(url: str) -> str:
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        text = "\n".join(repr(tuple(row)) for table in meta.sorted_tables for row in conn.execute(select(table)))
    engine.dispose()
    return text


def test_a_service_key_is_made_once_even_when_workers_race(county_with_logins):
    stores = [Store(county_with_logins.db) for _ in range(4)]
    start = threading.Barrier(len(stores))
    got: list[str] = []

    def worker(own: Store) -> None:
        start.wait()
        got.append(accounts.service_key(own, "cookie"))

    threads = [threading.Thread(target=worker, args=(own,)) for own in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 4
    assert len(set(got)) == 1
    assert len(got[0]) >= 64
    assert accounts.service_key(stores[0], "cookie") == got[0]
    assert accounts.service_key(stores[0], "other") != got[0]
    for own in stores:
        own.dispose()
