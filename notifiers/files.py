"""One file per notice in a folder, for offices that print them: text, or an official
document (.docx) laid out by ``notifiers.officialdoc``."""

from __future__ import annotations

import os
import re
from pathlib import Path

from notifiers.base import Channel, ChannelSettings, DeliveryError, Message
from notifiers.registry import channel_types


class FileSettings(ChannelSettings):
    folder: str


@channel_types.register("file")
class FileChannel(Channel):
    """Writes ``<folder>/<key>.txt``; a retry rewrites the same file, so nothing is doubled."""

    Settings = FileSettings

    suffix = ".txt"

    def send(self, message: Message, address: str) -> None:
        folder = Path(self.settings.folder)  # type: ignore[attr-defined]
        name = re.sub(r"[^0-9A-Za-z._-]+", "_", message.key).strip("_") + self.suffix
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{name}.tmp"
            self.write(message, tmp)
            os.replace(tmp, folder / name)  # atomic: a reader never sees half a notice
        except OSError as exc:
            raise DeliveryError(f"无法写入 {folder} / cannot write to {folder}: {exc}") from exc

    def write(self, message: Message, path: Path) -> None:
        text = f"{message.title}\n\n{message.body}\n——\n致：{'、'.join(message.recipients) or '—'}\n编号：{message.key}\n"
        path.write_text(text, encoding="utf-8")


@channel_types.register("docx")
class DocxChannel(FileChannel):
    """Writes ``<folder>/<key>.docx``, an official document ready to print or edit in WPS."""

    suffix = ".docx"

    def write(self, message: Message, path: Path) -> None:
        from notifiers.officialdoc import write_notice_docx  # python-docx loads only when used

        write_notice_docx(message.title, message.body, path, message.key)
