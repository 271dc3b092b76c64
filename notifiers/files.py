"""One file per notice in a folder, for offices that print them: text, or an official
document (.docx) laid out by ``notifiers.officialdoc``."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from engine.base.atomic import atomic_write
from notifiers.base import Channel, ChannelSettings, DeliveryError, Message
from notifiers.registry import channel_types

# What a file name cannot hold on the systems a county's offices use: path separators, what
# Windows refuses (a shared folder is often opened from Windows), and whitespace (a name is
# typed in shells). Each run of them becomes "_".
_UNSAFE = re.compile(r'[\\/:*?"<>|\s_]+')
_DOTS = re.compile(r"\.{2,}")
MAX_NAME_BYTES = 200  # UTF-8, suffix included: under the 255 bytes a file name may have
MAX_REF_BYTES = 40  # a case reference is short (2014-1-0007); one from elsewhere is cut
# What a terminal would act on in a .txt notice read with cat or less (escape sequences, a
# carriage return that overwrites the line), and what no printed page shows: removed. Tabs
# and line ends stay.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def file_name(message: Message, suffix: str) -> str:
    """The name of the file a notice gets in the channel's folder: its day, its case and its
    title, then its notice number, e.g. ``2014-03-18_2014-1-0007_逾期督办通报：…_119.txt``.

    Sorted by name, a folder reads by date then case. The number (the one ``rectify notices
    show`` takes) keeps two notices of one case, day and title in two files, and makes the
    name the same on every retry, so a retry rewrites its own file. A message that names no
    notice (a test, a plug-in) is told apart by a digest of its key instead.

    Safe whatever the title holds: no path separator, no character Windows refuses, no
    control or invisible formatting character, no "..", never a leading dot (no hidden file,
    nothing taken for the temporary files of ``engine.base.atomic``), at most
    ``MAX_NAME_BYTES``: a long title is cut and ends with "…".
    """
    unique = str(message.notice_id) if message.notice_id is not None else _digest(message.key)
    tail = f"_{unique}{suffix}"
    head = [part for part in (message.issued.isoformat() if message.issued else "",
                              _fit(_safe(message.case_ref or ""), MAX_REF_BYTES)) if part]
    room = MAX_NAME_BYTES - len(tail.encode()) - sum(len(part.encode()) + 1 for part in head)
    title = _fit(_safe(message.title), room) or "通知"
    return "_".join([*head, title]) + tail


def _safe(text: str) -> str:
    """``text`` as part of a file name (see ``file_name``). Private-use characters stay: some
    offices type rare characters of names (生僻字) that way."""
    kept = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    return _DOTS.sub(".", _UNSAFE.sub("_", kept)).strip("._- ")  # a tab or a line end separates, as a space


def _fit(text: str, room: int) -> str:
    """``text`` cut to ``room`` bytes of UTF-8 on a character boundary, ending with "…" if cut."""
    if len(text.encode()) <= room:
        return text
    cut = text.encode()[:max(room - len("…".encode()), 0)].decode("utf-8", "ignore").rstrip("._- ")
    return f"{cut}…" if cut else ""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def plain_text(text: str) -> str:
    """``text`` fit for a text file a person reads in a terminal (see ``_CONTROL``)."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


class FileSettings(ChannelSettings):
    folder: str


@channel_types.register("file")
class FileChannel(Channel):
    """Writes ``<folder>/<day>_<case>_<title>_<number>.txt`` (see ``file_name``); a retry rewrites
    the same file, so nothing is doubled, and each file is written atomically: a reader never
    sees half a notice."""

    Settings = FileSettings

    suffix = ".txt"

    def send(self, message: Message, address: str) -> None:
        folder = Path(self.settings.folder)  # type: ignore[attr-defined]
        target = folder / file_name(message, self.suffix)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write(target, lambda temporary: self.write(message, temporary))
        except OSError as exc:
            raise DeliveryError(f"无法写入 {folder} / cannot write to {folder}: {exc}") from exc

    def write(self, message: Message, path: Path) -> None:
        number = f"#{message.notice_id}（{message.key}）" if message.notice_id is not None else message.key
        text = (f"{message.title}\n\n{message.body}\n——\n送达：{'、'.join(message.recipients) or '—'}\n"
                f"系统登记号：{number}\n")
        path.write_text(plain_text(text), encoding="utf-8")


@channel_types.register("docx")
class DocxChannel(FileChannel):
    """Writes ``<folder>/<day>_<case>_<title>_<number>.docx``, an official document ready to
    print or edit in WPS."""

    suffix = ".docx"

    def write(self, message: Message, path: Path) -> None:
        from notifiers import officialdoc  # python-docx loads only when used

        # saved straight to the temporary file ``send`` gives (write_notice_docx would add a
        # second temporary file of its own)
        notice = officialdoc.split_notice(message.title, message.body)
        officialdoc.notice_document(notice, message.key).save(str(path))
