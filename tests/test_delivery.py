"""Delivering the outbox: channels, retries with backoff, dead letter and alerts, nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from engine.base.errors import InvalidDefinition
from engine.daemon.delivery import NO_CHANNEL, claim_size, deliver, retry
from engine.daemon.ticker import tick
from engine.store.db import Store
from engine.store.migrate import upgrade
from engine.store.models import Delivery, Event, Notice, Timer
from notifiers.base import Channel, DeliveryError, Message
from notifiers.config import DeliveryPolicy, NotifierConfig, load_config
from notifiers.files import FileChannel, FileSettings
from notifiers.webhook import WebhookChannel, WebhookSettings
from tests.conftest import at
from tests.polling import wait_until
from tests.test_engine import LI, WANG, fire_, open_


class Recorder(Channel):
    """A broadcast channel that fails ``failures`` times, then records what it was sent."""

    def __init__(self, name: str, failures: int = 0, personal: bool = False):
        super().__init__(name, Channel.Settings())
        self.failures = failures
        self.sent: list[tuple[str, str, str]] = []
        self.personal = personal  # type: ignore[misc]

    def address(self, recipient):
        return recipient.get("email")

    def send(self, message: Message, address: str) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise DeliveryError("server said 503")
        self.sent.append((message.key, address, message.title))


def notices_by(store, template=None):
    with store.transaction() as s:
        query = select(Notice).order_by(Notice.id)
        if template:
            query = query.where(Notice.template == template)
        return [(n.template, n.status, [p["name"] for p in n.recipients]) for n in s.scalars(query)]


def test_recipients_are_resolved_by_role_and_jurisdiction(county):
    ref = open_(county)
    fire_(county, ref, "confirm")
    assert notices_by(county, "case_listed") == [("case_listed", "pending", ["县委组织部李", "城关镇王"])]


def test_escalation_goes_to_the_named_contact_leader(county):
    from tests.test_engine import facts_

    ref = open_(county)
    fire_(county, ref, "confirm", when="2014-03-12")
    facts_(county, ref, {"contact_leader": "联系领导周"})
    tick(county, at("2014-12-02T09:00"))  # rectification overdue since the end of 11-30
    escalations = notices_by(county, "overdue_escalation")
    assert escalations
    assert escalations[0][2] == ["县委组织部李", "城关镇王", "联系领导周"]


def test_file_channel_writes_one_file_per_notice_and_retries_rewrite_it(county, tmp_path):
    ref = open_(county)
    fire_(county, ref, "confirm")
    channel = FileChannel("printed", FileSettings(folder=str(tmp_path / "out")))
    config = NotifierConfig({"printed": channel})
    report = deliver(county, config, at("2014-03-10T10:00"))
    assert report.outcomes == {"delivered": 1}
    files = list((tmp_path / "out").glob("*.txt"))
    assert len(files) == 1
    text = files[0].read_text(encoding="utf-8")
    assert text.startswith("关于将城关镇第1村党支部列为后进基层党组织整顿对象的通知")
    assert "送达：县委组织部李、城关镇王" in text
    assert deliver(county, config, at("2014-03-10T10:05")).outcomes == {}  # nothing twice
    assert notices_by(county) == [("case_listed", "delivered", ["县委组织部李", "城关镇王"])]


def test_failures_back_off_then_dead_letter_with_an_alert_then_retry(county):
    ref = open_(county)
    fire_(county, ref, "confirm")
    flaky = Recorder("robot", failures=10)
    config = NotifierConfig({"robot": flaky}, DeliveryPolicy(max_attempts=3, backoff_seconds=60))
    t0 = at("2014-03-10T10:00")
    assert deliver(county, config, t0).outcomes == {"retry": 1}
    assert deliver(county, config, t0 + timedelta(seconds=30)).outcomes == {}  # backing off
    assert deliver(county, config, t0 + timedelta(seconds=61)).outcomes == {"retry": 1}
    assert deliver(county, config, t0 + timedelta(seconds=61 + 119)).outcomes == {}  # 2nd wait is 120 s
    report = deliver(county, config, t0 + timedelta(seconds=61 + 121))
    assert report.outcomes["dead"] == 1
    assert "503" in report.errors[0]
    with county.transaction() as s:
        notice = s.scalars(select(Notice).where(Notice.template == "case_listed")).one()
        assert (notice.status, notice.attempts, notice.last_error) == ("dead", 3, "server said 503")
        alert = s.scalars(select(Notice).where(Notice.template == "delivery_failed")).one()
        assert alert.title.startswith("通知投递失败")
        assert [p["name"] for p in alert.recipients] == [LI]
        notice_id = notice.id
    flaky.failures = 0  # the administrator fixes the robot, then retries
    with county.transaction() as s:
        assert retry(s, notice_id, t0 + timedelta(hours=1)) == 1
    deliver(county, config, t0 + timedelta(hours=1))
    assert notices_by(county, "case_listed")[0][1] == "delivered"
    keys = [key for key, _, _ in flaky.sent]
    assert len(keys) == len(set(keys)) == 2  # the notice and the alert, each once


def test_a_recipient_no_channel_reaches_is_reported_not_lost(county):
    ref = open_(county)
    fire_(county, ref, "confirm")
    mail = Recorder("mail", personal=True)
    deliver(county, NotifierConfig({"mail": mail}), at("2014-03-10T10:00"))
    with county.transaction() as s:
        rows = s.execute(select(Delivery.channel, Delivery.recipient, Delivery.status, Delivery.last_error)).all()
    assert {(r.channel, r.recipient, r.status) for r in rows} == {
        (NO_CHANNEL, LI, "dead"), (NO_CHANNEL, WANG, "dead")}
    assert all("has no address on any personal channel (mail)" in r.last_error for r in rows)
    assert notices_by(county, "case_listed")[0][1] == "dead"


def test_running_delivery_twice_sends_each_delivery_once(county):
    for i in range(1, 4):
        fire_(county, open_(county, org=f"T1-0{i}"), "confirm")
    robot = Recorder("robot")
    config = NotifierConfig({"robot": robot})
    deliver(county, config, at("2014-03-10T10:00"))
    deliver(county, config, at("2014-03-10T10:00"))
    assert len(robot.sent) == 3
    assert len({k for k, _, _ in robot.sent}) == 3
    with county.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Delivery)) == 3


def test_config_file_errors_are_placed(tmp_path):
    bad = tmp_path / "n.yaml"
    bad.write_text("channels:\n  x: {type: pigeon}\n  y: {type: file}\ndelivery: {max_attempts: 0}\nextra: 1\n",
                   encoding="utf-8")
    with pytest.raises(InvalidDefinition) as info:
        load_config(str(bad))
    messages = [f"{p.line}:{p.column} {p.message}" for p in info.value.problems]
    assert any(m.startswith("2:") and "unknown channel type 'pigeon'" in m for m in messages)
    assert any(m.startswith("3:") and "folder" in m for m in messages)
    assert any("max_attempts" in m for m in messages)
    assert any("unknown key 'extra'" in m for m in messages)
    good = tmp_path / "g.yaml"
    good.write_text("channels:\n  printed: {type: file, folder: out}\ndelivery: {backoff_seconds: 30}\n",
                    encoding="utf-8")
    config = load_config(str(good))
    assert list(config.channels) == ["printed"]
    assert config.policy.backoff(3) == 120


def test_the_monthly_county_bulletin_is_written_once_with_the_figures(county):
    for i in (1, 2):
        fire_(county, open_(county, org=f"T1-0{i}"), "confirm", when="2014-03-12")
    open_(county, org="T2-01", who="河西乡赵")  # never confirmed: overdue since the end of 03-16
    tick(county, at("2014-04-21T10:00"))
    tick(county, at("2014-04-21T11:00"))
    with county.transaction() as s:
        bulletins = s.scalars(select(Notice).where(Notice.template == "county_bulletin")).all()
    assert [b.idempotency_key.rsplit(":", 1)[1] for b in bulletins] == ["2014-04-21"]
    (bulletin,) = bulletins
    assert bulletin.title == "关于全县整顿后进基层党组织工作进展情况的通报"
    assert bulletin.document_number == "×组通〔2014〕3号"  # after the two cases' listing notices
    assert "截至4月21日全县整顿后进基层党组织工作进展情况（2014年4月，第2期）" in bulletin.body
    assert "全县共确定整顿对象3个，目前处于“排查建账”的1个，处于“整顿转化”的2个。" in bulletin.body
    assert "1. 河西乡党委 河西乡第1村党支部（2014-1-0003），“排查建账”阶段应于3月16日前完成，已逾期36天" in bulletin.body
    assert "满意度" not in bulletin.body
    assert "重新整顿" not in bulletin.body
    assert {p["name"] for p in bulletin.recipients} == {"县委组织部李", "城关镇王", "河西乡赵"}


def test_drawn_cases_get_the_spot_check_notice(county):
    from tests.test_engine import to_survey

    to_survey(county, open_(county))  # a single case waiting is always drawn
    with county.transaction() as s:
        notice = s.scalars(select(Notice).where(Notice.template == "spot_check_notice")).one()
    assert notice.title == "关于确定城关镇第1村党支部为县委组织部抽查对象的通知"
    assert [p["name"] for p in notice.recipients] == ["县委组织部李", "城关镇王"]


def test_two_ticks_at_once_write_each_notice_once(county):
    import threading

    from engine.store.db import Store

    for i in range(1, 7):
        open_(county, org=f"T1-0{i}")
        open_(county, org=f"T2-0{i}", who="河西乡赵")
    stores = [Store(county.url) for _ in range(3)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def run(store):
        try:
            barrier.wait()
            tick(store, at("2014-03-25T09:00"))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.dispose()
    assert errors == []
    with county.transaction() as s:
        keys = s.scalars(select(Notice.idempotency_key)).all()
        events = s.scalar(select(func.count()).select_from(Event).where(Event.kind == "timer"))
    # 2 escalations per case and 1 bulletin; the 2 reminders per case came due before 03-16 and
    # the daemons ran after it: skipped, once, by whichever claimed them.
    assert len(keys) == len(set(keys)) == 12 * 2 + 1
    assert events == 12 * 2
    with county.transaction() as s:
        assert set(s.scalars(select(Timer.status).where(Timer.kind == "reminder"))) == {"skipped"}


def test_a_timer_that_cannot_fire_is_set_aside_and_the_others_fire(county):
    for i in (1, 2):
        open_(county, org=f"T1-0{i}")
    with county.transaction() as s:  # break the first case's reminder: its notice template is unknown
        first = s.scalars(select(Timer).where(Timer.kind == "reminder").order_by(Timer.due_at, Timer.id)).first()
        first.payload = {**first.payload, "notice": "no_such_template"}
        broken = first.id
    report = tick(county, at("2014-03-14T09:00"))
    assert report.fired["reminder"] == 1
    assert any("no_such_template" in m for m in report.messages)
    with county.transaction() as s:
        timer = s.get(Timer, broken)
        assert timer.status == "failed"
        assert "no_such_template" in timer.payload["error"]


class Crashing(Recorder):
    """Sends, then dies before the delivery is settled (as a daemon killed after its send)."""

    def send(self, message: Message, address: str) -> None:
        super().send(message, address)
        raise KeyboardInterrupt  # not an Exception: nothing catches it, nothing is settled


def crashed_mid_send(county, lease: float) -> NotifierConfig:
    """A notice whose delivery a daemon claimed and sent, then died before settling it."""
    fire_(county, open_(county), "confirm")
    config = NotifierConfig({"hook": Crashing("hook")}, DeliveryPolicy(lease_seconds=lease))
    with pytest.raises(KeyboardInterrupt):
        deliver(county, config, at("2014-03-10T10:00"))
    return config


def test_a_lease_runs_on_the_database_clock_not_the_campaign_clock(county):
    """A second daemon whose clock is a day ahead must not send the delivery again while the
    first may still be sending it: the lease is real time, not --now time."""
    crashed_mid_send(county, lease=60)
    again = Recorder("hook")
    assert deliver(county, NotifierConfig({"hook": again}, DeliveryPolicy(lease_seconds=60)),
                   at("2014-03-11T10:00")).outcomes == {}
    assert again.sent == []


def test_a_crashed_daemons_delivery_is_sent_again_once_its_lease_runs_out(county):
    crashed_mid_send(county, lease=0.2)
    time.sleep(0.3)
    again = Recorder("hook")
    report = deliver(county, NotifierConfig({"hook": again}, DeliveryPolicy(lease_seconds=0.2)), at("2014-03-10T10:00"))
    assert report.outcomes == {"delivered": 1}  # the same campaign time: only real time has passed
    assert len(again.sent) == 1
    with county.transaction() as s:
        assert s.scalars(select(Delivery.leased_until)).all() == [None]


# --- warm shutdown and the per-send deadline (issue 12, item 3) ----------------------------

class Stopping(Recorder):
    """Sends, and after ``after`` sends raises the daemon's stop flag (as a SIGTERM would)."""

    def __init__(self, name: str, stop: threading.Event, after: int):
        super().__init__(name)
        self.stop, self.after = stop, after

    def send(self, message: Message, address: str) -> None:
        super().send(message, address)
        if len(self.sent) >= self.after:
            self.stop.set()


