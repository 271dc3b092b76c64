"""What the daemon prints is read by a person (issue 14, item 7).

The finding: ``rectify daemon`` showed the transitions library's INFO lines (``Executed callback
'<function … at 0x…>'``), summaries as Python dicts, "delivered: 6" while 15 deliveries had gone
dead, and notice files named ``timer_119_printed_printed.txt``. Here the daemon runs as a real
process, as an operator runs it, and as the commands an official types.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.store.db import Store
from engine.store.models import Delivery
from notifiers.base import Message
from notifiers.files import MAX_NAME_BYTES, file_name
from tests.conftest import ROOT
from tests.polling import wait_until
from tests.runner import Rectify, build_surveyed_county

LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (INFO|WARNING|ERROR) \S")
# What a person should never have to read: a library's chatter, Python's reprs.
NOT_FOR_PEOPLE = ["transitions", "Executed callback", "Finished processing state", "sqlalchemy", "alembic",
                  "<function", " at 0x", "{'", "Counter(", "Traceback"]
DEAD = re.compile(r"失败 dead (\d+)")
BOOTSTRAP = "尚未登记管理员"  # the CLI's own warning, printed before the daemon starts logging


@pytest.fixture
def surveyed(built_counties, tmp_path) -> Rectify:
    """The surveyed county on SQLite: on 2014-12-03 its daemon fires escalations (a case's, and
    the townships' for the reports they have not filed), a bulletin and an automatic transition
    (the transitions library runs its callbacks), and skips reminders that came due too late."""
    return built_counties.copy("surveyed", build_surveyed_county, "sqlite", tmp_path)


def dead_end(tmp_path: Path) -> Path:
    """A folder of notice files, and a webhook nothing listens on: each notice dies at once."""
    config = tmp_path / "notifiers.yaml"
    config.write_text(f"channels:\n  printed: {{type: file, folder: {tmp_path / 'printed'}}}\n"
                      "  hook: {type: webhook, url: 'http://127.0.0.1:9/x'}\n"
                      "delivery: {max_attempts: 1}\n", encoding="utf-8")
    return config


def dead_deliveries(db_url: str) -> int:
    store = Store(db_url)
    try:
        with store.transaction() as s:
            return s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "dead")) or 0
    finally:
        store.dispose()


def process_env(run: Rectify, config: Path) -> dict[str, str]:
    return {**os.environ, "RECTIFY_DB": run.db, "RECTIFY_CONFIG": str(config), "RECTIFY_NOW": "2014-12-03T10:01",
            "PYTHONUNBUFFERED": "1"}


def assert_for_people(text: str) -> None:
    for phrase in NOT_FOR_PEOPLE:
        assert phrase not in text, f"{phrase!r} in:\n{text}"


# --- the daemon as a service and as one command ------------------------------------------------

@pytest.mark.slow
def test_the_service_logs_its_own_lines_in_words(surveyed, tmp_path):
    config = dead_end(tmp_path)
    daemon = subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", "daemon", "--interval", "0.2"],
                              env=process_env(surveyed, config), cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    log = []  # the daemon's stderr, line by line
    reader = threading.Thread(target=lambda: log.extend(iter(daemon.stderr.readline, "")), daemon=True)
    reader.start()
    try:  # two delivery passes: the notices (dead on the hook), then the alerts about them
        wait_until(lambda: sum("投递 deliveries:" in line for line in log) >= 2, "two delivery passes are logged")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    reader.join(timeout=30)
    daemon.stderr.close()
    text = "".join(log)
    assert_for_people(text)
    assert [line for line in text.splitlines() if not LOG_LINE.match(line) and BOOTSTRAP not in line] == []
    assert "INFO 2014-1-0002: restart_rectification re_rectify → rectifying" in text  # the callbacks ran
    assert re.search(r"INFO 定时任务 timers: 触发 fired \d+（[^）]*自动转换 automatic transition 1[^）]*） · "
                     r"跳过 skipped 2 · 出错 failed 0\n", text), text  # 2014-1-0003's 2 reminders, after 11-30
    passes = [line for line in text.splitlines() if "投递 deliveries:" in line]
    assert all(" WARNING " in line for line in passes if int(DEAD.search(line)[1])), passes
    dead = dead_deliveries(surveyed.db)
    assert dead > 0
    assert sum(int(DEAD.search(line)[1]) for line in passes) == dead  # every dead delivery is told
    assert text.count("WARNING 投递失败 / delivery failed: #") == dead
    assert "守护进程已停止 / daemon stopped: signal SIGTERM received" in text


def test_once_says_what_it_fired_and_what_died(surveyed, tmp_path):
    config = dead_end(tmp_path)
    done = subprocess.run([sys.executable, "-c", "import cli; cli.main()", "daemon", "--once"],
                          env=process_env(surveyed, config), cwd=ROOT, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert_for_people(done.stdout + done.stderr)
    dead = dead_deliveries(surveyed.db)
    assert dead > 0
    assert "2014-1-0002: restart_rectification re_rectify → rectifying" in done.stdout
    # Skipped: 2014-1-0003's two reminders (30 and 7 days before 11-30), which came due before its
    # deadline passed while the daemon ran only after it, on 12-03: a reminder then has nothing
    # true to say. (No case has a deadline in screening any more: 03-16 is the townships' filing.)
    assert re.search(r"^定时任务 timers: 触发 fired \d+（.+） · 跳过 skipped 2 · 出错 failed 0$", done.stdout, re.M)
    # The townships' filings are chased too, each in words: 河西乡 filed nothing (its 汇总表 and
    # four progress reports), 城关镇 all but the report of 11-20 (tests/runner.py ``prepare``).
    assert re.search(r"^定时任务 timers: 触发 fired \d+（[^）]*报送督办 duty escalation 6[、）]", done.stdout, re.M), \
        done.stdout
    assert "中共河西乡委员会“排查情况汇总表”督办 / screening_report escalation to T2\n" in done.stdout
    assert done.stdout.count("中共河西乡委员会“整顿建设情况报告”督办 / progress_report escalation to T2\n") == 4
    assert done.stdout.count("中共城关镇委员会“整顿建设情况报告”督办 / progress_report escalation to T1\n") == 1
    assert re.search(rf"^投递 deliveries: 送达 delivered \d+ · 待重试 retrying 0 · 失败 dead {dead}$", done.stdout, re.M)
    assert f"警告：{dead} 个投递失败，不再重试" in done.stderr
    assert f"warning: {dead} deliveries are dead" in done.stderr
    assert "无法连接 / cannot reach 127.0.0.1:9" in done.stderr  # the first failed attempts, with their cause
    assert re.search(r"^  #\d+ 2014-1-000\d .+ \[hook\]（已放弃 / dead）: ", done.stderr, re.M), done.stderr


def test_notices_deliver_counts_the_recipients_no_channel_reaches_as_dead(surveyed, tmp_path):
    """The newcomer's "delivered: 6": the recipients with no e-mail address were dead deliveries
    no summary counted."""
    config = tmp_path / "mail.yaml"
    config.write_text(f"channels:\n  printed: {{type: file, folder: {tmp_path / 'printed'}}}\n"
                      "  mail: {type: email, host: 127.0.0.1, port: 9, security: none, sender: zzb@example.org}\n",
                      encoding="utf-8")
    out = surveyed("--config", str(config), "notices", "deliver", now="2014-12-03T10:00")
    dead = dead_deliveries(surveyed.db)
    assert dead > 0  # no official of this county has an e-mail address
    delivered = len(list((tmp_path / "printed").iterdir()))
    assert out.stdout == f"投递 deliveries: 送达 delivered {delivered} · 待重试 retrying 0 · 失败 dead {dead}\n"
    assert "has no address on any personal channel (mail)" in out.stderr
    assert f"warning: {dead} deliveries are dead" in out.stderr
    assert_for_people(out.output)
    again = surveyed("--config", str(config), "notices", "deliver", now="2014-12-03T10:05")
    assert again.stdout == "投递 deliveries: 无到期投递 / nothing due\n"
    assert "dead" not in again.stderr


def test_a_simulated_run_prints_each_busy_day_and_the_totals(surveyed, tmp_path):
    config = dead_end(tmp_path)
    out = surveyed("--config", str(config), "daemon", "--now", "2014-12-01", "--until", "2014-12-04").stdout
    assert_for_people(out)
    assert re.search(r"^2014-12-0\d 定时任务 timers: 触发 fired \d+", out, re.M)
    assert "合计 total 2014-12-01 → 2014-12-04\n" in out
    totals = out.split("合计 total")[1]
    assert f"失败 dead {dead_deliveries(surveyed.db)}\n" in totals
    assert "无到期投递" not in out  # a quiet day prints nothing


def test_now_after_daemon_is_the_global_now(surveyed, tmp_path):
    """The README's ``rectify daemon --now 2014-03-01 --until …`` works; two different clocks do not."""
    config = dead_end(tmp_path)
    surveyed("--config", str(config), "daemon", "--now", "2014-12-01", "--once")
    assert "--now was given twice" in surveyed("daemon", "--now", "2014-12-02", "--once", now="2014-12-01",
                                               code=2).output
    surveyed("daemon", "--now", "2014-12-01", "--once", now="2014-12-01")  # the same clock twice is one clock
    assert "cannot read the time 'yesterday-ish'" in surveyed("daemon", "--now", "yesterday-ish", "--once",
                                                              code=2).output


# --- notice files --------------------------------------------------------------------------------

def notice(title: str, notice_id: int | None = 119, ref: str | None = "2014-1-0007", key: str = "timer:119|p|p",
           issued: date | None = date(2014, 3, 18)) -> Message:
    return Message(key, title, "正文", "overdue_escalation", ref, None, (), notice_id, issued)


DUBAN = "关于督促城关镇第7村党支部加快“排查建账”工作的督办通知"


def test_a_notice_file_is_named_by_date_case_title_and_number():
    assert file_name(notice(DUBAN), ".txt") == f"2014-03-18_2014-1-0007_{DUBAN}_119.txt"
    assert file_name(notice(DUBAN, ref=None), ".docx") == f"2014-03-18_{DUBAN}_119.docx"  # an alert: no case
    same_day = {file_name(notice(DUBAN, notice_id=n), ".txt") for n in (119, 120)}
    assert len(same_day) == 2  # one case, one day, one title: still two files
    assert file_name(notice(DUBAN, notice_id=None, key="a"), ".txt") != \
        file_name(notice(DUBAN, notice_id=None, key="b"), ".txt")  # no number: the key tells them apart


def test_a_notice_file_name_is_safe_and_bounded(tmp_path):
    hostile = ' ../a/b\\c:d*e?f"g<h>i|j\tk\nl\x1bm\u202en..o. '
    name = file_name(notice(hostile, ref="../../etc"), ".txt")
    assert name == "2014-03-18_etc_a_b_c_d_e_f_g_h_i_j_k_lmn.o_119.txt"
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()
    assert file_name(notice(".hidden", ref=None, issued=None), ".txt") == "hidden_119.txt"
    assert file_name(notice("\x00..", ref=None, issued=None), ".txt") == "通知_119.txt"
    long = file_name(notice("关于" + "很长的党组织名称" * 40 + "的通知"), ".docx")
    assert len(long.encode()) <= MAX_NAME_BYTES
    assert long.startswith("2014-03-18_2014-1-0007_关于很长的党组织名称")
    assert long.endswith("…_119.docx")


def test_files_written_by_the_daemon_carry_the_notice_day_in_the_campaign_zone(rectify, tmp_path):
    """01:00 on 14 March in Beijing is still 13 March in UTC: the file says the 14th, as the notice does."""
    folder = tmp_path / "printed"
    config = tmp_path / "printed.yaml"
    config.write_text(f"channels:\n  printed: {{type: file, folder: {folder}}}\n", encoding="utf-8")
    # What the daemon writes then: each township's reminder of its 汇总表, due 03-16 (3 days
    # before); a township's notice has no case, so its file name has no case number.
    rectify("--config", str(config), "daemon", "--once", now="2014-03-14T01:00")
    listed = rectify.json("notices", "list")
    assert sorted((n["template"], n["created"]) for n in listed) == [("duty_reminder", "2014-03-14 01:00")] * 2
    expected = {f"{n['created'][:10]}_{n['title']}_{n['id']}.txt" for n in listed}
    assert {p.name for p in folder.iterdir()} == expected
    [reminder] = [n for n in listed if "中共城关镇委员会" in n["title"]]
    name = f"2014-03-14_【报送提醒】中共城关镇委员会“排查情况汇总表”3月16日到期_{reminder['id']}.txt"
    assert name in expected
    written = (folder / name).read_text(encoding="utf-8")
    assert "\n2014年3月14日\n" in written
    # The trailer: to whom it was delivered, and the notice's number in the system (not a 发文字号).
    assert re.search(rf"\n——\n送达：王强\n系统登记号：#{reminder['id']}（duty:\d+:0\|printed\|printed）\n\Z", written), \
        written
