"""Every satisfaction survey a campaign concluded, each round's, read from the events that
concluded it: the dashboard's table and the bulletin's figures are the same numbers.

A survey is found by what decided it, not by names: the transitions guarded by a rule of the
satisfaction kind (``rules.survey.SatisfactionAtLeast``), whatever the workflow calls that
rule, its facts or its states; the figures are the ones the rule recorded in the event.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from engine.base.clock import fmt
from engine.spec.machine import CompiledWorkflow, split_guard
from engine.store import campaign_queries
from engine.store.models import Campaign
from rules.survey import SatisfactionAtLeast

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def satisfaction_rules(compiled: CompiledWorkflow) -> list[str]:
    """The workflow's rule instances that judge satisfaction against a threshold, by name."""
    return sorted(name for name, rule in compiled.loaded.rules.items() if isinstance(rule, SatisfactionAtLeast))


def survey_results(session: Session, campaign: Campaign, compiled: CompiledWorkflow, now: datetime) -> dict[str, Any]:
    """Each concluded survey up to ``now`` (ref, organization, round, at, respondents, satisfied,
    ratio, threshold, passed), with the threshold and the counts passed and failed."""
    wf = compiled.definition
    guards = satisfaction_rules(compiled)
    thresholds = [compiled.loaded.rules[g].params.threshold for g in guards]  # type: ignore[attr-defined]
    sources = {s for t in wf.transitions if any(split_guard(g)[0] in guards for g in t.guards) for s in t.sources}
    rows = []
    for event_round, at, data, ref, name in campaign_queries.transitions_from(session, campaign.id, sources, now):
        verdict = next((data.get("guards", {}).get(g) for g in guards if g in data.get("guards", {})), None)
        figures = verdict.get("figures", {}) if verdict else {}
        if "ratio" not in figures:
            continue
        rows.append({"ref": ref, "organization": name, "round": event_round, "at": fmt(at, wf.timezone, False),
                     "respondents": figures["respondents"], "satisfied": figures["satisfied"],
                     "ratio": figures["ratio"], "threshold": figures["threshold"],
                     "passed": verdict is not None and verdict["outcome"] == "pass"})
    return {"threshold": thresholds[0] if thresholds else None, "rows": rows,
            "passed": sum(r["passed"] for r in rows), "failed": sum(not r["passed"] for r in rows)}


def bands(threshold: float) -> list[tuple[Fraction, Fraction, str]]:
    """The bands of the distribution, highest first: ten points each from 100 % down to the
    threshold, then below it (for 70 %: 90%及以上, 80%—90%, 70%—80%, 低于70%)."""
    low = Fraction(round(threshold * 10_000), 10_000)
    edges, top = [], Fraction(9, 10)
    while top > low:
        edges.append(top)
        top -= Fraction(1, 10)
    edges.append(low)
    out, upper = [], None
    for edge in edges:
        label = f"{_pct(edge)}及以上" if upper is None else f"{_pct(edge)}—{_pct(upper)}"
        out.append((edge, upper if upper is not None else Fraction(2), label))
        upper = edge
    out.append((Fraction(0), low, f"低于{_pct(low)}"))
    return out


def _pct(value: Fraction) -> str:
    text = f"{float(value) * 100:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def distribution(rows: list[dict[str, Any]], threshold: float) -> list[dict[str, Any]]:
    """How many surveys fell in each band (exact fractions: 35/50 is 70 %, in the 70 % band)."""
    counted = []
    for low, high, label in bands(threshold):
        n = sum(1 for r in rows if low <= Fraction(r["satisfied"], r["respondents"]) < high)
        counted.append({"label": label, "count": n})
    return counted
