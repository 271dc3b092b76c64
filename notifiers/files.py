"""One text file per notice in a folder, for offices that print them."""

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

    def send(self, message: Message, address: str) -> None:
        folder = Path(self.settings.folder)  # type: ignore[attr-defined]
        name = re.sub(r"[^0-9A-Za-z._-]+", "_", message.key).strip("_") + ".txt"
        text = f"{message.title}\n\n{message.body}\n——\n致：{'、'.join(message.recipients) or '—'}\n编号：{message.key}\n"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{name}.tmp"
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, folder / name)  # atomic: a reader never sees half a notice
        except OSError as exc:
            raise DeliveryError(f"无法写入 {folder} / cannot write to {folder}: {exc}") from exc