def leased(store) -> int:
    with store.transaction() as s:
        return s.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.status == "pending", Delivery.leased_until.is_not(None))) or 0


def test_a_stopped_delivery_pass_gives_back_what_it_leased_and_did_not_send(county):
    for i in range(1, 5):
        fire_(county, open_(county, org=f"T1-0{i}"), "confirm")
    stop = threading.Event()
    robot = Stopping("robot", stop, after=1)
    report = deliver(county, NotifierConfig({"robot": robot}), at("2014-03-10T10:00"), stop=stop)
    assert (report.outcomes, report.released) == ({"delivered": 1}, 3)
    assert leased(county) == 0  # the next start (or another daemon) may send them at once
    again = Recorder("robot")
    assert deliver(county, NotifierConfig({"robot": again}), at("2014-03-10T10:00")).outcomes == {"delivered": 3}
    assert len({key for key, _, _ in robot.sent + again.sent}) == 4  # each once
    stop.set()  # a pass that starts stopped claims nothing and expands nothing
    fire_(county, open_(county, org="T1-05"), "confirm")
    assert deliver(county, NotifierConfig({"robot": again}), at("2014-03-10T10:00"), stop=stop).outcomes == {}
    assert leased(county) == 0
    assert notices_by(county)[-1][1] == "pending"


