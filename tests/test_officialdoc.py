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

BODY = "中共城关镇委员会：\n根据实施方案，经排查，城关镇第1村党支部被确定为整顿对象。\n主要问题：班子不团结。\n\n中共××县委组织部\n2014-03-05\n"


def test_parts_of_a_rendered_notice():
    assert split_notice("关于……的通知", BODY) == OfficialNotice(
        "关于……的通知", "中共城关镇委员会：",
        ["根据实施方案，经排查，城关镇第1村党支部被确定为整顿对象。", "主要问题：班子不团结。"],
        "中共××县委组织部", "2014年3月5日")
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
    title, recipient, *body, issuer, date = paragraphs
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


def test_unknown_notice_and_unwritable_file(rectify, tmp_path):
    assert "notice not found" in rectify("notices", "docx", "999", code=2).output
    rectify("case", "open", "T1-01", who="王强", now="2014-03-05")
    rectify("fire", "T1-01", "confirm", who="李明", now="2014-03-06")
    bad = rectify("notices", "docx", "1", "-o", str(tmp_path / "none" / "x.docx"), code=2)
    assert "cannot write" in bad.output


def test_docx_channel_writes_one_document_per_notice(rectify, tmp_path):
    rectify("case", "open", "T1-01", who="王强", now="2014-03-05")
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
    assert Document(str(files[0])).paragraphs[0].text.startswith("关于将城关镇第1村党支部列为")


def test_docx_channel_failure_is_a_delivery_error(tmp_path):
    import pytest

    from notifiers.base import DeliveryError
    from notifiers.files import DocxChannel, FileSettings

    blocker = tmp_path / "file"
    blocker.write_text("x")
    channel = DocxChannel("p", FileSettings(folder=str(blocker / "sub")))
    with pytest.raises(DeliveryError, match="cannot write"):
        channel.send(Message("k1", "标题", BODY, "t", None), "")
