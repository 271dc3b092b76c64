"""One error tree for the whole project.

Every front end maps the classes to exit codes (or HTTP statuses) through ``exit_code``:
``BadInput`` and its children exit 2 (the user gave something malformed), ``Refused`` and
its children exit 1 (a rule, a permission or a concurrent change said no),
``DatabaseUnavailable`` exits 3 (the database is busy or cannot be reached: nothing was
written, try again). Every message names the offending thing and what to do.

The classes of the other packages hang from this tree too: ``notifiers.base.DeliveryError``
is a ``NotifierError``, ``notifiers.render.NoticeTemplateError`` a ``BadInput``. The one
exception on purpose that is not a ``RectifyError`` is ``engine.base.failpoints.FailpointError``:
it stands for an unexpected crash, which no handler of project errors may take for one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class RectifyError(Exception):
    """Base of every error the project raises on purpose."""

    exit_code = 1


class BadInput(RectifyError):
    """The user gave something malformed or unknown: exit 2."""

    exit_code = 2


class Refused(RectifyError):
    """A rule, a permission or a concurrent change refused the action: exit 1."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One problem found in a definition file, with its place."""

    file: str
    line: int  # 1-based
    column: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class InvalidDefinition(BadInput):
    """A workflow file (or one of its templates) has one or more problems."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        head = f"工作流定义有 {count} 处错误 / the workflow definition has {count} problem(s):"
        super().__init__("\n".join([head, *map(str, self.problems)]))


def _words(kind: str) -> tuple[str, str]:
    """``("channel type", "通知渠道类型")`` from ``"channel type 通知渠道类型"`` (a kind is
    "english 中文"); a kind without a Chinese part is used for both."""
    english, _, chinese = kind.rpartition(" ")
    return (english, chinese) if english else (kind, kind)


class NotFound(BadInput):
    """An organization, case, official, trigger, fact… that does not exist."""

    def __init__(self, kind: str, key: object, hint: str = ""):
        """``kind`` is "english 中文", e.g. "case 整顿对象"."""
        self.kind, self.key, self.hint = kind, key, hint
        super().__init__(self._message())

    def _message(self) -> str:
        english, chinese = _words(self.kind)
        msg = f"未找到{chinese}“{self.key}” / {english} not found: {self.key}"
        return f"{msg}. {self.hint}" if self.hint else msg


class UnknownPlugin(NotFound):
    """A rule, a channel type… that its registry (``engine.base.registry``) does not have.

    Either the name is unknown (``known`` lists the names there are), or ``reason`` says why
    a ``package.module:Name`` path or an installed entry point could not be used: it cannot
    be imported, or it is not what the registry accepts.
    """

    def __init__(self, kind: str, key: str, known: Sequence[str] = (), reason: str = ""):
        self.known, self.reason = list(known), reason
        super().__init__(kind, key)

    def _message(self) -> str:
        english, chinese = _words(self.kind)
        if self.reason:
            return f"无法加载{chinese}“{self.key}” / cannot load {english} '{self.key}': {self.reason}"
        known = ", ".join(self.known) or "—"
        return f"未知的{chinese}“{self.key}” / unknown {english} '{self.key}'; known {english}s: {known}"


class InvalidValue(BadInput):
    """A value given on the command line or in a file is not acceptable."""


class ImportFileError(BadInput):
    """An import file has bad rows; nothing of it was written."""

    def __init__(self, path: str, problems: Sequence[str]):
        self.path, self.problems = path, list(problems)
        head = f"{path}: {len(self.problems)} 处错误，未导入任何数据 / {len(self.problems)} problem(s), nothing imported:"
        super().__init__("\n".join([head, *self.problems]))


class DatabaseError(BadInput):
    """The database named is not usable as given: a bad URL, a missing file or folder, not
    initialised. Exit 2: the fix is in what was typed (or ``rectify init``)."""


class DatabaseUnavailable(RectifyError):
    """An operational failure: the database stayed locked past the busy timeout (and the
    retries), the connection was lost, the server is down or a transaction could not be
    serialised. Nothing was written; the same command can simply be run again: exit 3."""

    exit_code = 3


@dataclass(frozen=True)
class GuardFailure:
    """Why one guard of one candidate transition did not pass."""

    transition: str  # "trigger: source → dest"
    guard: str  # the guard as written, e.g. "not satisfaction_passes"
    reason_zh: str
    reason_en: str

    def __str__(self) -> str:
        return f"[{self.transition}] {self.guard}: {self.reason_zh} / {self.reason_en}"


class TransitionRefused(Refused):
    """No transition of the trigger could fire: the state is wrong or guards failed."""

    def __init__(self, case_ref: str, trigger: str, message: str, failures: Sequence[GuardFailure] = ()):
        self.case_ref, self.trigger, self.failures = case_ref, trigger, list(failures)
        lines = [message, *(f"  - {f}" for f in self.failures)]
        super().__init__("\n".join(lines))


class ReadOnlyDatabase(Refused):
    """The database cannot be written by this user (a read-only file, folder or copy): reading
    commands work, a writing one is refused at once with the reason."""


class PermissionDenied(Refused):
    """The acting official's role or jurisdiction does not allow the action."""


class LoginRefused(Refused):
    """A log-in refused: a wrong name or password (one message for both), a locked or disabled account."""


class CheckFailed(Refused):
    """A verification found a mismatch (a spot-check draw, the audit log): exit 1, nothing refused."""


class Conflict(Refused):
    """Someone else changed the case at the same time; nothing was written."""


class NotifierError(RectifyError):
    """A notice could not be delivered this time (``notifiers.base.DeliveryError``): the delivery
    engine records the message, retries and in the end alerts the administrators. Exit 1 if a
    front end ever meets one; a template that cannot be rendered is a ``BadInput`` instead
    (``notifiers.render.NoticeTemplateError``): the fix is in what the administrators wrote."""
