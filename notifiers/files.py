"""One file per notice in a folder, for offices that print them: text, or an official
document (.docx) laid out by ``notifiers.officialdoc``."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from engine.base.atomic import atomic_write
from notifiers.base import Channel, ChannelSettings, DeliveryError, Message
from notifiers.registry import channel_types

_UNSAFE = re.compile(r"[^0-9A-Za-z._-]+")
_DOTS = re.compile(r"\.{2,}")
# The keys the system makes (2014-1-0001:event:2:case_listed|printed|): only these characters,
# dots never leading nor doubled. Their names are the key with ":" and "|" made "_", as before.
_SYSTEM_KEY = re.compile(r"[0-9A-Za-z_:|-]+(?:\.[0-9A-Za-z_:|-]+)*\.?")
MAX_STEM = 150  # characters (ASCII): well under the 255 bytes a file name may have, suffix included
# What a terminal would act on in a .txt notice read with cat or less (escape sequences, a
# carriage return that overwrites the line), and what no printed page shows: removed. Tabs
# and line ends stay.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def file_name(key: str, suffix: str) -> str:
    """The name of the file a notice's delivery key gets in the channel's folder.

    Only ASCII letters, digits, "_", "-" and single dots: no path separator, no control
    character, no "..", and never a leading dot (no hidden file, nothing taken for the
    temporary files of ``engine.base.atomic``), so the file always lands in the folder itself.
    The same key gives the same name (a retry rewrites its file). A key of another shape (a
    channel named in Chinese, anything from outside) or one that had to be shortened ends
    with a digest of the whole key, so that two keys that read alike here keep two files.
    """
    stem = _DOTS.sub("_", _UNSAFE.sub("_", key)).strip("._")
    if not stem or len(stem) > MAX_STEM or not _SYSTEM_KEY.fullmatch(key):
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        stem = f"{stem[:MAX_STEM - len(digest) - 1].rstrip('._')}_{digest}".lstrip("_")
    return stem + suffix


def plain_text(text: str) -> str:
    """``text`` fit for a text file a person reads in a terminal (see ``_CONTROL``)."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


class FileSettings(ChannelSettings):
    folder: str


@channel_types.register("file")
class FileChannel(Channel):
    """Writes ``<folder>/<key>.txt`` (see ``file_name``); a retry rewrites the same file, so
    nothing is doubled, and each file is written atomically: a reader never sees half a notice."""

    Settings = FileSettings

    suffix = ".txt"

    def send(self, message: Message, address: str) -> None:
        folder = Path(self.settings.folder)  # type: ignore[attr-defined]
        target = folder / file_name(message.key, self.suffix)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write(target, lambda temporary: self.write(message, temporary))
        except OSError as exc:
            raise DeliveryError(f"无法写入 {folder} / cannot write to {folder}: {exc}") from exc

    def write(self, message: Message, path: Path) -> None:
        text = f"{message.title}\n\n{message.body}\n——\n致：{'、'.join(message.recipients) or '—'}\n编号：{message.key}\n"
        path.write_text(plain_text(text), encoding="utf-8")


@channel_types.register("docx")
class DocxChannel(FileChannel):
    """Writes ``<folder>/<key>.docx``, an official document ready to print or edit in WPS."""

    suffix = ".docx"

    def write(self, message: Message, path: Path) -> None:
        from notifiers import officialdoc  # python-docx loads only when used

        # saved straight to the temporary file ``send`` gives (write_notice_docx would add a
        # second temporary file of its own)
        notice = officialdoc.split_notice(message.title, message.body)
        officialdoc.notice_document(notice, message.key).save(str(path))
