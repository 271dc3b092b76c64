"""Notices as official documents (.docx): parts recovered from the text, GB/T 9704 layout,
the CLI export and the docx folder channel."""

from __future__ import annotations

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from engine.daemon.delivery import deliver
from notifiers.base import Message
from notifiers.config import load_config
from notifiers.officialdoc import OfficialNotice, chinese_date, split_notice
from tests.conftest import at
from tests.runner import fingerprint

BODY = ("×组通〔2014〕1号\n中共城关镇委员会：\n根据实施方案，经排查，城关镇第1村党支部被确定为整顿对象。\n"
        "主要问题：班子不团结。\n\n中共××县委组织部\n2014年3月5日\n抄送：联系领导。\n")


def test_parts_of_a_rendered_notice():
    assert split_notice("关于……的通知", BODY) == OfficialNotice(
        "关于……的通知", "中共城关镇委员会：",
        ["根据实施方案，经排查，城关镇第1村党支部被确定为整顿对象。", "主要问题：班子不团结。"],
        "中共××县委组织部", "2014年3月5日", "×组通〔2014〕1号", "抄送：联系领导。")
    # A message (a reminder) has no number and no 抄送 line; a date in ISO form is still read.
    message = split_notice("【催办提醒】…", "中共城关镇委员会：\n请抓紧推进。\n\n中共××县委组织部\n2014-03-05\n")
    assert (message.number, message.recipient, message.paragraphs, message.issuer, message.date, message.copied) == (
        "", "中共城关镇委员会：", ["请抓紧推进。"], "中共××县委组织部", "2014年3月5日", "")
    # A preview's mark and a held notice's stand where the number goes; a sentence naming a
    # number is body text.
    assert split_notice("t", "〔发文字号〕\n主送：\n正文。").number == "〔发文字号〕"
    assert split_notice("t", "（暂缓发出，未编号）\n主送：\n正文。").number == "（暂缓发出，未编号）"
    assert split_notice("t", "见×组通〔2014〕1号。\n").number == ""
    bare = split_notice("标题", "只有正文，没有主送机关和落款。\n")
    assert (bare.recipient, bare.paragraphs, bare.issuer, bare.date) == ("", ["只有正文，没有主送机关和落款。"], "", "")
    # A sentence before the date is body text, not a signature.
    assert split_notice("t", "请按时完成。\n2014-03-05").issuer == ""
    assert chinese_date("2014-12-01") == "2014年12月1日"
    assert chinese_date("十二月") == "十二月"


def _fonts(paragraph) -> set[tuple[str, float]]:
    from docx.oxml.ns import qn

    return {(r._element.rPr.rFonts.get(qn("w:eastAsia")), r.font.size.pt) for r in paragraph.runs}


def test_cli_exports_a_notice_laid_out_as_an_official_document(rectify, tmp_path):
    rectify("case", "open", "T1-01", "--problem", "3", who="王强", now="2014-03-05")
    rectify("fire", "T1-01", "confirm", who="李明", now="2014-03-06")
    notice = rectify.json("notices", "list")[0]
    before = fingerprint(rectify.db)
    path = tmp_path / "通知.docx"
    out = rectify("notices", "docx", str(notice["id"]), "-o", str(path)).stdout
    assert "已导出 / exported" in out
    assert fingerprint(rectify.db) == before
    doc = Document(str(path))
    section = doc.sections[0]
    mm = [round(v.mm, 1) for v in (section.page_width, section.page_height, section.top_margin,
                                   section.bottom_margin, section.left_margin, section.right_margin)]
    assert mm == [210, 297, 37, 35, 28, 26]  # A4 and the standard's margins (stored in twips)
    paragraphs = [p for p in doc.paragraphs if p.text]
    number, title, recipient, *body, issuer, date = paragraphs
    # The 发文字号, centred above the title in 3号仿宋; this notice is copied to no one.
    assert doc.paragraphs[0].text == number.text == notice["number"] == "×组通〔2014〕1号"
    assert number.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert _fonts(number) == {("仿宋_GB2312", 16.0)}
    assert title.text == notice["title"]
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert _fonts(title) == {("方正小标宋简体", 22.0)}
    assert recipient.text == "中共城关镇委员会："
    assert recipient.paragraph_format.first_line_indent is None
    assert body
    assert all(p.paragraph_format.first_line_indent == Pt(32) for p in body)
    assert all(_fonts(p) == {("仿宋_GB2312", 16.0)} for p in body)
    assert body[0].paragraph_format.line_spacing == Pt(28)
    assert (issuer.text, date.text) == ("中共××县委组织部", "2014年3月6日")
    assert issuer.alignment == date.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    footer = section.footer.paragraphs[0]._element.xml
    assert "PAGE" in footer
    assert "— " in section.footer.paragraphs[0].text
    assert doc.core_properties.title == notice["title"]
    assert doc.core_properties.identifier == "2014-1-0001:event:2:case_listed"  # the outbox row's key
    assert not any("抄送" in p.text for p in doc.paragraphs)


