"""The county dashboard as one self-contained HTML page: no script, no web font, charts in SVG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from engine.base.atomic import atomic_write
from engine.reports import svgcharts

TEMPLATES = Path(__file__).parent / "templates"


def charts(d: dict[str, Any]) -> dict[str, Markup]:
    """The dashboard's charts from its figures (see ``engine.reports.dashboard``)."""
    colours = {s["state"]: svgcharts.colour(i) for i, s in enumerate(d["states"])}
    shown = [s for s in d["states"] if s["count"]] or d["states"]
    out = {
        "by_state": svgcharts.bars("by-state", "各阶段整顿对象数", [(s["label"], s["count"], colours[s["state"]])
                                                              for s in d["states"]]),
        "by_township": svgcharts.stacked_bars(
            "by-township", "各乡镇（街道）整顿对象数（按阶段）",
            [(t["name"], [t["counts"][s["state"]] for s in shown]) for t in d["townships"]],
            [(s["label"], colours[s["state"]]) for s in shown]),
        "progress": svgcharts.stacked_area(
            "progress", "整顿进度", d["progress"]["dates"],
            [(s["label"], colours[s["state"]], s["values"]) for s in d["progress"]["series"]]),
        "surveys": "", "quota": "",
    }
    survey = d["surveys"]
    if survey["rows"]:
        out["surveys"] = svgcharts.ratio_bars(
            "surveys", "群众满意度测评结果", [(f"{r['organization'][:10]}·{r['round']}", r["ratio"], r["passed"])
                                      for r in survey["rows"]],
            survey["threshold"], mark_label=f"阈值 {survey['threshold']:.0%}", top=1.0)
    quota = d["quota"]
    if quota:
        band = (max(quota["target"] - quota["tolerance"], 0), quota["target"] + quota["tolerance"])
        out["quota"] = svgcharts.ratio_bars(
            "quota", "后进比例", [(r["name"].removeprefix("中共").removesuffix("委员会"), r["ratio"],
                                 r["outcome"] == "pass") for r in quota["rows"]],
            quota["target"], band=band, mark_label=f"目标 {quota['target']:.0%}")
    return {name: Markup(svg) for name, svg in out.items()}  # our own SVG, its text already escaped


def render_dashboard(d: dict[str, Any]) -> str:
    """The page as text. Every value is escaped: autoescape is on outright (this environment
    renders nothing but this HTML page, so nothing should hang on the template's file name), and
    the only markup let through is the charts' SVG (``charts``), whose labels svgcharts escapes;
    the template marks nothing ``|safe``."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    quota_rows = d["quota"]["rows"] if d["quota"] else []
    ratios = [r["ratio"] for r in d["surveys"]["rows"]]
    return env.get_template("dashboard.html.j2").render(
        d=d, charts=charts(d),
        accepted=sum(s["count"] for s in d["states"] if s["final"]),
        average=f"{sum(ratios) / len(ratios):.1%}" if ratios else "—",
        quota_by_name={r["name"]: r for r in quota_rows[:-1]},
        quota_total=quota_rows[-1] if quota_rows else None)


def write_dashboard(d: dict[str, Any], path: Path) -> None:
    """Rendered first, then written atomically: a failure leaves the previous page as it was."""
    page = render_dashboard(d)
    atomic_write(path, lambda temporary: temporary.write_text(page, encoding="utf-8"))
