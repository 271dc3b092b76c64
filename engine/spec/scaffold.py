"""A county's own campaign from the shipped one: ``rectify workflow new DIR --year … --issuer …``.

The shipped workflow is the source document's 2014 campaign signed 中共××县委组织部. A county
deploying it as it is would get someone else's campaign, twelve years late. The scaffold writes
an editable copy — the YAML, its notice templates and nothing else — with the county's year,
issuing unit and document-number prefix filled in, and checks the copy before it reports
success: a folder it leaves behind always passes ``rectify workflow check``.

The values are replaced on their own lines of the YAML text (not by dumping parsed YAML), so
every comment and the layout an administrator will edit stay as they are.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.base.errors import BadInput
from engine.base.text import one_line
from engine.spec.loader import (
    CALENDAR_FILE,
    TEMPLATE_DIR,
    TEMPLATE_SUFFIX,
    LoadedWorkflow,
    load_workflow_file,
)

# The top-level keys the scaffold fills in, each on a line of its own in the shipped YAML.
FILLED = ("name", "year", "issuer", "document_prefix")


@dataclass(frozen=True)
class Scaffold:
    """What ``rectify workflow new`` was asked to fill in; None keeps the shipped value."""

    year: int
    issuer: str
    document_prefix: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Written:
    folder: Path
    workflow_file: Path
    templates: list[str]
    loaded: LoadedWorkflow


def write_scaffold(source: Path, folder: Path, wanted: Scaffold) -> Written:
    """Copy the workflow ``source`` (and its templates, and its calendar if any) into the new
    folder ``folder`` with ``wanted`` filled in; nothing is left behind if anything fails."""
    _check_values(wanted)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BadInput(f"{folder} 已存在且不是空目录，未写入任何内容 / {folder} already exists and is not an empty "
                       "folder: nothing was written (choose a new folder name)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        text = fill_in(source.read_text(encoding="utf-8"), wanted)
        (staging / source.name).write_text(text, encoding="utf-8")
        templates = _copy_templates(source.parent / TEMPLATE_DIR, staging / TEMPLATE_DIR)
        if (source.parent / CALENDAR_FILE).is_file():
            shutil.copyfile(source.parent / CALENDAR_FILE, staging / CALENDAR_FILE)
        load_workflow_file(staging / source.name)  # InvalidDefinition (bad input): nothing kept
        staging.chmod(0o777 & ~_umask())  # mkdtemp's 0700 is for the staging only
        if folder.exists():
            folder.rmdir()  # an empty folder given by its name: replaced by the checked copy
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # Loaded again where it now lives, so that its warnings name the files the user will edit.
    return Written(folder, folder / source.name, templates, load_workflow_file(folder / source.name))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fill_in(text: str, wanted: Scaffold) -> str:
    """The YAML ``text`` with each wanted top-level value replaced on its own line, the line's
    comment kept; a key the text lacks is added after ``title``."""
    values = {"name": wanted.name, "year": str(wanted.year), "issuer": wanted.issuer,
              "document_prefix": wanted.document_prefix}
    for key in FILLED:
        value = values[key]
        if value is None:
            continue
        new = f"{key}: {value if key == 'year' else _yaml_string(value)}"
        found = re.search(rf"^{key}:[^#\n]*(?P<comment>#[^\n]*)?$", text, re.M)
        if found:
            text = text[:found.start()] + _with_comment(new, found) + text[found.end():]
        else:
            title = re.search(r"^title:[^\n]*\n", text, re.M)
            at = title.end() if title else 0
            text = text[:at] + new + "\n" + text[at:]
    return _own_series(text, wanted.document_prefix)


def _own_series(text: str, prefix: str | None) -> str:
    """The shipped document kinds' own prefixes (督办通知 ``×组督``) made the county's: ×组通
    given as 某组通 makes ×组督 某组督. A prefix not of the ``…组通`` form leaves them as they are
    for the administrator to set (``workflow check`` accepts either)."""
    if not prefix or not prefix.endswith("组通") or len(prefix) < 3:
        return text
    county = prefix[:-2]
    return re.sub(r"(\{prefix: )×组", lambda m: f"{m[1]}{county}组", text)


def _with_comment(new: str, match: re.Match[str]) -> str:
    """``new`` with the replaced line's comment kept in its column (or one space after)."""
    comment = match.group("comment")
    if not comment:
        return new
    column = match.start("comment") - match.start()
    return new + " " * max(1, column - len(new)) + comment


def _yaml_string(value: str) -> str:
    """A YAML scalar that reads back as ``value`` exactly: a JSON string is valid YAML."""
    return json.dumps(value, ensure_ascii=False)


def _copy_templates(source: Path, target: Path) -> list[str]:
    if not source.is_dir():
        raise BadInput(f"找不到模板目录 / no templates folder beside the workflow: {source}")
    target.mkdir()
    copied = []
    for file in sorted(source.glob("*" + TEMPLATE_SUFFIX)):
        shutil.copyfile(file, target / file.name)
        copied.append(file.name)
    return copied


def _check_values(wanted: Scaffold) -> None:
    if not 2000 <= wanted.year <= 2100:
        raise BadInput(f"活动年度须在2000至2100之间 / --year must be between 2000 and 2100, not {wanted.year}")
    one_line(wanted.issuer, "发文单位", "the issuing unit (--issuer)", 100)
    if wanted.document_prefix is not None:
        one_line(wanted.document_prefix, "发文字号前缀", "the document-number prefix (--doc-prefix)", 20)
    if wanted.name is not None and not re.fullmatch(r"[a-z][a-z0-9_]*", wanted.name):
        raise BadInput(f"工作流名称只能用小写字母、数字和下划线 / --name must be lowercase letters, digits and "
                       f"underscores, starting with a letter: '{wanted.name}'")
