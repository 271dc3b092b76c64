"""A notice that needs a fact the record does not hold is held, never sent with a placeholder:
``notices list`` shows it with what is missing, delivery passes it over, ``notices retry``
refuses it, and it takes no number from the 发文字号 register."""

from __future__ import annotations

from sqlalchemy import select

from engine.store.db import Store
from engine.store.models import Delivery, Notice


def test_a_case_listed_without_its_problems_has_its_notice_held(rectify, tmp_path):
    rectify("case", "open", "T1-04", who="王强", now="2014-03-05")  # no --problem
    rectify("fire", "2014-1-0001", "confirm", who="李明", now="2014-03-10")
    rectify("case", "open", "T1-05", "--problem", "1", who="王强", now="2014-03-05")
    rectify("fire", "2014-1-0002", "confirm", who="李明", now="2014-03-10")

    held = rectify.json("notices", "list", "--status", "held")
    assert [(n["template"], n["number"]) for n in held] == [("case_listed", "")]
    assert "缺少：主要问题" in held[0]["last_error"]
    assert "held: the record lacks 主要问题" in held[0]["last_error"]
    shown = rectify("notices", "show", str(held[0]["id"])).stdout
    assert "【待补充：主要问题】" in shown  # what the notice would have said, for the administrators
    assert "（暂缓发出，未编号）" in shown

    # The next document takes number 1: the held one took none.
    (issued,) = [n for n in rectify.json("notices", "list") if n["status"] == "pending"]
    assert issued["number"] == "×组通〔2014〕1号"

    refused = rectify("notices", "retry", str(held[0]["id"]), who="李明", code=1)
    assert "暂缓发出" in refused.output
    assert "never sent with a gap" in refused.output

    folder = tmp_path / "out"
    config = tmp_path / "files.yaml"
    config.write_text(f"channels:\n  printed: {{type: file, folder: '{folder}'}}\n", encoding="utf-8")
    rectify("--config", str(config), "notices", "deliver", now="2014-03-11")
    store = Store(rectify.db)
    with store.transaction() as s:
        statuses = dict(s.execute(select(Notice.id, Notice.status)).all())
        delivered_for = set(s.scalars(select(Delivery.notice_id)))
    store.dispose()
    assert statuses == {held[0]["id"]: "held", issued["id"]: "delivered"}
    assert delivered_for == {issued["id"]}
    assert not any("待补充" in p.read_text(encoding="utf-8") for p in folder.glob("*.txt"))
