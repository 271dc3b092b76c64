"""What kind of file a piece of evidence is, judged by its content, never by its name.

A checker opens evidence on an office computer: a file named 整改方案.pdf that is really a web
page or a program must never get into the store. So the first bytes (and, for a ZIP or an OLE2
compound file, its table of contents) decide: PDF, PNG, JPEG, GIF, WebP, Office Open XML
(docx/xlsx/pptx: a ZIP holding ``[Content_Types].xml``), legacy Office (doc/xls/ppt: an OLE2
file holding a Word, Excel or PowerPoint stream) and OFD (the Chinese electronic document: a ZIP
holding ``OFD.xml``). Anything else is refused with what it looks like.
"""

from __future__ import annotations

import zipfile
from typing import BinaryIO

from engine.base.errors import InvalidValue

ACCEPTED_ZH = "PDF、PNG、JPEG、GIF、WebP 图片、Word/Excel/PowerPoint 文档（docx/xlsx/pptx、doc/xls/ppt）、OFD"
ACCEPTED_EN = "PDF, PNG, JPEG, GIF, WebP, Word/Excel/PowerPoint (docx/xlsx/pptx, doc/xls/ppt), OFD"

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP = b"PK\x03\x04"
OOXML = {"word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation"}
# The stream an OLE2 file of each legacy Office program holds (UTF-16LE names in its directory):
# an installer (.msi) or an Outlook message is OLE2 too, and is not a document.
OLE2_STREAMS = {"WordDocument": "application/msword", "Workbook": "application/vnd.ms-excel",
                "Book": "application/vnd.ms-excel", "PowerPoint Document": "application/vnd.ms-powerpoint"}
OFD = "application/ofd"
LABELS = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF",
          "image/webp": "WebP", OOXML["word/"]: "Word (docx)", OOXML["xl/"]: "Excel (xlsx)",
          OOXML["ppt/"]: "PowerPoint (pptx)", "application/msword": "Word (doc)",
          "application/vnd.ms-excel": "Excel (xls)", "application/vnd.ms-powerpoint": "PowerPoint (ppt)",
          OFD: "OFD"}
_SCAN_CHUNK = 1 << 20


def media_type(file: BinaryIO, name: str) -> str:
    """The media type of the open, seekable ``file`` (shown as ``name`` in a refusal), or
    ``InvalidValue`` (exit 2) saying what it looks like and what is accepted."""
    file.seek(0)
    head = file.read(16)
    simple = _by_signature(head)
    if simple is not None:
        return simple
    if head.startswith(ZIP):
        return _zip_type(file, name)
    if head.startswith(OLE2):
        return _ole2_type(file, name)
    raise refused(name, _looks_like(head))


def label(media: str) -> str:
    """A media type as officials know it (PDF, Word (docx)…)."""
    return LABELS.get(media, media)


def refused(name: str, what: tuple[str, str]) -> InvalidValue:
    """The refusal of ``name``, which looks like ``what`` (中文, English)."""
    return InvalidValue(f"“{name}”不是可接受的证据文件类型（按内容判断是{what[0]}），未保存任何内容；可接受 {ACCEPTED_ZH} / "
                        f"'{name}' is not an accepted kind of evidence file (by its content, {what[1]}); nothing was "
                        f"stored. Accepted: {ACCEPTED_EN}")


def _by_signature(head: bytes) -> str | None:
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _zip_type(file: BinaryIO, name: str) -> str:
    """An Office Open XML package (by its part folders) or an OFD file; any other ZIP is refused."""
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise refused(name, ("损坏的 ZIP 压缩包", "a damaged ZIP archive")) from None
    if "OFD.xml" in names:
        return OFD
    if "[Content_Types].xml" in names:
        for folder, media in OOXML.items():
            if any(n.startswith(folder) for n in names):
                return media
        raise refused(name, ("不是文档、表格或演示文稿的 Office 包",
                             "an Office package that is not a document, a workbook or a presentation"))
    raise refused(name, ("ZIP 压缩包", "a ZIP archive"))


def _ole2_type(file: BinaryIO, name: str) -> str:
    """A legacy Office file, by the stream its program writes (found in the compound file's
    directory, UTF-16LE names); other OLE2 files (installers, mail) are refused."""
    needles = {stream.encode("utf-16-le") + b"\x00\x00": media for stream, media in OLE2_STREAMS.items()}
    overlap = max(len(n) for n in needles)
    file.seek(0)
    tail = b""
    while chunk := file.read(_SCAN_CHUNK):
        window = tail + chunk
        for needle, media in needles.items():
            if needle in window:
                return media
        tail = window[-overlap:]
    raise refused(name, ("非 Word/Excel/PowerPoint 的 OLE2 复合文件（如安装程序）",
                         "an OLE2 compound file that is not Word, Excel or PowerPoint (an installer, a mail message…)"))


def _looks_like(head: bytes) -> tuple[str, str]:
    """What a refused file seems to be, for the message."""
    if not head:
        return ("空文件", "an empty file")
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")):
        return ("可执行程序", "an executable program")
    if head.startswith(b"#!"):
        return ("脚本", "a script")
    if lowered.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<script", b"<svg", b"<?xml")):
        return ("网页或 XML", "a web page or XML")
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return ("文本", "text")
    return ("未知格式", "an unknown format")