def test_a_claim_leases_no_more_than_its_lease_covers_at_the_send_deadline():
    hook = WebhookChannel("hook", WebhookSettings(url="http://127.0.0.1:1/x", deadline=30))
    assert claim_size(NotifierConfig({"hook": hook}, DeliveryPolicy(lease_seconds=300)), 100) == 10
    assert claim_size(NotifierConfig({"hook": hook}, DeliveryPolicy(lease_seconds=10)), 100) == 1
    assert claim_size(NotifierConfig({"robot": Recorder("robot")}), 100) == 100  # no deadline: local and quick


class SlowHook(BaseHTTPRequestHandler):
    """A webhook endpoint: ``/slow`` answers after ``SLOW`` seconds, ``/fast`` at once, and
    ``/trickle`` sends its reply's body one byte a second."""

    received: list[str] = []
    SLOW = 0.5

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/trickle":
            self._trickle()
            return
        if self.path == "/slow":
            time.sleep(self.SLOW)  # the server's behaviour under test, not a wait for a condition
        SlowHook.received.append(json.loads(body)["key"])
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def _trickle(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "120")
        self.end_headers()
        try:
            for _ in range(120):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(1)
        except OSError:
            return  # the client gave up: what the test expects

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_server():
    SlowHook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowHook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_webhook_that_trickles_its_reply_ends_at_the_deadline_with_a_retry(county, slow_server):
    fire_(county, open_(county), "confirm")
    hook = WebhookChannel("hook", WebhookSettings(url=f"{slow_server}/trickle", deadline=2))
    started = time.monotonic()
    report = deliver(county, NotifierConfig({"hook": hook}, DeliveryPolicy(backoff_seconds=60)), at("2014-03-10T10:00"))
    took = time.monotonic() - started
    assert report.outcomes == {"retry": 1}
    assert 2 <= took < 2 + 2.5, f"the attempt should end at its 2 s deadline (+ one read), took {took:.1f}s"
    with county.transaction() as s:
        delivery = s.scalars(select(Delivery)).one()
        assert "deadline of 2s" in delivery.last_error
        assert delivery.attempts == 1
        assert delivery.next_attempt_at == at("2014-03-10T10:01")
        assert delivery.leased_until is None


