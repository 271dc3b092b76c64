"""Notices as printable official documents (.docx), laid out after GB/T 9704-2012
(党政机关公文格式), so an office can print them or edit them in WPS or Word.

A rendered notice is plain text: its title, its number (发文字号) if it is a numbered
document, the recipient line (主送机关, ending in "："), the body, then the issuing unit
(发文机关署名), the date (成文日期) and the 抄送 line. ``split_notice``
recovers those parts; ``notice_document`` lays them out: A4 with the standard margins, the
title in 2号小标宋 centred, the body in 3号仿宋 with a two-character first-line indent on
a fixed 28-point line, the signature and date right-aligned four characters in, and the
page number "— 1 —" at the foot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from engine.base.atomic import atomic_write

TITLE_FONT, BODY_FONT, NUMBER_FONT = "方正小标宋简体", "仿宋_GB2312", "宋体"
TITLE_SIZE, BODY_SIZE, NUMBER_SIZE = Pt(22), Pt(16), Pt(14)  # 2号, 3号, 4号
PROPERTY_LIMIT = 255  # characters in a core property (python-docx)
LINE = Pt(28)  # 22 lines on a page of 225 mm, as the standard asks
# Characters a .docx cannot hold, removed from every text: those XML 1.0 forbids (python-docx
# would refuse the whole document with "All strings must be XML compatible"), DEL and the C1
# controls, which no printed page shows. A stray control character typed into a name must not
# stop a notice from being filed. Tabs and line ends stay: python-docx writes them as <w:tab/>
# and <w:br/>; carriage returns become line ends. Text goes into runs as text, never as markup
# or fields: python-docx escapes it.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_CN_DATE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")


# 发文字号: ×组通〔2014〕12号 (engine.store.doc_numbers), or the mark of a held notice.
_NUMBER = re.compile(r"^[^〔〕\s]+〔\d{4}〕[1-9]\d*号$|^（暂缓发出，未编号）$|^〔发文字号〕$")


@dataclass(frozen=True)
class OfficialNotice:
    title: str
    recipient: str = ""
    paragraphs: list[str] = field(default_factory=list)
    issuer: str = ""
    date: str = ""  # 2014年3月18日
    number: str = ""  # 发文字号
    copied: str = ""  # the 抄送 line of the 版记


def clean_text(text: str) -> str:
    """``text`` without the characters a .docx cannot hold (see ``_CONTROL``)."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _property(text: str) -> str:
    """A document property (title, author…): clean text, cut to the 255 characters python-docx
    allows (it refuses the whole document otherwise); the page itself shows the whole title."""
    return clean_text(text)[:PROPERTY_LIMIT]


def chinese_date(text: str) -> str:
    """``2014-03-18`` → ``2014年3月18日`` (the standard's form); other text unchanged."""
    m = _ISO_DATE.match(text.strip())
    return f"{int(m[1])}年{int(m[2])}月{int(m[3])}日" if m else text.strip()


def split_notice(title: str, body: str) -> OfficialNotice:
    """The parts of a rendered notice, as the shipped templates lay them out."""
    title, body = clean_text(title), clean_text(body)  # first: splitlines() breaks at \x0b, \x1c…
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    number = lines.pop(0) if lines and _NUMBER.match(lines[0]) else ""
    recipient = lines.pop(0) if lines and lines[0].endswith(("：", ":")) else ""
    copied = lines.pop() if lines and lines[-1].startswith("抄送：") else ""
    date = issuer = ""
    if lines and (_ISO_DATE.match(lines[-1]) or _CN_DATE.match(lines[-1])):
        date = chinese_date(lines.pop())
        # A short last line with no sentence punctuation is the issuing unit.
        if lines and len(lines[-1]) <= 30 and not re.search(r"[。；！？，]", lines[-1]):
            issuer = lines.pop()
    return OfficialNotice(title.strip(), recipient, lines, issuer, date, number, copied)


def _font(run, name: str, size: Pt, bold: bool = False) -> None:
    run.font.name, run.font.size, run.font.bold = name, size, bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)  # CJK text uses this


def _paragraph(doc, text: str, align, indent_chars: float = 0, right_chars: float = 0,
               font: str = BODY_FONT, size: Pt = BODY_SIZE, bold: bool = False):
    p = doc.add_paragraph()
    p.alignment = align
    fmt = p.paragraph_format
    fmt.line_spacing_rule, fmt.line_spacing = WD_LINE_SPACING.EXACTLY, LINE if size == BODY_SIZE else Pt(size.pt * 1.5)
    fmt.space_before = fmt.space_after = Pt(0)
    if indent_chars:
        fmt.first_line_indent = Pt(size.pt * indent_chars)
    if right_chars:
        fmt.right_indent = Pt(size.pt * right_chars)
    if text:
        _font(p.add_run(clean_text(text)), font, size, bold)  # one run: text, never markup
    return p


def _page_number_footer(section) -> None:
    p = section.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(p.add_run("— "), NUMBER_FONT, NUMBER_SIZE)
    field_run = p.add_run()
    _font(field_run, NUMBER_FONT, NUMBER_SIZE)
    for kind, text in (("begin", None), (None, " PAGE "), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        field_run._element.append(element)
    _font(p.add_run(" —"), NUMBER_FONT, NUMBER_SIZE)


def notice_document(notice: OfficialNotice, key: str = ""):
    """A python-docx Document of the notice, laid out as an official document."""
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    _page_number_footer(section)
    doc.core_properties.title = _property(notice.title)
    doc.core_properties.author = _property(notice.issuer)
    if key:
        doc.core_properties.identifier = _property(key)  # the notice's idempotency key, for tracing a printout
    if notice.number:  # 发文字号, centred above the title
        _paragraph(doc, notice.number, WD_ALIGN_PARAGRAPH.CENTER)
        _paragraph(doc, "", WD_ALIGN_PARAGRAPH.LEFT)
    _paragraph(doc, notice.title, WD_ALIGN_PARAGRAPH.CENTER, font=TITLE_FONT, size=TITLE_SIZE)
    _paragraph(doc, "", WD_ALIGN_PARAGRAPH.LEFT)  # one blank line below the title
    if notice.recipient:
        _paragraph(doc, notice.recipient, WD_ALIGN_PARAGRAPH.JUSTIFY)
    for text in notice.paragraphs:
        _paragraph(doc, text, WD_ALIGN_PARAGRAPH.JUSTIFY, indent_chars=2)
    if notice.issuer or notice.date:
        _paragraph(doc, "", WD_ALIGN_PARAGRAPH.LEFT)
        _paragraph(doc, "", WD_ALIGN_PARAGRAPH.LEFT)
        if notice.issuer:
            _paragraph(doc, notice.issuer, WD_ALIGN_PARAGRAPH.RIGHT, right_chars=4)
        if notice.date:
            _paragraph(doc, notice.date, WD_ALIGN_PARAGRAPH.RIGHT, right_chars=4)
    if notice.copied:  # the 版记 at the foot: 抄送 one character in from the left
        _paragraph(doc, "", WD_ALIGN_PARAGRAPH.LEFT)
        _paragraph(doc, notice.copied, WD_ALIGN_PARAGRAPH.LEFT, size=NUMBER_SIZE).paragraph_format.left_indent = \
            Pt(NUMBER_SIZE.pt)
    return doc


def write_notice_docx(title: str, body: str, path: Path, key: str = "") -> None:
    """The notice as a .docx at ``path``, laid out first, then written atomically: a failure
    leaves any previous file as it was."""
    document = notice_document(split_notice(title, body), key)
    atomic_write(path, lambda temporary: document.save(str(temporary)))
