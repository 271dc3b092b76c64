"""County-wide figures: the ledger (both ways), the quota, the dashboard and the bulletin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli import (
    AS_JSON,
    CAMPAIGN,
    Settings,
    console,
    emit_json,
    esc,
    pass_settings,
    say,
    shown,
    table,
    write_output,
)
from commands.valid_values import Command, Group
from engine.services import reports


@click.group(cls=Group)
def ledger() -> None:
    """台账：后进基层党组织情况汇总表 / The ledger, as XLSX, CSV or HTML, both ways."""


@ledger.command("export")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "html"]), default="xlsx", show_default=True,
              help="文件格式 / file format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="写入的文件 / file to write (default: 后进基层党组织情况汇总表.<format>).")
@click.option("--unit", help="填表单位 / the reporting unit (default: the workflow's issuer).")
@click.option("--reporter", default="", help="填报人及联系方式 / the reporter and how to reach them.")
@click.option("--with-evidence", "package", type=click.Path(dir_okay=False), metavar="OUT.zip",
              help="写出档案包：汇总表及各整顿对象的证据文件、清单.csv / write the archive package instead: the "
                   "ledger, every case's evidence files in folders by township and case, and 清单.csv.")
@CAMPAIGN
@pass_settings
def ledger_export(settings: Settings, fmt: str, output: str | None, unit: str | None, reporter: str,
                  package: str | None, campaign_ref: str | None) -> None:
    """导出台账 / Export the ledger.

    按附件《后进基层党组织情况汇总表》的格式写出专项整治的整顿对象，可直接打印；加 --with-evidence 则写出档案包（zip），每个文件打包时核对哈希。

    Writes the campaign's cases in the attachment's layout, ready to print; with
    --with-evidence, a zip archive with every evidence file, each verified as it is packed."""
    from engine.ops.ledger import TITLE
    from engine.reports.ledger_files import write_csv, write_html, write_xlsx

    if package is not None:
        _export_package(settings, Path(package), fmt, output, unit, reporter, campaign_ref)
        return

    path = Path(output or f"{TITLE}.{fmt}")
    writer = {"xlsx": write_xlsx, "csv": write_csv, "html": write_html}[fmt]
    def save(book) -> None:  # the rows stream from the service's snapshot into the file
        write_output(path, lambda target: writer(book, target), atomic=False)

    written = shown(reports.export_ledger(settings.store, settings.caller, save, unit=unit, reporter=reporter,
                                          campaign_ref=campaign_ref))
    say(f"已导出 / exported {written} 行 rows: {path}")


def _export_package(settings: Settings, path: Path, fmt: str, output: str | None, unit: str | None, reporter: str,
                    campaign_ref: str | None) -> None:
    from engine.base.errors import BadInput
    from engine.services import evidence

    if output is not None:
        raise BadInput("--with-evidence 与 --output 只能给出一个 / give --with-evidence OUT.zip or --output, not both")
    packed = shown(evidence.export_package(settings.store, settings.caller, settings.evidence, path, fmt_=fmt,
                                           unit=unit, reporter=reporter, campaign_ref=campaign_ref))
    say(f"已导出档案包 / archive written: {packed.path}（{packed.rows} 行 rows，{packed.files} 个证据文件 evidence "
        f"files，{packed.size:,} 字节 bytes，均已核对 all verified）")


@ledger.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--skip-bad", is_flag=True,
              help="导入正确的行、列出有误的行 / import the good rows and list the bad ones (default: all or nothing).")
@CAMPAIGN
@pass_settings
def ledger_import(settings: Settings, file: str, skip_bad: bool, campaign_ref: str | None) -> None:
    """导入台账 / Import a ledger.

    按附件格式的台账（XLSX，或 UTF-8/GB18030 编码的 CSV）登记或更新整顿对象，默认全部成功或全部不导入。

    Registers or updates cases from a ledger in the attachment's format (XLSX, or CSV in
    UTF-8/GB18030); all or nothing by default."""
    from engine.ops.ledger import parse_ledger
    from engine.ops.tabular import read_table
    from engine.services.admin import may_import

    may_import(settings.store, settings.caller, "导入台账", "import a ledger")  # before the file is read
    fields, rows, problems = parse_ledger(read_table(file))
    result = shown(reports.import_ledger_rows(settings.store, settings.caller, file, rows, problems,
                                              skip_bad=skip_bad, campaign_ref=campaign_ref))
    say(f"已导入 / imported {file}（{fields.get('填表单位', '')}）：新登记 opened {len(result.opened)}，"
               f"更新 updated {len(result.updated)}，未变 unchanged {len(result.unchanged)}")
    for line in result.skipped:
        say(f"  跳过 skipped: {line}", err=True)


@click.command(cls=Command)
@CAMPAIGN
@AS_JSON
@pass_settings
def quota(settings: Settings, campaign_ref: str | None, as_json: bool) -> None:
    """后进比例 / The backward ratio of each township and of the county.

    各乡镇（街道）和全县的后进比例，与工作流规定的目标比例（如 5%±2%）对照。

    Each township's and the county's backward ratio against the workflow's target: above it,
    and below it too when the rule says ``below: warn`` (a township with no case included)."""
    found = shown(reports.quota(settings.store, settings.caller, campaign_ref))
    params = found.params
    data = [{"code": r.code, "name": r.name, "organizations": r.organizations, "screening": r.screening,
             "confirmed": r.confirmed, "ratio": r.verdict.figures["ratio"], "outcome": r.verdict.outcome.value,
             "breach": r.breach, "reason_zh": r.verdict.reason_zh, "reason_en": r.verdict.reason_en}
            for r in found.rows]
    if as_json:
        emit_json({"target": params.target, "tolerance": params.tolerance, "mode": params.mode,
                   "below": params.below, "rows": data})
        return
    console().print(table(f"后进比例 / backward ratio — 目标 target {params.target:.0%}±{params.tolerance:.0%}，"
                          f"{CHECKED[params.below]}",
                          ["编码", "乡镇（街道）", "基层党组织", "排查中", "已确定", "比例", "对照目标 / vs target"],
                          [[d["code"], d["name"], d["organizations"], d["screening"], d["confirmed"],
                            f"{d['ratio']:.1%}", breach_mark(d)] for d in data]))


CHECKED = {"ignore": "只查高于 / checked above only", "warn": "高于、低于都查 / checked above and below"}


def breach_mark(row: dict[str, Any]) -> str:
    """A quota row's breach, as the quota table and the report show it (empty when within)."""
    if row.get("breach") == "below":
        return "低于目标（提醒）/ below (warning)"
    if row.get("breach") == "above":
        return "高于目标（提醒）/ above (warning)" if row["outcome"] == "warn" else "高于目标（再确定将被阻止）/ above (further confirms blocked)"
    return ""


