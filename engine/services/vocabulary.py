"""The words of the deployed workflows — roles, facts, triggers, states, problem categories and
key-target circumstances — for help texts and shell completion (``commands/valid_values.py``).

Read without a caller's rights, on purpose: a workflow's vocabulary is the campaign's published
definition, not case data (any official reads it with ``workflow show --deployed``), and a help
screen must neither need a registered login nor record a refusal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.ops.deploy import campaigns, compiled_version

if TYPE_CHECKING:
    from engine.spec.definition import Workflow
    from engine.store.db import Store


def deployed_definitions(store: Store) -> list[tuple[Workflow, str]]:
    """The definition each campaign runs on now, with its ``name vN``; empty when none is deployed."""
    def work(session) -> list[tuple[Workflow, str]]:
        return [(compiled_version(c.current_version).definition,
                 f"{c.workflow_name} v{c.current_version.version}") for c in campaigns(session)]
    return store.read(work)
