"""Print notices to standard output (the default channel)."""

from __future__ import annotations

import sys

from notifiers.base import Channel, Message
from notifiers.registry import channel_types


@channel_types.register("console")
class ConsoleChannel(Channel):
    def send(self, message: Message, address: str) -> None:
        to = "、".join(message.recipients) or "—"
        sys.stdout.write(f"【通知】{message.title}（致：{to}）\n")
        sys.stdout.flush()