def test_a_supervision_notice_has_its_own_number_and_its_copy_line_at_the_foot(rectify, tmp_path):
    rectify("case", "open", "T1-01", "--problem", "3", who="王强", now="2014-03-05")
    rectify("fire", "T1-01", "confirm", who="李明", now="2014-03-06")
    rectify("daemon", "--once", now="2014-12-02T09:00")  # 整顿转化 was due 11月30日
    [notice] = [n for n in rectify.json("notices", "list") if n["template"] == "overdue_escalation"]
    path = tmp_path / "督办.docx"
    rectify("notices", "docx", str(notice["id"]), "-o", str(path))
    doc = Document(str(path))
    paragraphs = [p for p in doc.paragraphs if p.text]
    number, title, recipient, *body, issuer, date, copied = paragraphs
    assert number.text == notice["number"] == "×组督〔2014〕1号"  # 督办通知 are numbered apart
    assert title.text == "关于督促城关镇第1村党支部加快“整顿转化”工作的督办通知"
    assert recipient.text == "中共城关镇委员会："
    # 11月30日 to 12月2日, the day it is written (at 09:00): 2 days overdue.
    assert body[0].text == ("城关镇第1村党支部（2014-1-0001）“整顿转化”阶段工作应于11月30日前完成，截至12月2日已逾期2天。"
                            "请以“钉钉子”的精神抓好落实，立即整改，并将有关情况报县委组织部。对工作不力的，将按规定进行问责。")
    assert (issuer.text, date.text) == ("中共××县委组织部", "2014年12月2日")
    # The 抄送 line last, below the date, in 4号 one character in from the left.
    assert doc.paragraphs[-1].text == copied.text == "抄送：联系领导。"
    assert copied.alignment == WD_ALIGN_PARAGRAPH.LEFT
    assert copied.paragraph_format.left_indent == Pt(14)
    assert _fonts(copied) == {("仿宋_GB2312", 14.0)}


def test_unknown_notice_and_unwritable_file(rectify, tmp_path):
    assert "notice not found" in rectify("notices", "docx", "999", code=2).output
    rectify("case", "open", "T1-01", who="王强", now="2014-03-05")
    rectify("fire", "T1-01", "confirm", who="李明", now="2014-03-06")
    bad = rectify("notices", "docx", "1", "-o", str(tmp_path / "none" / "x.docx"), code=2)
    assert "cannot write" in bad.output


def test_docx_channel_writes_one_document_per_notice(rectify, tmp_path):
    # With its problems: a case listed without them is held, never delivered (test_held_notices).
    rectify("case", "open", "T1-01", "--problem", "3", who="王强", now="2014-03-05")
    rectify("fire", "T1-01", "confirm", who="李明", now="2014-03-06")
    config_file = tmp_path / "notifiers.yaml"
    config_file.write_text(f"channels:\n  printed: {{type: docx, folder: {tmp_path / 'docs'}}}\n", encoding="utf-8")
    from engine.store.db import Store

    store = Store(rectify.db)
    try:
        config = load_config(str(config_file))
        assert deliver(store, config, at("2014-03-06T12:00")).outcomes == {"delivered": 1}
        assert deliver(store, config, at("2014-03-06T12:05")).outcomes == {}  # nothing twice
    finally:
        store.dispose()
    files = list((tmp_path / "docs").glob("*.docx"))
    assert len(files) == 1
    assert not list((tmp_path / "docs").glob(".*"))
    paragraphs = [p.text for p in Document(str(files[0])).paragraphs if p.text]
    assert paragraphs[0] == "×组通〔2014〕1号"
    assert paragraphs[1] == "关于将城关镇第1村党支部列为后进基层党组织整顿对象的通知"


def test_docx_channel_failure_is_a_delivery_error(tmp_path):
    import pytest

    from notifiers.base import DeliveryError
    from notifiers.files import DocxChannel, FileSettings

    blocker = tmp_path / "file"
    blocker.write_text("x")
    channel = DocxChannel("p", FileSettings(folder=str(blocker / "sub")))
    with pytest.raises(DeliveryError, match="cannot write"):
        channel.send(Message("k1", "标题", BODY, "t", None), "")
