"""Checks of the workflow's ``documents`` section: what makes a notice an official document."""

from __future__ import annotations

import re
from collections.abc import Callable

from engine.spec.definition import Workflow

# What a 发文字号 prefix may be (engine.store.doc_numbers): no spaces nor 〔〕, within the register's width.
PREFIX = re.compile(r"^[^〔〕\s]{1,20}$")


def check_documents(wf: Workflow, templates: dict[str, str], add: Callable[[tuple, str], None]) -> None:
    docs = wf.documents
    if not PREFIX.match(wf.document_prefix):
        add(("document_prefix",), f"发文字号前缀“{wf.document_prefix}”无效：1 至 20 个字符，不含空白和〔〕 / invalid "
                                  "document_prefix: 1 to 20 characters, no spaces or 〔〕")
    for key in ("issuer_role", "addressee_role"):
        role = getattr(docs, key)
        if role is not None and role not in wf.roles:
            add(("documents", key), f"未定义的角色 / unknown role '{role}'; roles: {', '.join(wf.roles)}")
    for kind, spec in docs.kinds.items():
        if spec.prefix is not None and not PREFIX.match(spec.prefix):
            add(("documents", "kinds", kind, "prefix"), f"发文字号前缀“{spec.prefix}”无效：1 至 20 个字符，不含空白和〔〕 / "
                                                        "invalid prefix: 1 to 20 characters, no spaces or 〔〕")
    for template, kind in docs.templates.items():
        if template not in templates:
            add(("documents", "templates", template), f"没有这个通知模板 / no notice template '{template}'; "
                                                      f"known: {', '.join(sorted(templates))}")
        if kind not in docs.kinds:
            add(("documents", "templates", template), f"未定义的文种 / unknown document kind '{kind}'; "
                                                      f"documents.kinds: {', '.join(docs.kinds) or '(none)'}")