def test_an_smtp_server_that_stalls_is_given_up_at_the_deadline_not_the_read_timeout():
    """The server greets, then never answers EHLO: the 20 s read timeout is cut to the 1.5 s left."""
    import socket

    from notifiers.email import EmailChannel, EmailSettings
    from tests.servers import MESSAGE

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def greet_then_stall() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"220 stalling ESMTP\r\n")
                conn.recv(1024)  # EHLO: never answered
                conn.recv(1024)  # returns when the client gives up

        server = threading.Thread(target=greet_then_stall, daemon=True)
        server.start()
        channel = EmailChannel("mail", EmailSettings(host="127.0.0.1", port=port, security="none",
                                                     sender="zzb@example.org", timeout=20, deadline=1.5), env={})
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="deadline of 1.5s"):
            channel.send(MESSAGE, "wang@example.org")
        assert time.monotonic() - started < 3
        server.join(5)


@pytest.mark.slow
def test_sigterm_while_delivering_to_a_slow_webhook_stops_soon_and_gives_the_rest_back(tmp_path, slow_server):
    from tests.test_time_races import many_cases

    url = f"sqlite:///{tmp_path / 'd.db'}"
    store = Store(url)
    upgrade(store)
    many_cases(store, 16)
    now = at("2014-03-14T09:00")
    assert tick(store, now).fired == {"reminder": 16}  # the backlog: 16 notices, one delivery each
    config = tmp_path / "notifiers.yaml"
    # A long lease: the whole backlog is claimed at once, so only the stop flag ends the pass early.
    config.write_text(json.dumps({"channels": {"hook": {"type": "webhook", "url": f"{slow_server}/slow"}},
                                  "delivery": {"lease_seconds": 3600}}), encoding="utf-8")
    env = {**os.environ, "RECTIFY_DB": url, "RECTIFY_NOW": "2014-03-14T09:00", "RECTIFY_CONFIG": str(config),
           "PYTHONUNBUFFERED": "1"}
    daemon = subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", "daemon", "--interval", "60"],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(SlowHook.received) < 2:
        assert daemon.poll() is None, "the daemon ended before it delivered"
        assert time.monotonic() < deadline, "the daemon never started delivering"
        time.sleep(0.01)
    daemon.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    _, log = daemon.communicate(timeout=60)
    took = time.monotonic() - signalled
    assert daemon.returncode == 0, log
    assert took < 3 + SlowHook.SLOW, f"a stopping daemon should finish one send and exit, took {took:.1f}s"
    assert "daemon stopped: signal SIGTERM" in log
    assert "leased deliveries released" in log
    sent = len(SlowHook.received)
    assert 2 <= sent < 16
    assert leased(store) == 0
    fast = NotifierConfig({"hook": WebhookChannel("hook", WebhookSettings(url=f"{slow_server}/fast"))})
    assert deliver(store, fast, now).outcomes == {"delivered": 16 - sent}  # right away: no lease to wait out
    assert Counter(SlowHook.received) == {key: 1 for key in set(SlowHook.received)}
    assert len(SlowHook.received) == 16
    store.dispose()


