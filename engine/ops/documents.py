"""Notices as official documents (公文): which kind a notice is, whom it is addressed to (主送)
and copied to (抄送), and its number (发文字号) from the yearly register.

The workflow's ``documents`` section says which templates are documents of which kind (通知,
通报, 督办通知) and the prefix of each kind; a template it does not list is a message (a
reminder), unnumbered. A document's number is taken in the transaction that issues it
(engine.store.doc_numbers), after the notice rendered and only if it goes out: a template
writes ``{{ document.number }}`` and gets a mark the number replaces, so a notice held for a
missing fact, or a transaction rolled back, leaves no gap in the register.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.base.clock import local
from engine.spec.machine import CompiledWorkflow
from engine.store.doc_numbers import format_document_number, next_document_number
from notifiers.render import RenderedNotice

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

NUMBER_MARK = "〔发文字号〕"  # what a template's {{ document.number }} writes until the number is taken
UNNUMBERED = "（暂缓发出，未编号）"  # what it reads in a held notice


def document_context(compiled: CompiledWorkflow, template: str, audience: tuple[str, ...] | list[str],
                     to: str) -> dict[str, Any]:
    """The ``document`` part of a notice's context: its kind ("" for a message), the number's
    mark, the unit it is addressed to (主送) and the roles it is copied to (抄送): those of its
    audience other than the addressee's and the issuer's own."""
    docs = compiled.definition.documents
    kind = docs.templates.get(template, "")
    skip = {docs.issuer_role, docs.addressee_role}
    # a person fact (联系领导) is copied by its label: the people assigned to it
    roles = {**compiled.definition.roles, **{n: f.short_label for n, f in compiled.definition.person_facts.items()}}
    return {"kind": kind, "number": NUMBER_MARK if kind else "", "to": to,
            "cc": [roles[r] for r in audience if r not in skip and r in roles]}


def prefix_of(compiled: CompiledWorkflow, template: str) -> str | None:
    """The number prefix of ``template``'s documents, or None for a message."""
    wf = compiled.definition
    kind = wf.documents.templates.get(template)
    if not kind:
        return None
    spec = wf.documents.kinds.get(kind)
    return (spec.prefix if spec is not None and spec.prefix else None) or wf.document_prefix


def numbered(session: Session, compiled: CompiledWorkflow, rendered: RenderedNotice,
             now: datetime) -> tuple[RenderedNotice, str | None]:
    """``rendered`` with its document number in place of the mark, the number taken from the
    register in the caller's transaction; a held notice (facts missing) or a message gets none."""
    prefix = prefix_of(compiled, rendered.template)
    if prefix is None or rendered.missing:
        return _fill(rendered, UNNUMBERED if prefix is not None else ""), None
    year = local(now, compiled.definition.timezone).year
    number = format_document_number(prefix, year, next_document_number(session, prefix, year))
    return _fill(rendered, number), number


def render_issued(session: Session, compiled: CompiledWorkflow, template: str, context: dict[str, Any],
                  audience: tuple[str, ...] | list[str], now: datetime) -> tuple[RenderedNotice, str | None]:
    """A case's notice as it is issued: rendered with its ``document`` part (addressed to the
    case's superior), then numbered if it is a document that goes out. The one path of a
    transition's notice (engine.ops.notices.queue_notice) and of the daemon's chunks."""
    context = {**context, "document": document_context(compiled, template, audience, context["case"]["superior"])}
    return numbered(session, compiled, compiled.renderer.render(template, context), now)


def _fill(rendered: RenderedNotice, text: str) -> RenderedNotice:
    if NUMBER_MARK not in rendered.title and NUMBER_MARK not in rendered.body:
        return rendered
    return replace(rendered, title=rendered.title.replace(NUMBER_MARK, text),
                   body=rendered.body.replace(NUMBER_MARK, text))
