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
        if template not in templates and templates:  # no templates at all: the loader said so once
            add(("documents", "templates", template), f"没有这个通知模板 / no notice template '{template}'; "
                                                      f"known: {', '.join(sorted(templates))}")
        if kind not in docs.kinds:
            add(("documents", "templates", template), f"未定义的文种 / unknown document kind '{kind}'; "
                                                      f"documents.kinds: {', '.join(docs.kinds) or '(none)'}")


def unknown_facts_in_templates(wf: Workflow, templates: dict[str, str]) -> list[tuple[str, int, str]]:
    """(template, line, message) for each ``case.facts.NAME`` a template writes that the workflow
    does not declare: the sample context accepts any name, so the check is made here."""
    from jinja2 import Environment, TemplateSyntaxError, nodes

    env, found = Environment(), []
    for template, source in sorted(templates.items()):
        try:
            tree = env.parse(source)
        except TemplateSyntaxError:
            continue  # reported with its line by the template's own check
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            assert isinstance(node, (nodes.Getattr, nodes.Getitem))
            inner = node.node
            if not (isinstance(inner, nodes.Getattr) and inner.attr == "facts" and isinstance(inner.node, nodes.Name)
                    and inner.node.name == "case"):
                continue
            name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
            if isinstance(name, str) and name not in wf.facts:
                found.append((template, node.lineno, f"未定义的事实 / unknown fact 'case.facts.{name}'; "
                                                     f"facts: {', '.join(wf.facts)}"))
    return found