@pytest.mark.slow
def test_two_daemons_against_a_slow_endpoint_send_every_key_exactly_once(db_url, store, tmp_path, slow_server):
    """Issue 13's finding: with a 3-second channel a second deliverer took over the tail of the
    first one's claim and 28 of 40 notices were sent twice (105 of 118 with two daemons on
    PostgreSQL). Each send now renews its lease first and settles only what it still holds."""
    from tests.test_time_races import many_cases

    many_cases(store, 12)
    now = at("2014-03-14T09:00")
    assert tick(store, now).fired == {"reminder": 12}
    config = tmp_path / "notifiers.yaml"
    config.write_text(json.dumps({"channels": {"hook": {"type": "webhook", "url": f"{slow_server}/slow",
                                                        "deadline": 2}},
                                  "delivery": {"lease_seconds": 3}}), encoding="utf-8")
    env = {**os.environ, "RECTIFY_DB": db_url, "RECTIFY_NOW": "2014-03-14T09:00", "RECTIFY_CONFIG": str(config)}
    daemons = [subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", "daemon", "--interval", "0.2"],
                                env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL) for _ in range(2)]
    try:
        wait_until(lambda: delivered(store) == 12, "every delivery is settled", timeout=120)
    finally:
        logs = []
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
            logs.append(daemon.communicate(timeout=60)[1])
    assert all(d.returncode == 0 for d in daemons), logs
    assert Counter(SlowHook.received) == {key: 1 for key in SlowHook.received}  # none twice
    assert len(SlowHook.received) == 12


def delivered(store: Store) -> int:
    with store.reading() as s:
        return s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "delivered")) or 0


def test_a_lease_shorter_than_a_channels_deadline_is_refused(tmp_path):
    config = tmp_path / "notifiers.yaml"
    config.write_text("channels:\n  hook: {type: webhook, url: 'http://127.0.0.1:9/x', deadline: 30}\n"
                      "delivery: {lease_seconds: 10}\n", encoding="utf-8")
    with pytest.raises(InvalidDefinition, match="must be longer than channel 'hook''s deadline"):
        load_config(str(config))
