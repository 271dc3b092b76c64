"""Notices from Jinja templates, rendered in a sandbox where an undefined variable is an error.

A template's first non-empty line is the notice's title; the rest is its body. Every
notice gets the same context shape (``workflow``, ``case``, ``transition``, ``deadline``,
``now``, ``actor``), with ``None`` where a part does not apply, so checking a template
against ``SAMPLE_CONTEXT`` when the workflow is loaded catches misspelt variables before
a notice is due at 3 a.m.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from engine.base.errors import BadInput

if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment


@dataclass(frozen=True)
class RenderedNotice:
    template: str
    template_hash: str
    title: str
    body: str


class NoticeTemplateError(BadInput):
    """A notice template cannot be rendered (``TEMPLATE:LINE: message``): exit 2, the fix is in
    the template the administrators wrote. The workflow check reports it as a problem of the
    workflow; a notice that fails only on a case's data fails its timer with this message."""

    def __init__(self, template: str, line: int, message: str):
        self.template, self.line, self.message = template, line, message
        super().__init__(f"{template}:{line}: {message}")


def template_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


class NoticeRenderer:
    """Renders the notice templates of one deployed workflow version.

    Jinja is imported and the environment built on the first render or check, not when
    the workflow is compiled: most commands (``case show``, ``case list``) render nothing.
    """

    def __init__(self, sources: Mapping[str, str]):
        self.sources = dict(sources)

    @cached_property
    def _env(self) -> ImmutableSandboxedEnvironment:
        from jinja2 import DictLoader, StrictUndefined
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        return ImmutableSandboxedEnvironment(
            loader=DictLoader(self.sources), undefined=StrictUndefined,
            autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
        )

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedNotice:
        from jinja2 import TemplateError, TemplateSyntaxError

        if name not in self.sources:
            raise NoticeTemplateError(name, 1, f"no template '{name}'; known: {', '.join(sorted(self.sources))}")
        try:
            text = self._env.get_template(name).render(**context)
        except TemplateSyntaxError as exc:
            raise NoticeTemplateError(name, exc.lineno or 1, f"template syntax error: {exc.message}") from exc
        except TemplateError as exc:
            raise NoticeTemplateError(name, _error_line(exc), f"template error: {exc}") from exc
        title, _, body = text.strip().partition("\n")
        return RenderedNotice(name, template_hash(self.sources[name]), title.strip(), body.strip() + "\n")

    def check(self, name: str, context: Mapping[str, Any] | None = None) -> NoticeTemplateError | None:
        """Find unknown variables (in every branch) and render against a sample context.

        ``context`` is the shape a particular use gets (e.g. ``deadline`` is None for a
        transition's notice); without it, every part is filled in.
        """
        context = SAMPLE_CONTEXT if context is None else context
        try:
            self._check_names(name, context)
            self.render(name, context)
        except NoticeTemplateError as exc:
            return exc
        return None

    def _check_names(self, name: str, context: Mapping[str, Any]) -> None:
        from jinja2 import TemplateSyntaxError, meta, nodes

        # Rendering only walks the branches the sample takes; the syntax tree shows them all.
        try:
            tree = self._env.parse(self.sources[name])
        except TemplateSyntaxError as exc:
            raise NoticeTemplateError(name, exc.lineno or 1, f"template syntax error: {exc.message}") from exc
        for var in sorted(meta.find_undeclared_variables(tree)):
            if var not in SAMPLE_CONTEXT:
                line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == var), 1)
                raise NoticeTemplateError(name, line, f"unknown variable '{var}'; known: {', '.join(SAMPLE_CONTEXT)}")
        for node in tree.find_all(nodes.Getattr):
            if isinstance(node.node, nodes.Name) and isinstance(SAMPLE_CONTEXT.get(node.node.name), dict):
                known = SAMPLE_CONTEXT[node.node.name]
                if node.attr not in known:
                    raise NoticeTemplateError(name, node.lineno, f"'{node.node.name}' has no field '{node.attr}'; "
                                                                 f"fields: {', '.join(known)}")


def _error_line(exc: BaseException) -> int:
    tb = exc.__traceback__
    line = 1
    while tb is not None:  # the innermost frame compiled from the template carries its line
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


SAMPLE_CONTEXT: dict[str, Any] = {
    "workflow": {"name": "backward_orgs", "title": "整顿后进基层党组织专项整治", "year": 2014,
                 "issuer": "中共××县委组织部"},
    "case": {
        "ref": "C2014-0001", "organization": "××镇××村党支部", "org_code": "T01-001",
        "township": "××镇党委", "superior": "××镇党委", "state": "rectifying", "state_label": "整顿转化",
        "round": 1, "key_target": True, "weak_and_lax": False,
        "problems": ["班子配备不齐、书记缺职、工作停滞"], "flags": ["拉票贿选"],
        "secretary": "张三", "secretary_phone": "13800000000",
    },
    "transition": {"trigger": "confirm", "label": "确认列为整顿对象", "source": "screening",
                   "source_label": "排查建账", "dest": "rectifying", "dest_label": "整顿转化", "note": ""},
    "deadline": {"kind": "deadline", "due": "2014-11-30", "label": "整顿转化", "offset": "7 days",
                 "days": 7, "notice_label": ""},
    "now": "2014-03-20",
    "actor": "县委组织部 李四",
    "bulletin": {"period": "2014年5月", "number": 3, "total": 16,
                 "by_state": [{"state": "rectifying", "label": "整顿转化", "count": 12}],
                 "overdue": [{"ref": "C2014-0001", "organization": "××村党支部", "township": "××镇党委",
                              "state_label": "整顿转化", "due": "2014-11-30"}],
                 "accepted": 0, "re_rectify": 0, "average_satisfaction": None},
}


def sample_context(kind: str) -> dict[str, Any]:
    """The sample context with the parts a notice of ``kind`` does not get set to None.

    Case notices have no ``bulletin``; the county bulletin has no ``case``.
    """
    context = dict(SAMPLE_CONTEXT)
    if kind != "transition":
        context["transition"] = None
    if kind != "deadline":
        context["deadline"] = None
    if kind != "bulletin":
        context["bulletin"] = None
    else:
        context["case"] = None
    return context