@click.command(cls=Command)
@click.option("--html", "html_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="把工作看板写成一个 HTML 页面 / write the dashboard as one self-contained HTML page (charts in SVG) to FILE.")
@AS_JSON
@CAMPAIGN
@pass_settings
def report(settings: Settings, html_path: str | None, as_json: bool, campaign_ref: str | None) -> None:
    """全县工作情况 / The county's picture.

    各阶段、各乡镇（街道）的整顿对象，后进比例，逾期和即将到期的，测评、抽查和整顿进度（终端表格、--json 或 --html FILE）。

    Cases by state and township, quota, overdue and upcoming, surveys, spot checks and
    progress over time (terminal tables, --json, or --html FILE)."""
    d = shown(reports.report(settings.store, settings.caller, campaign_ref))
    if html_path:
        from engine.reports.report_html import write_dashboard

        write_output(Path(html_path), lambda target: write_dashboard(d, target), atomic=False)
        # With --json too, standard output holds the JSON document alone.
        say(f"已生成工作看板 / dashboard written: {html_path}（{d['total']} 个整顿对象，截至 {d['now']}）", err=as_json)
        if not as_json:
            return
    if as_json:
        emit_json(d)
        return
    _print_report(d)


def _more(out, rows: int, what_zh: str, what_en: str) -> None:
    from engine.reports.dashboard import LISTED

    if rows > LISTED:
        out.print(f"（另有 {rows - LISTED} 个{what_zh}未列出，全部见 --json 或 --html / "
                  f"{rows - LISTED} more {what_en}: see --json or --html）")


def _print_report(d: dict[str, Any]) -> None:
    from engine.reports.dashboard import LISTED

    out = console()
    out.print(f"[bold]{esc(d['campaign']['title'])}工作情况[/bold]  {esc(d['campaign']['issuer'])}，截至 {d['now']}")
    out.print(f"整顿对象 {d['total']} 个，重点 {d['key_targets']} 个，逾期 {d['overdue']['count']} 个，"
              f"{d['upcoming']['window']} 天内到期 {d['upcoming']['count']} 个，重新整顿 {d['re_rectified']} 个")
    if d["unreached"]["count"]:  # never silent: who could not be reached, and how often
        missed = "、".join(f"{r['label']} {r['count']}" for r in d["unreached"]["roles"])
        out.print(f"[red]{d['unreached']['count']} 份通知无人可送达 / notices that reached nobody for some audience："
                  f"{esc(missed)}（rectify notices list --unreached）[/red]")
    if d.get("problems", {}).get("total"):
        p = d["problems"]
        out.print(f"问题清单 {p['total']} 项：未销号 {p['open']} 项（逾期 {p['overdue']} 项），已销号 {p['closed']} 项 / "
                  f"problems: {p['open']} open ({p['overdue']} overdue), {p['closed']} closed")
    out.print(table("各阶段 / by state", ["阶段", "数量"], [[s["label"], s["count"]] for s in d["states"]]))
    states = [s for s in d["states"] if s["count"]] or d["states"]
    # A province's database has thousands of townships: the terminal lists the first LISTED
    # (a county has a few dozen), --json and --html have them all.
    towns = [t for t in d["townships"] if t["total"]]
    out.print(table("各乡镇（街道）/ by township", ["乡镇（街道）", *[s["label"] for s in states], "合计"],
                    [[t["name"], *[t["counts"][s["state"]] or "" for s in states], t["total"]]
                     for t in towns[:LISTED]]))
    _more(out, len(towns), "乡镇（街道）", "townships")
    if d["quota"]:
        q = d["quota"]
        out.print(table(f"后进比例 / quota — 目标 {q['target']:.0%}±{q['tolerance']:.0%}，{CHECKED[q['below']]}",
                        ["乡镇（街道）", "基层党组织", "已确定", "比例", "对照目标 / vs target"],
                        [[r["name"], r["organizations"], r["confirmed"], f"{r['ratio']:.1%}", breach_mark(r)]
                         for r in [*q["rows"][:-1][:LISTED], q["rows"][-1]]]))
        _more(out, len(q["rows"]) - 1, "乡镇（街道）", "townships")
    for key, title, days in (("overdue", "逾期未完成 / overdue", "逾期天数"),
                             ("upcoming", f"{d['upcoming']['window']}天内到期 / due soon", "剩余天数")):
        listed = d[key]
        out.print(table(f"{title} ({listed['count']})", ["编号", "后进基层党组织", "阶段", "应完成", days, "责任人"],
                        [[r["ref"], r["organization"], r["state_label"], r["due"], r["days"],
                          "、".join(r["responsible"])] for r in listed["rows"]]))
    if d["duties"]["units"]:
        out.print(table("各乡镇（街道）报送情况 / what townships filed", ["乡镇（街道）", "按时报送", "逾期报送", "逾期未报", "待报送"],
                        [[u["unit"], u["done"], u["late"],
                          f"{u['missing']}" + (f"：{'、'.join(u['missing_items'])}" if u["missing_items"] else ""),
                          u["open"]] for u in d["duties"]["units"]]))
    sv = d["surveys"]
    if sv["rows"]:
        out.print(table(f"群众满意度测评 / surveys — 阈值 {sv['threshold']:.0%}，达标 {sv['passed']}，未达标 {sv['failed']}",
                        ["编号", "后进基层党组织", "轮次", "日期", "参评", "满意", "满意度", "结果"],
                        [[r["ref"], r["organization"], r["round"], r["at"], r["respondents"], r["satisfied"],
                          f"{r['ratio']:.1%}", "达标" if r["passed"] else "未达标"] for r in sv["rows"]]))
    if d["spot_checks"]:
        out.print(table("抽查抽签 / spot checks", ["#", "时间", "比例", "等待抽查", "抽中", "种子"],
                        [[s["id"], s["at"], f"{s['rate']:.0%}", s["population"],
                          "、".join(f"{c['ref']}（{c['state_label']}）" for c in s["selected"]) or "—", s["seed"]]
                         for s in d["spot_checks"]]))
    p = d["progress"]
    if p["dates"]:
        series = [s for s in p["series"] if any(s["values"])]
        step = max(1, len(p["dates"]) // 12)
        picks = sorted({*range(0, len(p["dates"]), step), len(p["dates"]) - 1})
        out.print(table("整顿进度 / progress", ["日期", *[s["label"] for s in series]],
                        [[p["dates"][i], *[s["values"][i] for s in series]] for i in picks]))


@click.command(cls=Command)
@click.option("--docx", "docx_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="另存为公文（.docx），便于打印或在 WPS 中编辑 / also write it as an official document (.docx) to FILE.")
@CAMPAIGN
@pass_settings
def bulletin(settings: Settings, docx_path: str | None, campaign_ref: str | None) -> None:
    """定期通报 / The periodic bulletin as it reads now.

    按工作流的模板生成当前的定期通报，不发送（定时的通报由 daemon 发出）。

    From the workflow's template; nothing is sent (the daemon issues the scheduled ones)."""
    rendered = shown(reports.bulletin(settings.store, settings.caller, campaign_ref))
    say(rendered.title)
    say("")
    say(rendered.body, nl=False)
    if docx_path:
        from notifiers.officialdoc import write_notice_docx

        write_output(Path(docx_path), lambda target: write_notice_docx(rendered.title, rendered.body, target),
                     atomic=False)
        say(f"已生成公文 / document written: {docx_path}", err=True)
